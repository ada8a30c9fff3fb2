"""`/api/v1/webhooks…`: a tenant's webhooks managed over the API (docs/API.md, "Webhooks").

Only a tenant admin's session or a partner token that lists the `webhooks` scope may
manage them, and only its own tenant's: another tenant's webhook or delivery answers 404.
Secrets are answered once, at creation and rotation. Errors are DRF exceptions, answered
as problem+json by the project's exception handler.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import actor_from_request
from accounts.models import ApiToken, Tenant, TokenScope
from accounts.scoping import token_is_usable
from accounts.selectors import tenant_admin_membership
from core.api_schema import problem_responses
from visibility import selectors
from visibility.models import (
    WEBHOOK_EVENT_OF_TRIGGER,
    Notification,
    Webhook,
    WebhookDelivery,
    WebhookEventType,
)
from visibility.services import subscriptions

NOT_ALLOWED = "Only tenant admins and API tokens with the `webhooks` scope manage webhooks."


def webhook_admin_tenant(request: Request) -> Tenant:
    """The tenant whose webhooks the caller manages; 403 for anyone else."""
    actor = actor_from_request(request)
    if isinstance(actor, ApiToken):
        if token_is_usable(actor) and TokenScope.WEBHOOKS in (actor.scopes or []):
            return actor.tenant
        raise PermissionDenied(NOT_ALLOWED)
    membership = tenant_admin_membership(actor) if actor is not None else None
    if membership is None:
        raise PermissionDenied(NOT_ALLOWED)
    return membership.tenant


def webhook_admin_tenant_id(request: Request) -> int:
    actor = actor_from_request(request)
    if (
        isinstance(actor, ApiToken)
        and token_is_usable(actor)
        and TokenScope.WEBHOOKS in (actor.scopes or [])
    ):
        return actor.tenant_id  # no need to load the tenant
    return webhook_admin_tenant(request).id


def _webhook_or_404(request: Request, webhook_id: int) -> Webhook:
    webhook = selectors.webhook_of_tenant(webhook_admin_tenant_id(request), webhook_id)
    if webhook is None:
        raise NotFound("No such webhook.")
    return webhook


def _as_drf_error(error: DjangoValidationError) -> ValidationError:
    if hasattr(error, "error_dict"):
        return ValidationError(error.message_dict)
    return ValidationError({"non_field_errors": error.messages})


class WebhookSerializer(serializers.ModelSerializer):
    failing = serializers.SerializerMethodField()

    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "active",
            "failing",
            "failing_since",
            "previous_secret_expires_at",
            "created_at",
        ]

    def get_failing(self, webhook: Webhook) -> bool:
        return webhook.failing_since is not None


def webhook_data(webhook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    data = dict(WebhookSerializer(webhook).data)
    if with_secret:
        data["secret"] = webhook.secret
    return data


class WebhookInput(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices),
        allow_empty=False,
        max_length=len(WebhookEventType.values),
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    active = serializers.BooleanField(required=False)


class RotationInput(serializers.Serializer):
    expire_previous_in_hours = serializers.IntegerField(
        min_value=0, max_value=168, required=False, default=24
    )


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "attempt",
            "attempted_at",
            "status_code",
            "duration_ms",
            "error",
            "next_attempt_at",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.SerializerMethodField()
    object_id = serializers.CharField(source="shipment_ref")
    attempts = AttemptSerializer(source="deliveries", many=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "event_id",
            "event_type",
            "object_id",
            "state",
            "created_at",
            "sent_at",
            "next_attempt_at",
            "last_error",
            "attempts",
        ]

    def get_event_type(self, delivery: Notification) -> str:
        return WEBHOOK_EVENT_OF_TRIGGER[delivery.trigger][0]


class WebhookWithSecretSerializer(WebhookSerializer):
    """Documentation only: the answer at creation and rotation, the one time the signing
    secret is shown."""

    secret = serializers.CharField()

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


READ_ERRORS = problem_responses(401, 403, 404, 429, 503)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 429, 503)


def _operation(summary: str, **description: Any) -> Any:
    return extend_schema(tags=["webhooks"], summary=summary, **description)


@extend_schema_view(
    get=_operation(
        "List the tenant's webhooks",
        operation_id="webhooks_list",
        responses={
            200: inline_serializer("WebhookList", {"results": WebhookSerializer(many=True)}),
            **READ_ERRORS,
        },
    ),
    post=_operation(
        "Register a webhook (the answer shows its secret, once)",
        request=WebhookInput,
        responses={201: WebhookWithSecretSerializer, **WRITE_ERRORS},
    ),
)
class WebhookListApi(APIView):
    def get(self, request: Request) -> Response:
        webhooks = selectors.webhooks_of_tenant(webhook_admin_tenant_id(request))
        return Response({"results": WebhookSerializer(webhooks, many=True).data})

    def post(self, request: Request) -> Response:
        tenant = webhook_admin_tenant(request)
        given = WebhookInput(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            webhook = subscriptions.webhook_create(
                tenant=tenant,
                url=given.validated_data["url"],
                event_types=given.validated_data["event_types"],
                description=given.validated_data["description"],
            )
        except DjangoValidationError as error:
            raise _as_drf_error(error) from None
        return Response(webhook_data(webhook, with_secret=True), status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=_operation("A webhook", responses={200: WebhookSerializer, **READ_ERRORS}),
    patch=_operation(
        "Change some of a webhook's settings",
        request=WebhookInput,
        responses={200: WebhookSerializer, **WRITE_ERRORS},
    ),
    put=_operation(
        "Replace a webhook's settings",
        request=WebhookInput,
        responses={200: WebhookSerializer, **WRITE_ERRORS},
    ),
    delete=_operation("Delete a webhook", responses={204: None, **READ_ERRORS}),
)
class WebhookDetailApi(APIView):
    def get(self, request: Request, webhook_id: int) -> Response:
        return Response(webhook_data(_webhook_or_404(request, webhook_id)))

    def patch(self, request: Request, webhook_id: int) -> Response:
        return self._update(request, webhook_id, partial=True)

    def put(self, request: Request, webhook_id: int) -> Response:
        return self._update(request, webhook_id, partial=False)

    def _update(self, request: Request, webhook_id: int, *, partial: bool) -> Response:
        webhook = _webhook_or_404(request, webhook_id)
        given = WebhookInput(data=request.data, partial=partial)
        given.is_valid(raise_exception=True)
        changes = given.validated_data
        try:
            subscriptions.webhook_update(
                webhook=webhook,
                url=changes.get("url"),
                event_types=changes.get("event_types"),
                description=changes.get("description") if "description" in request.data else None,
                active=changes.get("active"),
            )
        except DjangoValidationError as error:
            raise _as_drf_error(error) from None
        return Response(webhook_data(webhook))

    def delete(self, request: Request, webhook_id: int) -> Response:
        subscriptions.webhook_delete(webhook=_webhook_or_404(request, webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    post=_operation(
        "Rotate the signing secret (the previous one keeps signing for a while)",
        request=RotationInput,
        responses={200: WebhookWithSecretSerializer, **WRITE_ERRORS},
    )
)
class WebhookRotateSecretApi(APIView):
    def post(self, request: Request, webhook_id: int) -> Response:
        webhook = _webhook_or_404(request, webhook_id)
        given = RotationInput(data=request.data)
        given.is_valid(raise_exception=True)
        webhook = subscriptions.webhook_rotate_secret(
            webhook=webhook,
            now=timezone.now(),
            previous_valid_for=timedelta(hours=given.validated_data["expire_previous_in_hours"]),
        )
        return Response(webhook_data(webhook, with_secret=True))


@extend_schema_view(
    post=_operation(
        "Send a webhook.ping event now",
        request=None,
        responses={
            200: inline_serializer(
                "WebhookPing", {"ok": serializers.BooleanField(), "delivery": DeliverySerializer()}
            ),
            **WRITE_ERRORS,
        },
    )
)
class WebhookPingApi(APIView):
    def post(self, request: Request, webhook_id: int) -> Response:
        webhook = _webhook_or_404(request, webhook_id)
        try:
            attempt = subscriptions.webhook_ping(webhook=webhook, now=timezone.now())
        except DjangoValidationError as error:
            raise _as_drf_error(error) from None
        if attempt is None:
            raise ValidationError({"non_field_errors": ["the ping could not be sent"]})
        delivery = selectors.webhook_delivery_of_tenant(webhook.tenant_id, attempt.notification_id)
        return Response(
            {
                "ok": attempt.status_code is not None and not attempt.error,
                "delivery": DeliverySerializer(delivery).data,
            }
        )


class DeliveryCursor(CursorPagination):
    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@extend_schema_view(
    get=_operation(
        "A webhook's delivery log, newest first",
        responses={200: DeliverySerializer(many=True), **WRITE_ERRORS},
    )
)
class WebhookDeliveryListApi(ListAPIView):
    serializer_class = DeliverySerializer
    pagination_class = DeliveryCursor
    filter_backends = ()

    def get_queryset(self):
        return selectors.deliveries_of_webhook(
            _webhook_or_404(self.request, self.kwargs["webhook_id"])
        )


@extend_schema_view(
    post=_operation(
        "Send a delivery again",
        request=None,
        responses={202: DeliverySerializer, **READ_ERRORS},
    )
)
class WebhookRedeliverApi(APIView):
    def post(self, request: Request, delivery_id: int) -> Response:
        tenant_id = webhook_admin_tenant_id(request)
        delivery = selectors.webhook_delivery_of_tenant(tenant_id, delivery_id)
        if delivery is None:
            raise NotFound("No such webhook delivery.")
        subscriptions.webhook_redeliver(notification=delivery)
        delivery = selectors.webhook_delivery_of_tenant(tenant_id, delivery_id)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
