"""axe-core in the page (axe-playwright-python ships axe-core: nothing is fetched).

`serious_violations(page)` runs every axe rule on the page as it is and returns the
violations of impact serious or critical, each as "rule: help (n nodes: selectors)";
`assert not serious_violations(page)` is the check every page gets."""

from __future__ import annotations

from functools import cache
from typing import Any

SERIOUS = {"serious", "critical"}


@cache
def _axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def violations(page: Any) -> list[dict[str, Any]]:
    return list(_axe().run(page).response["violations"])


def serious_violations(page: Any) -> list[str]:
    return [
        f"{found['id']}: {found['help']} "
        f"({len(found['nodes'])} nodes: "
        f"{', '.join(' '.join(node['target']) for node in found['nodes'][:3])})"
        for found in violations(page)
        if found.get("impact") in SERIOUS
    ]
