"""Guards for the architecture (STYLE.md: one door per concern).

Views, serializers, GraphQL resolvers and API modules never build querysets: tenant
data is read through selectors, which take the actor and scope by tenant.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUEST_LAYER = [
    *ROOT.glob("portal/*views.py"),
    *ROOT.glob("portal/graphql/*.py"),
    *ROOT.glob("visibility/api/*.py"),
    *ROOT.glob("integration/api/*.py"),
]
QUERYSET_BUILDING = re.compile(r"\b[A-Z]\w*\.objects\b")


def test_the_request_layer_reads_only_through_selectors():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in REQUEST_LAYER
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if QUERYSET_BUILDING.search(line)
    ]
    assert len(REQUEST_LAYER) >= 8
    assert offenders == []
