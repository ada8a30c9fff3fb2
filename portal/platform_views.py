"""Platform admin in the portal (Django admin stays for raw data): integration health
with charts, held events, dead letters (replay or discard, one or many), tenants and
their accounts, source systems and their roles.

Integration health is open to all of the operator's staff; everything else to platform
admins only (404 for anyone else). Writes go through audited services.
"""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import SourceRole
from accounts.scoping import is_operator
from accounts.services.platform import platform_source_register, platform_tenant_save
from integration import selectors as integration_selectors
from integration.event_trace import MAX_QUERY_LENGTH, event_traces
from integration.services.replay import dead_letters_discard, dead_letters_replay
from portal.access import platform_admin_or_404
from portal.forms import LARGEST_ID
from portal.operations_charts import bar_chart, duration_in_words
from visibility.flags import age_in_words
from visibility.service_levels import service_levels

# How many tenants an SLA's row names (the worst first); /metrics has them all.
SLA_TENANTS_SHOWN = 5

# How many dead letters one submit may act on (a page shows 100).
MAX_SELECTED = 500


def _ago(iso: str | None, now: datetime) -> str:
    return age_in_words(datetime.fromisoformat(iso), now) if iso else ""


def _service_levels_in_words(now: datetime) -> list[dict]:
    return [
        {
            **level,
            "threshold": duration_in_words(level["threshold_seconds"]),
            "oldest": duration_in_words(level["oldest_age_seconds"]),
            "top_tenants": level["by_tenant"][:SLA_TENANTS_SHOWN],
            "tenants": [row["title"] for row in level["by_tenant"] if row["alert"]][
                :SLA_TENANTS_SHOWN
            ],
        }
        for level in service_levels(now=now)
    ]


@login_required
def integration_health_page(request: HttpRequest) -> HttpResponse:
    if not is_operator(request.user):
        raise Http404
    now = timezone.now()
    health = integration_selectors.integration_health(now=now)
    series = integration_selectors.throughput_by_minute(now=now)
    levels = _service_levels_in_words(now)
    return render(
        request,
        "operations/integration_health.html",
        {
            "health": health,
            "now": now,
            "lag": duration_in_words(health["inbox"]["lag_seconds"]) or "none",
            "sources": [
                {
                    **row,
                    "received_ago": _ago(row["last_received_at"], now),
                    "occurred_ago": _ago(row["last_occurred_at"], now),
                }
                for row in health["sources"]
            ],
            "held": [
                {**row, "oldest": duration_in_words(row["oldest_age_seconds"])}
                for row in health["held"]
            ],
            "throughput_chart": bar_chart(
                [(point["minute"], point["received"]) for point in series],
                unit="events",
                describe=lambda value: f"{int(value)} events received",
            ),
            "lag_chart": bar_chart(
                [(point["minute"], point["lag_seconds"]) for point in series],
                unit="s",
                describe=lambda value: f"mean lag {duration_in_words(value)}",
            ),
            "series": series,
            "held_total": sum(row["count"] for row in health["held"]),
            "dead_total": sum(row["count"] for row in health["dead_letters"]),
            "is_platform_admin": request.user.is_superuser,
            "service_levels": levels,
            "sla_alerts": [level for level in levels if level["alert"]],
        },
    )


@login_required
def event_trace_page(request: HttpRequest) -> HttpResponse:
    """ "What happened to event X" (integration/event_trace.py), platform admins only."""
    platform_admin_or_404(request)
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    return render(
        request,
        "platform/event_trace.html",
        {"query": query, "traces": event_traces(query) if query else None, "section": "trace"},
    )


class DeadLetterActionForm(forms.Form):
    action = forms.ChoiceField(choices=[("replay", "Replay"), ("discard", "Discard")])
    ids = forms.TypedMultipleChoiceField(coerce=int, required=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Any positive id is a valid choice; which are dead is the service's question.
        self.fields["ids"].valid_value = self._valid_id  # type: ignore[attr-defined]

    @staticmethod
    def _valid_id(value: str) -> bool:
        return value.isdigit() and 1 <= int(value) <= LARGEST_ID

    def clean_ids(self) -> list[int]:
        ids = self.cleaned_data["ids"]
        if len(ids) > MAX_SELECTED:
            raise forms.ValidationError(f"Choose at most {MAX_SELECTED} at a time.")
        return ids


def _act_on_dead_letters(request: HttpRequest) -> str | None:
    """Handle a replay/discard POST; answer an error message for the page, or None."""
    form = DeadLetterActionForm(request.POST)
    if not form.is_valid():
        return "Choose one or more dead letters, then Replay or Discard."
    actor = platform_admin_or_404(request)
    ids, action = form.cleaned_data["ids"], form.cleaned_data["action"]
    if action == "replay":
        count = dead_letters_replay(actor=actor, inbox_ids=ids, request=request)
        messages.success(request, f"{count} dead letter(s) re-queued for processing.")
    else:
        count = dead_letters_discard(actor=actor, inbox_ids=ids, request=request)
        messages.success(request, f"{count} dead letter(s) discarded (kept in the audit log).")
    return None


@login_required
def dead_letter_list(request: HttpRequest) -> HttpResponse:
    platform_admin_or_404(request)
    error = None
    if request.method == "POST":
        error = _act_on_dead_letters(request)
        if error is None:
            return redirect("platform-dead-letters")
    page = Paginator(integration_selectors.dead_letters(), 100).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [{**row, "received_ago": age_in_words(row["received_at"], now)} for row in page]
    return render(
        request,
        "platform/dead_letters.html",
        {"page": page, "rows": rows, "error": error, "section": "dead"},
    )


@login_required
def dead_letter_detail(request: HttpRequest, inbox_id: int) -> HttpResponse:
    platform_admin_or_404(request)
    if request.method == "POST" and _act_on_dead_letters(request) is None:
        return redirect("platform-dead-letters")
    event = integration_selectors.dead_letter_get(inbox_id)
    if event is None:
        raise Http404("No such dead letter")
    key = f"{event['source']}:{event['event_id']}"
    return render(
        request,
        "platform/dead_letter_detail.html",
        {
            "event": event,
            "key": key,
            "history": account_selectors.audit_entries_for_target(key),
            "section": "dead",
        },
    )


@login_required
def held_event_list(request: HttpRequest) -> HttpResponse:
    platform_admin_or_404(request)
    page = Paginator(integration_selectors.held_events(), 100).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [{**row, "received_ago": age_in_words(row["received_at"], now)} for row in page]
    return render(
        request,
        "platform/held.html",
        {
            "page": page,
            "rows": rows,
            "unassigned": account_selectors.unassigned_accounts(),
            "section": "held",
        },
    )


class TenantForm(forms.Form):
    slug = forms.SlugField(max_length=64)
    name = forms.CharField(max_length=200)
    accounts = forms.CharField(
        max_length=4000, required=False, help_text="Comma-separated account numbers"
    )
    # Empty: unchanged (a new tenant keeps CLOSED_SHIPMENT_RETENTION_DAYS).
    closed_shipment_retention_days = forms.IntegerField(
        required=False, min_value=30, max_value=36500
    )

    def clean_accounts(self) -> list[str]:
        numbers = [number.strip() for number in self.cleaned_data["accounts"].split(",")]
        numbers = [number for number in numbers if number]
        if any(len(number) > 128 or not number.isprintable() for number in numbers):
            raise forms.ValidationError("An account number is at most 128 printable characters.")
        return numbers


@login_required
def tenant_list(request: HttpRequest) -> HttpResponse:
    actor = platform_admin_or_404(request)
    form = TenantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tenant = platform_tenant_save(
                actor=actor,
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
                account_numbers=form.cleaned_data["accounts"],
                closed_shipment_retention_days=form.cleaned_data["closed_shipment_retention_days"],
                request=request,
            )
        except ValueError as failure:
            form.add_error("accounts", str(failure))
        else:
            messages.success(request, f"Saved {tenant.name}.")
            return redirect("platform-tenants")
    return render(
        request,
        "platform/tenants.html",
        {
            "form": form,
            "tenants": account_selectors.tenants_with_accounts(),
            "unassigned": account_selectors.unassigned_accounts(),
            "staff": account_selectors.staff_profiles(),
            "default_retention_days": settings.CLOSED_SHIPMENT_RETENTION_DAYS,
            "section": "tenants",
        },
    )


class SourceForm(forms.Form):
    key = forms.SlugField(max_length=64)
    role = forms.ChoiceField(choices=SourceRole.choices)
    accounts = forms.CharField(
        max_length=4000,
        required=False,
        help_text="Comma-separated account numbers it may send for; empty: every account",
    )

    clean_accounts = TenantForm.clean_accounts


@login_required
def source_list(request: HttpRequest) -> HttpResponse:
    actor = platform_admin_or_404(request)
    form = SourceForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        _, secret = platform_source_register(
            actor=actor,
            key=form.cleaned_data["key"],
            role=form.cleaned_data["role"],
            account_numbers=form.cleaned_data["accounts"],
            request=request,
        )
        form = SourceForm()
    return render(
        request,
        "platform/sources.html",
        {
            "form": form,
            "secret": secret,
            "sources": account_selectors.source_systems(),
            "section": "sources",
        },
    )
