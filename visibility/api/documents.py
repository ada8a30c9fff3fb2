"""Document downloads (POD, BOL, ...): scoped by the documents entitlement, audited."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.audit import audit_record, audit_staff_look
from accounts.authentication import actor_from_request
from accounts.models import AuditAction
from accounts.scoping import Actor
from visibility import selectors


def document_response(request: HttpRequest, actor: Actor, document_id: str) -> FileResponse:
    document = selectors.document_get(actor, document_id)
    if document is None:
        raise Http404("No such document")
    tenant_id = document.customer_account.tenant_id
    audit_record(
        action=AuditAction.DOCUMENT_DOWNLOADED,
        actor=actor,
        tenant=tenant_id,
        target=f"document:{document_id}",
        request=request,
    )
    audit_staff_look(
        actor=actor, tenant_id=tenant_id, target=f"document:{document_id}", request=request
    )
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.filename,
        content_type=document.content_type,
    )
    response["X-Content-SHA256"] = document.sha256
    return response


class DocumentDownloadApi(APIView):
    def get(self, request: Request, document_id: str) -> FileResponse:
        return document_response(request, actor_from_request(request), document_id)
