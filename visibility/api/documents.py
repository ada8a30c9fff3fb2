"""Documents (POD, BOL, ...): listed with their metadata and downloaded with a checksum,
scoped by the documents entitlement; each download is audited."""

from __future__ import annotations

import base64

from django.http import FileResponse, HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.audit import audit_document_download
from accounts.authentication import actor_from_request
from accounts.scoping import Actor
from core.api_schema import LIST_ERRORS, problem_responses
from core.files import open_verified
from visibility import selectors
from visibility.access import visible_object_or_404
from visibility.api import schema
from visibility.api.filters import DocumentFilterSet
from visibility.api.serializers import DocumentSerializer
from visibility.api.views import SelectorListApi
from visibility.models import Document


def document_response(request: HttpRequest, actor: Actor, document_id: str) -> FileResponse:
    """The file, with its SHA-256 as `Repr-Digest` (RFC 9530), as a strong `ETag` and as
    `X-Content-SHA256` (hex, kept for existing clients): a mirror checks what it stored.
    The stored bytes are checked against that SHA-256 before any is sent (core/files.py):
    a file changed in storage is refused (500, logged), never served."""
    document = visible_object_or_404(actor, "document", document_id, request=request)
    content = open_verified(document.file.storage, document.file.name or "", document.sha256)
    audit_document_download(actor=actor, document=document, request=request)
    response = FileResponse(
        content,
        as_attachment=True,
        filename=document.filename,
        content_type=document.content_type,
    )
    digest = base64.b64encode(bytes.fromhex(document.sha256)).decode()
    response["Repr-Digest"] = f"sha-256=:{digest}:"
    response["ETag"] = f'"{document.sha256}"'
    response["X-Content-SHA256"] = document.sha256
    return response


@schema.DOCUMENT_DOWNLOAD
class DocumentDownloadApi(APIView):
    def get(self, request: Request, document_id: str) -> FileResponse:
        return document_response(request, actor_from_request(request), document_id)


@extend_schema(
    tags=["documents"],
    responses={200: DocumentSerializer(many=True), **problem_responses(*LIST_ERRORS)},
)
class DocumentListApi(SelectorListApi):
    """`GET /api/v1/documents?shipment=|order=|invoice=`: the documents the caller may
    see (the documents scope), newest first, with their metadata and checksum."""

    serializer_class = DocumentSerializer
    filterset_class = DocumentFilterSet
    list_selector = selectors.document_list
    model = Document
