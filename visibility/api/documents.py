"""Document downloads (POD, BOL, ...): scoped by the documents entitlement, audited."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.audit import audit_document_download
from accounts.authentication import actor_from_request
from accounts.scoping import Actor
from visibility.access import visible_object_or_404
from visibility.api import schema


def document_response(request: HttpRequest, actor: Actor, document_id: str) -> FileResponse:
    document = visible_object_or_404(actor, "document", document_id, request=request)
    audit_document_download(actor=actor, document=document, request=request)
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.filename,
        content_type=document.content_type,
    )
    response["X-Content-SHA256"] = document.sha256
    return response


@schema.DOCUMENT_DOWNLOAD
class DocumentDownloadApi(APIView):
    def get(self, request: Request, document_id: str) -> FileResponse:
        return document_response(request, actor_from_request(request), document_id)
