"""axe-core (shipped inside axe-playwright-python, never fetched) over the console,
platform and settings pages: the serious and critical violations of the open page."""

from __future__ import annotations

from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"
_axe = Axe()


def serious_violations(page) -> list[str]:
    """Each serious or critical axe violation as `rule: help (n nodes)`."""
    response = _axe.run(page).response
    return [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} nodes)"
        for violation in response["violations"]
        if violation.get("impact") in ("serious", "critical")
    ]


def screenshot(page, name: str) -> Path:
    """Save the whole page as test-results/<name>.png (a test artifact, not committed)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
