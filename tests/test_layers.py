"""Imports point one way: core <- accounts <- visibility <- integration <- portal.

A module may import from its own layer and the layers below it, never from one above
(docs/ARCHITECTURE.md, "Who may import whom"). Services never import Celery tasks: they
enqueue by name (`<app>/enqueue.py`), and tasks import services. Migrations are left out:
they record history, not the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["core", "accounts", "visibility", "integration", "portal"]
RANK = {layer: rank for rank, layer in enumerate(LAYERS)}


def _modules() -> list[Path]:
    return sorted(
        path
        for layer in LAYERS
        for path in (ROOT / layer).rglob("*.py")
        if "migrations" not in path.parts
    )


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every absolute import in `path`, nested ones included."""
    imported = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            imported += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported += [(node.lineno, node.module)]
            imported += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return imported


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_the_walk_sees_every_layer():
    assert {_name(path).split(".")[0] for path in _modules()} == set(LAYERS)


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_imports_go_down_the_layers(path: Path):
    layer = _name(path).split(".")[0]
    upward = [
        f"line {line}: {name}"
        for line, name in _imported(path)
        if RANK.get(name.split(".")[0], -1) > RANK[layer]
    ]
    assert not upward, f"{_name(path)} ({layer}) imports from a layer above it: {upward}"


@pytest.mark.parametrize(
    "path", [path for path in _modules() if "services" in path.parts], ids=_name
)
def test_services_do_not_import_tasks(path: Path):
    tasks = [
        f"line {line}: {name}"
        for line, name in _imported(path)
        if name.split(".")[1:2] == ["tasks"] and name.split(".")[0] in RANK
    ]
    assert not tasks, f"{_name(path)} imports Celery tasks; enqueue by name instead: {tasks}"


def test_services_enqueue_names_that_tasks_are_registered_under():
    from integration import enqueue as integration_enqueue
    from integration import tasks as integration_tasks
    from visibility import enqueue as visibility_enqueue
    from visibility import tasks as visibility_tasks

    assert integration_tasks.process_inbox.name == integration_enqueue.PROCESS_INBOX
    assert integration_tasks.sweep_inbox.name == integration_enqueue.SWEEP_INBOX
    assert visibility_tasks.deliver_notifications.name == visibility_enqueue.DELIVER_NOTIFICATIONS
