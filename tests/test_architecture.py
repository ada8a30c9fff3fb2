"""Guards for the architecture (STYLE.md: one door per concern).

The request layer (views, serializers, GraphQL types and resolvers, API modules and the
helpers they share) never builds or runs its own queries: tenant data is read through
selectors, which take the actor and scope by tenant. The guard walks each module's syntax
tree (not its lines, so a string or comment does not count and a call split over several
lines does) and reports:

- `objects`: any attribute named `objects` (`Shipment.objects`, `X.through.objects`): a
  manager reached from the request layer.
- `queryset method`: a call of an attribute named like a queryset-building method
  (QUERYSET_BUILDING: filter, exclude, annotate, extra, raw, order_by, ...), whatever its
  receiver. These names mean nothing else in this codebase (the builtin `filter` is a
  plain name, not an attribute), so the rule needs no type information.
- `queryset read`: `get`, `first`, `exists`, ... (QUERYSET_READING) only when the receiver
  is known to be a queryset: a manager, a call of a selector annotated to return a
  `QuerySet`, a chain of queryset methods on either, or a local name bound to one of
  those or annotated `QuerySet`. So `request.GET.get`, `dict.get` and `request.META.get`
  pass, while `selectors.webhooks_of_tenant(t).get(id=...)` is reported.

A finding that is right where it is goes into ALLOWED with the reason; an entry that no
longer matches anything fails the test, so the list cannot go stale.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUEST_LAYER_GLOBS = (
    "portal/*views.py",
    "portal/access.py",
    "portal/forms.py",
    "portal/graphql/*.py",
    "visibility/access.py",
    "visibility/api/*.py",
    "integration/api/*.py",
    "accounts/*views.py",
    "accounts/api/*.py",
)
SELECTOR_MODULES = ("visibility/selectors.py", "accounts/selectors.py", "integration/selectors.py")

QUERYSET_BUILDING = frozenset(
    {
        "filter",
        "exclude",
        "annotate",
        "alias",
        "extra",
        "raw",
        "order_by",
        "select_related",
        "prefetch_related",
        "only",
        "defer",
        "distinct",
        "aggregate",
        "select_for_update",
        "get_or_create",
        "update_or_create",
        "bulk_create",
        "bulk_update",
    }
)
QUERYSET_READING = frozenset(
    {"get", "first", "last", "latest", "earliest", "exists", "in_bulk", "count"}
)

# (path, enclosing function, what was reported) -> why it is right where it is.
ALLOWED: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    function: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}: {self.what}"


def queryset_selectors() -> frozenset[str]:
    """Names of the selector functions whose return annotation is a QuerySet."""
    names = set()
    for module in SELECTOR_MODULES:
        for node in ast.walk(ast.parse((ROOT / module).read_text())):
            if (
                isinstance(node, ast.FunctionDef)
                and node.returns is not None
                and ast.unparse(node.returns).startswith("QuerySet")
            ):
                names.add(node.name)
    return frozenset(names)


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


class _RequestLayerChecker(ast.NodeVisitor):
    def __init__(self, path: str, selectors: frozenset[str]) -> None:
        self.path = path
        self.selectors = selectors
        self.findings: list[Finding] = []
        self.scopes: list[tuple[str, set[str]]] = [("<module>", set())]
        self.classes: list[str] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    # Scopes: the enclosing function (for ALLOWED) and the local names bound to querysets.
    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        querysets = {
            argument.arg
            for argument in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
            if argument.annotation is not None
            and ast.unparse(argument.annotation).startswith("QuerySet")
        }
        self.scopes.append((".".join([*self.classes, node.name]), querysets))
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def is_queryset(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            return True
        if isinstance(node, ast.Name):
            return node.id in self.scopes[-1][1]
        if isinstance(node, ast.Subscript):
            return self.is_queryset(node.value)
        if isinstance(node, ast.Call):
            name = _called_name(node)
            if name in self.selectors:
                return True
            if isinstance(node.func, ast.Attribute) and (
                name in QUERYSET_BUILDING or name == "all"
            ):
                return self.is_queryset(node.func.value)
        return False

    def _bind(self, targets: list[ast.expr], value: ast.expr | None) -> None:
        if value is not None and self.is_queryset(value):
            for target in targets:
                if isinstance(target, ast.Name):
                    self.scopes[-1][1].add(target.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        self._bind(node.targets, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        if ast.unparse(node.annotation).startswith("QuerySet") and isinstance(
            node.target, ast.Name
        ):
            self.scopes[-1][1].add(node.target.id)
        self._bind([node.target], node.value)

    def report(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(self.path, node.lineno, self.scopes[-1][0], what))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "objects":
            self.report(node, f"objects: {ast.unparse(node)}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        # `X.objects.filter(...)` is reported once, as the manager it starts from.
        if receiver is not None and not (
            isinstance(receiver, ast.Attribute) and receiver.attr == "objects"
        ):
            name = node.func.attr
            if name in QUERYSET_BUILDING:
                self.report(node, f"queryset method: .{name}()")
            elif name in QUERYSET_READING and self.is_queryset(receiver):
                self.report(node, f"queryset read: .{name}()")
        self.generic_visit(node)


def check_source(source: str, path: str, selectors: frozenset[str] | None = None) -> list[Finding]:
    checker = _RequestLayerChecker(path, queryset_selectors() if selectors is None else selectors)
    checker.visit(ast.parse(source))
    return checker.findings


def request_layer() -> list[Path]:
    return sorted({path for pattern in REQUEST_LAYER_GLOBS for path in ROOT.glob(pattern)})


def findings_in_request_layer() -> list[Finding]:
    selectors = queryset_selectors()
    return [
        finding
        for path in request_layer()
        for finding in check_source(path.read_text(), str(path.relative_to(ROOT)), selectors)
    ]


def unexplained(
    findings: list[Finding], allowed: dict[tuple[str, str, str], str]
) -> tuple[list[str], set[tuple[str, str, str]]]:
    """The findings no entry of `allowed` explains, and the entries that explain nothing."""
    keys = {(finding.path, finding.function, finding.what) for finding in findings}
    offenders = [
        str(finding)
        for finding in findings
        if (finding.path, finding.function, finding.what) not in allowed
    ]
    return offenders, set(allowed) - keys


def test_the_request_layer_reads_only_through_selectors():
    offenders, stale = unexplained(findings_in_request_layer(), ALLOWED)

    assert len(request_layer()) >= 12
    assert offenders == []
    assert stale == set(), "ALLOWED names findings that no longer exist"


def test_every_allowed_finding_says_why():
    assert all(len(reason.split()) >= 3 for reason in ALLOWED.values())


PLANTED = """
from django.db.models import QuerySet
from visibility import selectors
from visibility.models import Shipment


def shipment_page(request, shipment_id):
    shipment = Shipment.objects.get(shipment_id=shipment_id)
    late = selectors.shipment_list(request.user).filter(
        delayed=True,
    )
    webhook = selectors.webhooks_of_tenant(1).get(id=request.POST["id"])
    hooks = selectors.webhooks_of_tenant(1)
    newest = hooks.order_by("-id")
    first = newest.first()
    annotated = selectors.shipment_get(request.user, shipment_id).history.annotate(n=1)
    return late, webhook, first, annotated


def rows(shipments: QuerySet):
    return shipments.exists()


def innocent(request, data: dict):
    text = "Shipment.objects.filter(id=1)"  # a string and a comment: Shipment.objects
    status = request.GET.get("status", "") or data.get("status") or request.META.get("X")
    numbers = list(filter(None, [1, 2]))
    count = [1, 2].count(1)
    return text, status, numbers, count
"""


def test_the_guard_reports_a_planted_violation_and_nothing_else():
    findings = check_source(
        PLANTED, "planted.py", frozenset({"shipment_list", "webhooks_of_tenant"})
    )

    assert [(finding.line, finding.function, finding.what) for finding in findings] == [
        (8, "shipment_page", "objects: Shipment.objects"),
        (9, "shipment_page", "queryset method: .filter()"),
        (12, "shipment_page", "queryset read: .get()"),
        (14, "shipment_page", "queryset method: .order_by()"),
        (15, "shipment_page", "queryset read: .first()"),
        (16, "shipment_page", "queryset method: .annotate()"),
        (21, "rows", "queryset read: .exists()"),
    ]


def test_the_guard_knows_which_selectors_return_querysets():
    selectors = queryset_selectors()

    assert {"shipment_list", "order_list", "webhooks_of_tenant", "api_tokens_of_tenant"} <= (
        selectors
    )
    assert "shipment_get" not in selectors and "search_references" not in selectors


def test_an_allowed_finding_passes_and_a_stale_entry_is_reported():
    findings = check_source(PLANTED, "planted.py", frozenset({"shipment_list"}))
    allowed = {
        ("planted.py", "rows", "queryset read: .exists()"): "a planted example, kept on purpose",
        ("planted.py", "gone", "queryset method: .filter()"): "a finding that went away",
    }

    offenders, stale = unexplained(findings, allowed)

    assert not any("in rows:" in offender for offender in offenders)
    assert any("in shipment_page:" in offender for offender in offenders)
    assert stale == {("planted.py", "gone", "queryset method: .filter()")}
