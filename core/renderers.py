"""A DRF renderer writing JSON with orjson: the same text as DRF's `JSONRenderer`
(UTF-8, compact, a UTC datetime ending in "Z"), ~10x faster for the large pages (a REST
list page of 100 with `expand`: ~280 KB; docs/BENCHMARKS.md). What orjson does not know
(Decimal, lazy strings, ...) goes through DRF's own encoder, as with `JSONRenderer`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_DRF_ENCODER = JSONEncoder()


class FastJSONRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_DRF_ENCODER.default, option=orjson.OPT_UTC_Z)
