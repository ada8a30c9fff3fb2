"""`POST /api/v1/events`: the contract's intake endpoint. Thin: parse, authenticate, call
the intake service, answer."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.authentication import source_from_request
from integration.services.intake import BatchTooLarge, events_from_body, receive_events

MAX_BODY_BYTES = 5 * 1024 * 1024


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@csrf_exempt
@require_POST
def receive_events_view(request: HttpRequest) -> JsonResponse:
    source = source_from_request(request)
    if source is None:
        return _error(
            401, "missing or invalid source token", **{"WWW-Authenticate": 'Bearer realm="events"'}
        )
    try:
        declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared_length = 0
    if declared_length > MAX_BODY_BYTES:
        return _error(413, "the body is larger than 5 MB")
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return _error(413, "the body is larger than 5 MB")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        return _error(400, f"malformed JSON: {error}")
    except RecursionError:
        # Python's parser stops near 1,000 levels; the contract allows 32.
        return _error(400, "malformed JSON: nested too deeply (the contract allows 32 levels)")
    try:
        events = events_from_body(body)
    except BatchTooLarge as error:
        return _error(413, str(error))
    except ValueError as error:
        return _error(400, str(error))
    results = receive_events(source=source.key, events=events)
    return JsonResponse({"results": [result.as_json() for result in results]}, status=202)
