"""Tests share helpers through tests/helpers.py, tests/factories.py and conftest fixtures,
never by importing a test module or a conftest (pytest loads those itself; importing them
runs them twice and ties one module's tests to another's internals)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def _is_test_module(dotted: str) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def imported_test_modules(path: Path) -> list[str]:
    """What `path` imports that is a test module or a conftest, as written."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.module and _is_test_module(node.module):
                found.append(module)
            else:  # `from tests.integration import test_processing`, `from . import conftest`
                found += [
                    f"{module}.{alias.name}" for alias in node.names if _is_test_module(alias.name)
                ]
    return found


def test_no_module_under_tests_imports_a_test_module_or_a_conftest():
    offenders = {
        str(path.relative_to(TESTS)): imports
        for path in sorted(TESTS.rglob("*.py"))
        if (imports := imported_test_modules(path))
    }
    assert offenders == {}


def test_the_check_sees_every_form_of_import(tmp_path):
    module = tmp_path / "test_sample.py"
    module.write_text(
        "import tests.integration.test_processing\n"
        "from tests.conftest import PASSWORD\n"
        "from tests.integration import test_replay\n"
        "from .test_intake import post\n"
        "from tests.helpers import read_jsonl\n"
        "from tests import factories\n"
    )

    assert imported_test_modules(module) == [
        "tests.integration.test_processing",
        "tests.conftest",
        "tests.integration.test_replay",
        ".test_intake",
    ]
