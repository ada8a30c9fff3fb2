"""`GET /api/v1/changes`: the change feed for the calling actor (docs/API.md)."""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.authentication import actor_from_request
from accounts.scoping import Actor
from core.problems import problem_response
from visibility import changes
from visibility.api import schema
from visibility.api.feed_shapes import FEED_SHAPES
from visibility.api.filters import selector_arguments


class PositionField(serializers.Field):
    """A position of the feed (a `next` or a `position` it gave), or `now`."""

    def to_representation(self, value: int) -> str:
        return str(value)

    def to_internal_value(self, data: Any) -> int:
        text = str(serializers.CharField().run_validation(data))
        if text == changes.NOW:
            return changes.latest_position()
        if (
            not (text.isascii() and text.isdigit() and len(text) <= 19)
            or int(text) > changes.POSITION_MAX
        ):
            raise serializers.ValidationError(
                "Not a position: give the `next` of a previous page, a `position`, or `now`."
            )
        return int(text)


class ChangesQuery(serializers.Serializer):
    """Arguments of `changes.change_page`."""

    after = PositionField(required=False, default=0)
    limit = serializers.IntegerField(
        required=False, default=changes.DEFAULT_PAGE, min_value=1, max_value=changes.MAX_PAGE
    )


# The feed's objects are written as JSON by PostgreSQL in the shapes of the REST details
# (`visibility.feed_objects`, shapes from the serializers: `feed_shapes.FEED_SHAPES`);
# tests/visibility/test_change_feed_objects.py compares them object for object.
_TOMBSTONES = {True: b'{"deleted":true}', False: b'{"visible":false}'}


def read_page(actor: Actor, *, after: int, limit: int) -> changes.ChangePage:
    """A page of the feed with each object in its REST detail's shape."""
    return changes.change_page(actor, after=after, limit=limit, shapes=FEED_SHAPES)


def object_bytes(entry: changes.ChangeEntry) -> bytes:
    """The object of a change as the actor sees it now, or its tombstone, as JSON."""
    if entry.current is None:
        return _TOMBSTONES[entry.deleted]
    return entry.current.encode()


def current_json(entry: changes.ChangeEntry) -> dict:
    """`object_bytes` as a value (GraphQL's JSON scalar)."""
    parsed: dict = orjson.loads(object_bytes(entry))
    return parsed


def page_bytes(page: changes.ChangePage) -> bytes:
    """The page as the API answers it: the entries' heads written by orjson, each object's
    text spliced in as PostgreSQL wrote it."""
    entries = [
        orjson.dumps({"kind": entry.kind, "id": entry.key, "position": entry.position})[:-1]
        + b',"object":'
        + object_bytes(entry)
        + b"}"
        for entry in page.entries
    ]
    return b'{"changes":[' + b",".join(entries) + b'],"next":' + str(page.next).encode() + b"}"


@schema.CHANGE_FEED
class ChangeFeedApi(APIView):
    def get(self, request: Request) -> HttpResponse:
        actor = actor_from_request(request)
        arguments = selector_arguments(ChangesQuery, request.query_params)
        try:
            page = read_page(actor, **arguments)
        except changes.CursorExpired as expired:
            return problem_response(
                410,
                title="Gone",
                slug="change-cursor-expired",
                detail=(
                    f"Changes up to position {expired.pruned_through} were pruned (kept"
                    f" {settings.CHANGE_RETENTION_DAYS:g} days): your cursor may have missed"
                    " some. Resync: take `after=now`, make a new full copy, then follow the"
                    " feed from that position."
                ),
                pruned_through=expired.pruned_through,
            )
        # The bytes straight to the response: a 1,000-entry page is ~2.5 MB of JSON.
        return HttpResponse(page_bytes(page), content_type="application/json")
