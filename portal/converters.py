"""The URL converter for business identifiers in paths.

Identifiers come from upstream systems as any text ("PO/2026/17", "Ä 17"), so their routes
match "/" like Django's `path` converter. Unlike `path` (`.+`, which stops at a newline),
`identifier` builds a link to any stored id, even one stored before intake refused control
characters, so a list page never fails on `reverse`; resolving refuses control characters,
which intake refuses too (portal.middleware answers such paths 404 before any route). An
overlong id reaches its view, whose lookup does not find it: the API answers its JSON 404.
"""

from __future__ import annotations

import re

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class IdentifierConverter:
    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        if CONTROL_CHARACTERS.search(value):
            raise ValueError("not an identifier")
        return value

    def to_url(self, value: str) -> str:
        return value
