"""`POST /api/v1/events`: the contract's intake endpoint. Thin: parse, authenticate, call
the intake service, answer. Failures are problems (core/problems.py) with the statuses
the contract names: 400 malformed JSON or body, 401 missing or wrong source token, 413
over 5 MB or over 1,000 events."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import source_from_request
from core import metrics
from core.api_schema import problem_responses
from core.logs import request_id
from core.problems import problem_response
from integration.contract import MAX_EVENT_ID_LENGTH
from integration.services.intake import (
    BatchTooLarge,
    EventResult,
    events_from_body,
    receive_events,
)
from visibility.event_types import EventType

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024


class JsonWhateverTheClientAccepts(BaseContentNegotiation):
    """Source systems get JSON whatever their `Accept` says (the contract's answer)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class EventErrorSerializer(serializers.Serializer):
    field = serializers.CharField()
    message = serializers.CharField()


class EventResultSerializer(serializers.Serializer):
    event_id = serializers.JSONField(help_text="The event's `event_id` as sent.")
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    # `errors` is also the name of Serializer's own property: the stubs see the clash.
    errors = EventErrorSerializer(many=True, required=False)  # type: ignore[assignment]


class IntakeAnswerSerializer(serializers.Serializer):
    results = EventResultSerializer(many=True, help_text="One per event, in request order.")


class ReceiveEventsApi(APIView):
    # The source token is not a partner token: no DRF authentication, throttle or CSRF.
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    content_negotiation_class = JsonWhateverTheClientAccepts

    @extend_schema(
        operation_id="receive_events",
        summary="Send events (source systems)",
        description=(
            'One event object, or `{"events": [...]}` with at most 1,000 events '
            "(docs/EVENTS.md). Each event is judged on its own: `accepted` (durably "
            "stored), `duplicate` (same source and event_id seen before), or `rejected` "
            "with its errors. Authenticated by a source system's token."
        ),
        tags=["intake"],
        auth=[{"sourceToken": []}],  # type: ignore[list-item]  # security requirements
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            202: OpenApiResponse(
                IntakeAnswerSerializer,
                description="One result per event.",
                examples=[
                    OpenApiExample(
                        "a batch",
                        value={
                            "results": [
                                {"event_id": "tms-000017", "status": "accepted"},
                                {"event_id": "tms-000018", "status": "duplicate"},
                                {
                                    "event_id": "tms-000019",
                                    "status": "rejected",
                                    "errors": [
                                        {
                                            "field": "data.milestone",
                                            "message": "unknown milestone 'teleported'",
                                        }
                                    ],
                                },
                            ]
                        },
                    )
                ],
            ),
            **problem_responses(400, 401, 413, 503),
        },
    )
    def post(self, request: Request) -> HttpResponse:
        source = source_from_request(request._request)
        if source is None:
            return problem_response(
                401,
                slug="not-authenticated",
                detail="Missing or invalid source token.",
                headers={"WWW-Authenticate": 'Bearer realm="events"'},
            )
        try:
            declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared_length = 0
        too_large = problem_response(
            413, slug="payload-too-large", detail="The body is larger than 5 MB."
        )
        if declared_length > MAX_BODY_BYTES:
            return too_large
        raw = request._request.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return too_large
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as error:
            return problem_response(400, slug="malformed-json", detail=f"Malformed JSON: {error}")
        except RecursionError:
            # Python's parser stops near 1,000 levels; the contract allows 32.
            return problem_response(
                400,
                slug="malformed-json",
                detail="Malformed JSON: nested too deeply (the contract allows 32 levels).",
            )
        try:
            events = events_from_body(body)
        except BatchTooLarge as error:
            return problem_response(413, slug="payload-too-large", detail=str(error))
        except ValueError as error:
            return problem_response(400, slug="invalid-request", detail=str(error))
        results = receive_events(
            source=source.key, events=events, request_id=request_id(request._request)
        )
        _record(request._request, source.key, events, results)
        return Response({"results": [result.as_json() for result in results]}, status=202)


def _event_type_label(event: Any) -> str:
    """The event's type as a metric label: one of the contract's, else `other` (what a
    sender writes must not grow the label set)."""
    event_type = event.get("event_type") if isinstance(event, dict) else None
    return event_type if event_type in EventType.values else "other"


def _record(
    request: HttpRequest, source: str, events: list[Any], results: list[EventResult]
) -> None:
    """Count the request's events by type and outcome, and log which it accepted under
    the request's correlation id (docs/OPERATIONS.md, "Follow one event")."""
    outcomes: Counter[tuple[str, str]] = Counter(
        (_event_type_label(event), result.status)
        for event, result in zip(events, results, strict=True)
    )
    for (event_type, outcome), count in outcomes.items():
        metrics.events_received.labels(source, event_type, outcome).inc(count)
    by_status: dict[str, list[str]] = {"accepted": [], "duplicate": [], "rejected": []}
    for result in results:
        # A rejected event's id may be anything it sent: cut short, as text.
        by_status[result.status].append(str(result.event_id)[:MAX_EVENT_ID_LENGTH])
    logger.info(
        "events received",
        extra={
            "request_id": request_id(request),
            "source": source,
            "accepted": by_status["accepted"],
            "duplicate": by_status["duplicate"],
            "rejected": by_status["rejected"],
        },
    )


receive_events_view = ReceiveEventsApi.as_view()
