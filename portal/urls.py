from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView

from accounts import second_factor_views
from accounts.password_reset import NeutralPasswordResetForm
from accounts.signin import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm
from integration.api.health import IntegrationHealthApi
from integration.api.views import receive_events_view
from portal import (
    admin_views,
    console_views,
    dashboard_views,
    member_views,
    metrics_views,
    platform_views,
    profile_views,
    settings_views,
    views,
)
from portal.api_docs import ApiRedocView, ApiSwaggerView, problem_type_page
from portal.api_errors import api_not_found
from portal.converters import IdentifierConverter
from portal.exception_views import exception_detail_page, exception_queue_page
from portal.graphql.schema import schema
from portal.graphql.views import PortalGraphQLView
from visibility.api.changes import ChangeFeedApi
from visibility.api.documents import DocumentDownloadApi, DocumentListApi
from visibility.api.views import (
    ExceptionListApi,
    InvoiceDetailApi,
    InvoiceListApi,
    OrderDetailApi,
    OrderListApi,
    SearchApi,
    ShipmentChargesApi,
    ShipmentDetailApi,
    ShipmentEtaHistoryApi,
    ShipmentListApi,
    ShipmentMilestonesApi,
    ShipmentStopsApi,
)
from visibility.api.webhooks import (
    WebhookDeliveryListApi,
    WebhookDetailApi,
    WebhookListApi,
    WebhookPingApi,
    WebhookRedeliverApi,
    WebhookRotateSecretApi,
)

admin.site.login_form = ThrottledAdminAuthenticationForm

# Business identifiers come from upstream systems as any text ("PO/2026/17"): their routes
# take `identifier`, which also matches "/" (portal/converters.py).
register_converter(IdentifierConverter, "identifier")

handler403 = "portal.error_views.permission_denied"
handler404 = "portal.error_views.page_not_found"
handler500 = "portal.error_views.server_error"

urlpatterns = [
    path("", dashboard_views.home, name="home"),
    path(
        "login/",
        profile_views.PortalLoginView.as_view(
            redirect_authenticated_user=True, authentication_form=ThrottledAuthenticationForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", profile_views.profile, name="profile"),
    path("profile/time-zone", profile_views.profile_time_zone, name="profile-time-zone"),
    # Second factor (accounts/second_factor.py)
    path("account/second-factor/", second_factor_views.second_factor_page, name="second-factor"),
    path(
        "account/second-factor/verify/",
        second_factor_views.second_factor_verify_page,
        name="second-factor-verify",
    ),
    # Password reset by email: neutral and rate-limited (accounts/password_reset.py).
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            form_class=NeutralPasswordResetForm,
            email_template_name="registration/password_reset_email.txt",
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            extra_context={"timeout_hours": settings.PASSWORD_RESET_TIMEOUT // 3600}
        ),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("shipments/", views.shipment_list, name="shipment-list"),
    path("shipments/views/", views.saved_view_create, name="saved-view-create"),
    path("shipments/views/delete", views.saved_view_delete, name="saved-view-delete"),
    path("shipments/<identifier:shipment_id>/", views.shipment_detail, name="shipment-detail"),
    path("search/", views.search, name="search"),
    path("orders/<identifier:order_number>/", views.order_detail, name="order-detail"),
    path("settings/", admin_views.settings_home, name="settings"),
    path(
        "settings/notifications/",
        settings_views.notification_settings,
        name="notification-settings",
    ),
    path("settings/webhooks/", settings_views.webhook_settings, name="webhook-settings"),
    path("settings/tokens/", admin_views.api_tokens, name="api-token-settings"),
    path("settings/audit/", admin_views.audit_log, name="audit-log"),
    # Members and invitations
    path("settings/members/", member_views.member_settings, name="member-settings"),
    path("settings/members/<int:membership_id>/", member_views.member_edit, name="member-edit"),
    path("invitations/<str:token>/", member_views.invitation_accept_page, name="invitation-accept"),
    path(
        "documents/<identifier:document_id>/download",
        views.document_download,
        name="document-download",
    ),
    path("api/v1/documents", DocumentListApi.as_view(), name="api-document-list"),
    path(
        "api/v1/documents/<identifier:document_id>",
        DocumentDownloadApi.as_view(),
        name="api-document-download",
    ),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_views.metrics, name="metrics"),
    path("api/v1/events", receive_events_view, name="api-events"),
    path("api/v1/shipments", ShipmentListApi.as_view(), name="api-shipment-list"),
    path("api/v1/exceptions", ExceptionListApi.as_view(), name="api-exception-list"),
    path(
        "api/v1/orders/<identifier:order_number>", OrderDetailApi.as_view(), name="api-order-detail"
    ),
    # A shipment's parts come before its detail: identifiers may contain "/", so the
    # detail's pattern would also match "<id>/stops" (docs/API.md).
    path(
        "api/v1/shipments/<identifier:shipment_id>/milestones",
        ShipmentMilestonesApi.as_view(),
        name="api-shipment-milestones",
    ),
    path(
        "api/v1/shipments/<identifier:shipment_id>/eta-history",
        ShipmentEtaHistoryApi.as_view(),
        name="api-shipment-eta-history",
    ),
    path(
        "api/v1/shipments/<identifier:shipment_id>/stops",
        ShipmentStopsApi.as_view(),
        name="api-shipment-stops",
    ),
    path(
        "api/v1/shipments/<identifier:shipment_id>/charges",
        ShipmentChargesApi.as_view(),
        name="api-shipment-charges",
    ),
    path(
        "api/v1/shipments/<identifier:shipment_id>",
        ShipmentDetailApi.as_view(),
        name="api-shipment-detail",
    ),
    path(
        "api/v1/integration/health", IntegrationHealthApi.as_view(), name="api-integration-health"
    ),
    path(
        "operations/integration/",
        platform_views.integration_health_page,
        name="integration-health",
    ),
    # Platform admin
    path("platform/dead-letters/", platform_views.dead_letter_list, name="platform-dead-letters"),
    path(
        "platform/dead-letters/<int:inbox_id>/",
        platform_views.dead_letter_detail,
        name="platform-dead-letter",
    ),
    path("platform/held/", platform_views.held_event_list, name="platform-held"),
    path("platform/events/", platform_views.event_trace_page, name="platform-event-trace"),
    path("platform/tenants/", platform_views.tenant_list, name="platform-tenants"),
    path("platform/sources/", platform_views.source_list, name="platform-sources"),
    path("exceptions/", exception_queue_page, name="exception-queue"),
    path("exceptions/<int:exception_id>/", exception_detail_page, name="exception-detail"),
    # Customer-service console (operators)
    path("console/", console_views.console_home, name="console"),
    path(
        "console/tenants/<int:tenant_id>/",
        console_views.tenant_portal_view,
        name="console-tenant",
    ),
    path("graphql", PortalGraphQLView.as_view(schema=schema), name="graphql"),
    # Invoices and orders
    path("shipments/export.csv", views.shipment_export, name="shipment-export"),
    path("orders/", views.order_list, name="order-list"),
    path("api/v1/orders", OrderListApi.as_view(), name="api-order-list"),
    path("invoices/", views.invoice_list, name="invoice-list"),
    path("invoices/<identifier:invoice_number>/", views.invoice_detail, name="invoice-detail"),
    path("api/v1/invoices", InvoiceListApi.as_view(), name="api-invoice-list"),
    path(
        "api/v1/invoices/<identifier:invoice_number>",
        InvoiceDetailApi.as_view(),
        name="api-invoice-detail",
    ),
    path("api/v1/changes", ChangeFeedApi.as_view(), name="api-change-feed"),
    path("api/v1/search", SearchApi.as_view(), name="api-search"),
    path("api/v1/webhooks", WebhookListApi.as_view(), name="api-webhook-list"),
    path("api/v1/webhooks/<int:webhook_id>", WebhookDetailApi.as_view(), name="api-webhook-detail"),
    path(
        "api/v1/webhooks/<int:webhook_id>/rotate-secret",
        WebhookRotateSecretApi.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path(
        "api/v1/webhooks/<int:webhook_id>/ping", WebhookPingApi.as_view(), name="api-webhook-ping"
    ),
    path(
        "api/v1/webhooks/<int:webhook_id>/deliveries",
        WebhookDeliveryListApi.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "api/v1/webhook-deliveries/<int:delivery_id>/redeliver",
        WebhookRedeliverApi.as_view(),
        name="api-webhook-redeliver",
    ),
    path("admin/", admin.site.urls),
    # The API's description (docs/openapi.yaml is this, committed) and its doc pages.
    path("api/v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", ApiRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/docs/problems/<slug:slug>", problem_type_page, name="api-problem-type"),
    # Last: any other /api/ path is a problem 404, not an HTML page
    # (portal.middleware.ApiResponseMiddleware writes it).
    re_path(r"^api/", api_not_found, name="api-not-found"),
]
