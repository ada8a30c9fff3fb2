"""`Last-Modified` for API answers (the weak `ETag` and the `304`s are
portal.middleware.ApiResponseMiddleware's): a detail's is its object's `updated_at`, the
server time of the last change its detail shows, so `If-Modified-Since` can answer `304`;
a list page's is the newest `updated_at` among its rows, given for information only
(a row that left the page changes the page without changing that time: lists revalidate
with the ETag)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.http import HttpResponseBase
from django.utils.http import http_date

# Set on a response whose Last-Modified may answer If-Modified-Since.
EXACT_ATTRIBUTE = "last_modified_is_exact"


def newest(moments: Iterable[datetime | None]) -> datetime | None:
    return max((moment for moment in moments if moment is not None), default=None)


def with_last_modified(response: Any, moment: datetime | None, *, exact: bool = True):
    """`response` with `Last-Modified: moment` (nothing when `moment` is None)."""
    if moment is not None and isinstance(response, HttpResponseBase):
        response["Last-Modified"] = http_date(moment.timestamp())
        setattr(response, EXACT_ATTRIBUTE, exact)
    return response


class PageLastModifiedMixin:
    """For a paginated list view: `Last-Modified` from the rows of the page it answers."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(  # type: ignore[misc]
            request, response, *args, **kwargs
        )
        paginator = getattr(self, "_paginator", None)
        rows = getattr(paginator, "page", None)
        if response.status_code == 200 and rows:
            moment = newest(
                row.get("updated_at") if isinstance(row, dict) else getattr(row, "updated_at", None)
                for row in rows
            )
            with_last_modified(response, moment, exact=False)
        return response
