"""A deprecated operation keeps answering, and every answer says since when, until when,
and where to read about its replacement."""

from __future__ import annotations

from datetime import UTC, datetime

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from core.deprecation import deprecated


@deprecated(
    since=datetime(2027, 1, 1, tzinfo=UTC),
    sunset=datetime(2027, 7, 1, tzinfo=UTC),
    link="/api/redoc/#tag/shipments",
)
class RetiringApi(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()

    def get(self, request):
        return Response({"still": "working"})


def test_a_deprecated_operation_answers_with_deprecation_sunset_and_link():
    response = RetiringApi.as_view()(APIRequestFactory().get("/retiring"))

    assert response.status_code == 200
    assert response.data == {"still": "working"}
    assert response["Deprecation"] == "@1798761600"
    assert response["Sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert response["Link"] == '</api/redoc/#tag/shipments>; rel="deprecation"'
