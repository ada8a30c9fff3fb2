"""Writing the audit log. Every entry names who (user or token), what, and for which tenant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from accounts.addresses import client_address
from accounts.models import ApiToken, AuditAction, AuditEntry, CustomerAccount, Tenant
from accounts.scoping import Actor, is_operator, standing_of


def describe_actor(actor: Actor) -> str:
    if isinstance(actor, ApiToken):
        return f"token:{actor.prefix}"
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "anonymous"
    return f"user:{actor.get_username()}"


def audit_record(
    *,
    action: AuditAction,
    actor: Actor | str,
    tenant: Tenant | int | None = None,
    target: str = "",
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action,
        actor=actor if isinstance(actor, str) else describe_actor(actor),
        tenant_id=tenant.id if isinstance(tenant, Tenant) else tenant,
        target=target[:200],
        ip_address=client_address(request),
        details=details or {},
    )


# --- staff reads: one entry per request -------------------------------------------------
#
# Every selector over tenant data passes through `visibility.selectors.visible_accounts`,
# which calls `note_staff_read`; the middleware opens a collector for each request and
# writes what the operator's staff read as one entry when the response is built (before a
# streamed CSV starts). Outside a request there is no collector and nothing is recorded.


@dataclass
class _StaffReads:
    path: str
    method: str
    query: dict[str, list[str]]
    ip_address: str | None
    actor: Actor = None
    scopes: set[str] = field(default_factory=set)
    account_ids: set[int] = field(default_factory=set)
    objects: list[str] = field(default_factory=list)
    object_tenant_ids: set[int] = field(default_factory=set)
    downloaded: bool = False
    graphql: dict[str, Any] | None = None
    graphql_reads_lists: bool = False


_staff_reads: ContextVar[_StaffReads | None] = ContextVar("staff_reads", default=None)


def _collecting(actor: Actor) -> _StaffReads | None:
    """The request's collector when `actor` is operator staff, else None."""
    reads = _staff_reads.get()
    if reads is None or not is_operator(actor):
        return None
    reads.actor = actor
    return reads


def note_staff_read(actor: Actor, scope: str, account_ids: list[int]) -> None:
    """Called by the one function every tenant-data selector passes through."""
    reads = _collecting(actor)
    if reads is not None:
        reads.scopes.add(scope)
        reads.account_ids.update(account_ids)


def note_staff_object(actor: Actor, *, kind: str, key: str, tenant_id: int | None) -> None:
    """One object opened for the request (`visibility.access.visible_object`): names what
    was read and the tenant it belongs to."""
    reads = _collecting(actor)
    if reads is not None:
        target = f"{kind}:{key}"
        if target not in reads.objects:
            reads.objects.append(target)
        if tenant_id is not None:
            reads.object_tenant_ids.add(tenant_id)


def note_graphql_operation(
    *,
    operation_name: str | None,
    fields: list[str],
    variables: dict[str, Any] | None,
    lists: bool,
) -> None:
    """The GraphQL entry point: the operation's name, its root fields with their arguments
    and the variables; `lists` when a root field returns a list (its tenants are the
    scope's)."""
    reads = _staff_reads.get()
    if reads is not None:
        reads.graphql = {"operation": operation_name or "", "fields": fields}
        if variables:
            reads.graphql["variables"] = variables
        reads.graphql_reads_lists = lists


def audit_document_download(*, actor: Actor, document: Any, request: HttpRequest | None) -> None:
    """Every download is audited: the operator's staff within their request's one entry,
    everyone else here."""
    reads = _collecting(actor)
    if reads is not None:
        reads.downloaded = True
        return
    audit_record(
        action=AuditAction.DOCUMENT_DOWNLOADED,
        actor=actor,
        tenant=document.customer_account.tenant_id,
        target=f"document:{document.document_id}",
        request=request,
    )


@contextmanager
def staff_reads_audited_for_this_request(request: HttpRequest) -> Iterator[_StaffReads]:
    """Collect what the operator's staff read while the request runs; the caller writes
    it with `write_staff_reads` once the response is built."""
    reads = _StaffReads(
        path=request.path,
        method=request.method or "",
        query={key: request.GET.getlist(key) for key in request.GET},
        ip_address=client_address(request),
    )
    token = _staff_reads.set(reads)
    try:
        yield reads
    finally:
        _staff_reads.reset(token)


def _sees_every_tenant(actor: Actor) -> bool:
    if getattr(actor, "is_superuser", False):
        return True
    staff = standing_of(actor).staff  # type: ignore[arg-type]
    return bool(staff and staff.all_tenants)


def write_staff_reads(reads: _StaffReads) -> AuditEntry | None:
    """The request's one entry, if operator staff read tenant data in it.

    Tenants: those of the objects opened; for a list (no object opened, or a GraphQL list
    field) also those of the accounts in scope, or `all_tenants` for staff serving every
    tenant — the entry then shows in every tenant's log (`audit_entries`)."""
    if reads.actor is None or not reads.scopes:
        return None
    tenant_ids = set(reads.object_tenant_ids)
    all_tenants = False
    if not reads.objects or reads.graphql_reads_lists:
        if _sees_every_tenant(reads.actor):
            all_tenants = True
        elif reads.account_ids:
            tenant_ids.update(
                CustomerAccount.objects.filter(id__in=reads.account_ids)
                .values_list("tenant_id", flat=True)
                .distinct()
            )
    entry_point = reads.path
    if reads.graphql is not None:
        entry_point = f"{reads.path} {reads.graphql['operation'] or '(anonymous)'}"
    if reads.objects:
        target = ", ".join(reads.objects)
    elif reads.graphql is not None:
        target = f"{entry_point}: {', '.join(reads.graphql['fields'])}"
    else:
        target = f"{reads.path}?{urlencode(reads.query, doseq=True)}" if reads.query else reads.path
    details: dict[str, Any] = {
        "entry_point": entry_point,
        "method": reads.method,
        "scopes": sorted(reads.scopes),
        "tenant_ids": sorted(tenant_ids),
    }
    if reads.query:
        details["query"] = reads.query
    if reads.graphql is not None:
        details["graphql"] = reads.graphql
    if reads.objects:
        details["objects"] = reads.objects
    if all_tenants:
        details["all_tenants"] = True
    return AuditEntry.objects.create(
        action=AuditAction.DOCUMENT_DOWNLOADED if reads.downloaded else AuditAction.STAFF_VIEWED,
        actor=describe_actor(reads.actor),
        tenant_id=next(iter(tenant_ids)) if len(tenant_ids) == 1 and not all_tenants else None,
        target=_storable(target)[:200],
        ip_address=reads.ip_address,
        details=_storable(details),
    )


def _storable(value: Any) -> Any:
    """`value` with NUL characters replaced: PostgreSQL stores none in text or jsonb, and
    what a caller sent (a GraphQL variable, a query string) must not make the look
    unrecordable, hence withheld."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value
