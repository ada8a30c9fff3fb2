from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, register_converter

from accounts import second_factor_views
from accounts.password_reset import NeutralPasswordResetForm
from accounts.signin import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm
from integration.api.health import integration_health_json, integration_health_page
from integration.api.views import receive_events_view
from portal import admin_views, member_views, settings_views, views
from portal.converters import IdentifierConverter
from portal.exception_views import exception_detail_page, exception_queue_page
from portal.graphql.schema import schema
from portal.graphql.views import PortalGraphQLView
from visibility.api.changes import ChangeFeedApi
from visibility.api.documents import DocumentDownloadApi
from visibility.api.views import (
    ExceptionListApi,
    InvoiceDetailApi,
    InvoiceListApi,
    OrderDetailApi,
    OrderListApi,
    ShipmentDetailApi,
    ShipmentListApi,
)

admin.site.login_form = ThrottledAdminAuthenticationForm

# Business identifiers come from upstream systems as any text ("PO/2026/17"): their routes
# take `identifier`, which also matches "/" (portal/converters.py).
register_converter(IdentifierConverter, "identifier")
urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=ThrottledAuthenticationForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
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
    path("shipments/<identifier:shipment_id>/", views.shipment_detail, name="shipment-detail"),
    path("search/", views.search, name="search"),
    path("orders/<identifier:order_number>/", views.order_detail, name="order-detail"),
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
    path(
        "api/v1/documents/<identifier:document_id>",
        DocumentDownloadApi.as_view(),
        name="api-document-download",
    ),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/events", receive_events_view, name="api-events"),
    path("api/v1/shipments", ShipmentListApi.as_view(), name="api-shipment-list"),
    path("api/v1/exceptions", ExceptionListApi.as_view(), name="api-exception-list"),
    path(
        "api/v1/orders/<identifier:order_number>", OrderDetailApi.as_view(), name="api-order-detail"
    ),
    path(
        "api/v1/shipments/<identifier:shipment_id>",
        ShipmentDetailApi.as_view(),
        name="api-shipment-detail",
    ),
    path("api/v1/integration/health", integration_health_json, name="api-integration-health"),
    path("operations/integration/", integration_health_page, name="integration-health"),
    path("exceptions/", exception_queue_page, name="exception-queue"),
    path("exceptions/<int:exception_id>/", exception_detail_page, name="exception-detail"),
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
    path("admin/", admin.site.urls),
]
