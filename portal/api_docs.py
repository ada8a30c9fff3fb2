"""The API's documentation: the OpenAPI document (drf-spectacular), Swagger UI and Redoc
from the project's own static files (drf-spectacular-sidecar), with no inline script or
style (the pages' templates are in templates/api/)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponseRedirect
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

from core.problems import PROBLEM_TYPES


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI document describes accounts.authentication.PartnerTokenAuthentication."""

    target_class = "accounts.authentication.PartnerTokenAuthentication"
    name = "partnerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A partner token (`svp_...`) issued by the tenant's admin (Settings → API "
                "tokens); limited to some accounts and scopes."
            ),
        }


class ApiSwaggerView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"


class ApiRedocView(SpectacularRedocView):
    template_name = "api/redoc.html"


def problem_type_page(request: HttpRequest, slug: str) -> HttpResponseRedirect:
    """A problem's `type` URI leads to its explanation in the docs (Redoc's Errors section)."""
    if slug not in PROBLEM_TYPES:
        raise Http404
    return HttpResponseRedirect("/api/redoc/#section/Errors")
