"""`collectstatic` with the production storage (whitenoise's compressed manifest) succeeds:
it refuses a stylesheet or script that references a missing file (a vendored
`sourceMappingURL` without its map broke `make demo` once)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_collectstatic_with_the_manifest_storage_succeeds(tmp_path: Path):
    environment = {
        **os.environ,
        "STATIC_MANIFEST": "1",
        "STATIC_ROOT": str(tmp_path / "static"),
        "DEBUG": "0",
        "SECRET_KEY": "collectstatic-test-key-not-a-secret-0123456789abcdef",
    }
    finished = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()
