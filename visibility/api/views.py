"""REST endpoints over the read models; every read goes through `visibility.selectors`."""

from __future__ import annotations

from django.http import Http404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import actor_from_request
from visibility import selectors
from visibility.api.serializers import ShipmentSerializer


class ShipmentDetailApi(APIView):
    def get(self, request: Request, shipment_id: str) -> Response:
        shipment = selectors.shipment_get(actor_from_request(request), shipment_id)
        if shipment is None:
            raise Http404
        return Response(ShipmentSerializer(shipment).data)
