"""Print the read models of DATABASE_URL's database as canonical JSON (fault tests compare
a database of their own with a clean projection in the test database).

    DATABASE_URL=... python -m tests.read_model_dump
"""

from __future__ import annotations

if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()

    from tests.helpers import read_model_json

    print(read_model_json())
