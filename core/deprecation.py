"""Retiring part of the API (docs/API.md, "Deprecation"): a deprecated operation keeps
working and says so on every answer, with `Deprecation` (RFC 9745: since when),
`Sunset` (RFC 8594: when it may stop) and a `Link` to what replaces it; its OpenAPI
operation is marked `deprecated`.

    @deprecated(since=datetime(2027, 1, 1, tzinfo=UTC), sunset=datetime(2027, 7, 1, tzinfo=UTC),
                link="/api/redoc/#tag/shipments")
    class OldShipmentListApi(ListAPIView): ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.utils.http import http_date
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

View = TypeVar("View", bound=type[APIView])


@dataclass(frozen=True)
class DeprecationNotice:
    since: datetime
    sunset: datetime
    link: str

    def headers(self) -> dict[str, str]:
        return {
            "Deprecation": f"@{int(self.since.timestamp())}",
            "Sunset": http_date(self.sunset.timestamp()),
            "Link": f'<{self.link}>; rel="deprecation"',
        }


def deprecated(*, since: datetime, sunset: datetime, link: str) -> Callable[[View], View]:
    """A class decorator for a DRF view: every answer carries the notice's headers."""
    notice = DeprecationNotice(since=since, sunset=sunset, link=link)

    def decorate(view_class: View) -> View:
        finalize = view_class.finalize_response

        def finalize_response(self, request, response, *args, **kwargs):
            response = finalize(self, request, response, *args, **kwargs)
            for name, value in notice.headers().items():
                response[name] = value
            return response

        view_class.finalize_response = finalize_response  # type: ignore[method-assign]
        return extend_schema(deprecated=True)(view_class)

    return decorate
