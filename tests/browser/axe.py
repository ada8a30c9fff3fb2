"""axe-core in the page (axe-playwright-python ships axe-core: nothing is fetched).

`serious_violations(page)` runs every axe rule on the page as it is and returns the
violations of impact serious or critical, each as "rule: help (n nodes: selectors)";
`assert not serious_violations(page)` is the check every page gets."""

from __future__ import annotations

from typing import Any

SERIOUS = {"serious", "critical"}


def violations(page: Any) -> list[dict[str, Any]]:
    """axe's violations on the page as it is. axe-core (570 kB of script) is evaluated once
    per document: a page checked at two widths is not sent it twice."""
    from axe_playwright_python.base import AXE_SCRIPT

    if not page.evaluate("typeof window.axe === 'object' && typeof window.axe.run === 'function'"):
        page.evaluate(AXE_SCRIPT)
    return list(page.evaluate("axe.run({resultTypes: ['violations']})")["violations"])


def serious_violations(page: Any) -> list[str]:
    return [
        f"{found['id']}: {found['help']} "
        f"({len(found['nodes'])} nodes: "
        f"{', '.join(' '.join(node['target']) for node in found['nodes'][:3])})"
        for found in violations(page)
        if found.get("impact") in SERIOUS
    ]
