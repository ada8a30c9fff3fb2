"""DRF answers errors as JSON; a database outage is a 503 with Retry-After, not a 500."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from portal.middleware import RETRY_AFTER_SECONDS


def json_exception_handler(exception, context):
    if isinstance(exception, OperationalError | InterfaceError):
        return Response(
            {"error": "the service is temporarily unavailable; retry later"},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return exception_handler(exception, context)
