"""Customer service's exception queue and the page to work one exception (staff only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts.scoping import is_operator
from portal.access import signed_in_user
from portal.forms import LARGEST_ID
from visibility import selectors
from visibility.flags import age_in_words
from visibility.models import ExceptionReason, ShipmentException
from visibility.services.exceptions import (
    exception_acknowledge,
    exception_add_note,
    exception_assign,
    exception_resolve,
)


class QueueFilterForm(forms.Form):
    """The queue's query string; a value that does not parse is ignored."""

    reason = forms.ChoiceField(
        choices=[("", "Any reason"), *ExceptionReason.choices], required=False
    )
    tenant = forms.IntegerField(min_value=1, max_value=LARGEST_ID, required=False)
    carrier = forms.CharField(max_length=128, required=False)
    account = forms.CharField(max_length=128, required=False)
    older_than_hours = forms.IntegerField(min_value=0, max_value=24 * 3650, required=False)

    def clean_carrier(self) -> str:
        return self.cleaned_data["carrier"].replace("\x00", "")

    def clean_account(self) -> str:
        return self.cleaned_data["account"].replace("\x00", "").strip()


def _filters(request: HttpRequest) -> dict:
    form = QueueFilterForm(request.GET)
    form.is_valid()
    data = {name: form.cleaned_data.get(name) for name in form.fields if name not in form.errors}
    return data


QUEUE_PAGE_SIZE = 100


@dataclass
class QueuePage:
    """A page of the queue read without counting it: one row more than the page says
    whether a next page exists. The page shows no total, and counting every unresolved
    exception of the tenants served (tens of thousands at 1,000,000 shipments) was most of
    a first page's time (docs/BENCHMARKS.md, "A narrow clock table")."""

    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def _page_number(text: str | None) -> int:
    if text and text.isascii() and text.isdigit() and len(text) <= 6:
        return max(1, int(text))
    return 1


# What a queue row shows, read as plain rows (`selectors.as_rows`): model instances of
# the exception, its shipment, account, tenant and owner, and the notes the queue does
# not show, were most of a page's time at 1,000,000 shipments (docs/BENCHMARKS.md,
# "The exception queue page from rows").
QUEUE_COLUMNS = (
    "id",
    "reason",
    "status",
    "opened_at",
    "shipment__shipment_id",
    "shipment__customer_account__number",
    "shipment__customer_account__tenant__name",
    "owner__username",
)
REASON_LABELS = dict(ExceptionReason.choices)
STATUS_LABELS = dict(ShipmentException.Status.choices)


@dataclass(frozen=True)
class QueueRow:
    """One exception as the queue's table shows it, every cell already text: the
    template only places them (a filter or `{% url %}` per cell of 100 rows was a
    measurable part of the page)."""

    detail_url: str
    shipment_id: str
    tenant_name: str
    account_number: str
    reason: str
    opened: str
    age: str
    status: str
    owner: str


# An id no exception has, to reverse the detail's URL once per page and place each row's
# id in it: `reverse` costs ~10-30 us, a hundred times a page.
_ANY_ID = 4_611_686_018_427_387_903


def _detail_url_of() -> Callable[[int], str]:
    before, _, after = reverse("exception-detail", args=[_ANY_ID]).partition(str(_ANY_ID))
    return lambda exception_id: f"{before}{exception_id}{after}"


def _queue_row(
    row: dict[str, Any], detail_url_of: Callable[[int], str], now: datetime, zone: tzinfo
) -> QueueRow:
    return QueueRow(
        detail_url=detail_url_of(row["id"]),
        shipment_id=row["shipment__shipment_id"],
        tenant_name=row["shipment__customer_account__tenant__name"],
        account_number=row["shipment__customer_account__number"],
        reason=REASON_LABELS.get(row["reason"], row["reason"]),
        # As the `date:"Y-m-d H:i"` filter showed it: in the agent's time zone.
        opened=row["opened_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        age=age_in_words(row["opened_at"], now),
        status=STATUS_LABELS.get(row["status"], row["status"]),
        owner=row["owner__username"] or "—",
    )


@login_required
def exception_queue_page(request: HttpRequest) -> HttpResponse:
    if not is_operator(request.user):
        raise Http404
    now = timezone.now()
    chosen = _filters(request)
    hours = chosen.get("older_than_hours")
    queue = selectors.exception_queue(
        request.user,
        reasons=[chosen["reason"]] if chosen.get("reason") else (),
        tenant_id=chosen.get("tenant"),
        carrier_scac=chosen.get("carrier") or "",
        account_number=chosen.get("account") or "",
        older_than=timedelta(hours=hours) if hours else None,
        now=now,
    )
    number = _page_number(request.GET.get("page"))
    start = (number - 1) * QUEUE_PAGE_SIZE
    records = list(selectors.as_rows(queue, QUEUE_COLUMNS)[start : start + QUEUE_PAGE_SIZE + 1])
    page = QueuePage(number=number, has_next=len(records) > QUEUE_PAGE_SIZE)
    detail_url_of, zone = _detail_url_of(), timezone.get_current_timezone()
    rows = [_queue_row(row, detail_url_of, now, zone) for row in records[:QUEUE_PAGE_SIZE]]
    tenants, accounts = selectors.queue_filter_choices(request.user)
    return render(
        request,
        "operations/exceptions.html",
        {
            "page": page,
            "rows": rows,
            "reasons": ExceptionReason.choices,
            "tenants": [(tenant["id"], tenant["name"]) for tenant in tenants],
            "accounts": [
                (account["number"], f"{account['number']} ({account['tenant_name']})")
                for account in accounts
            ],
            "chosen": chosen,
        },
    )


class ExceptionActionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[(name, name) for name in ("acknowledge", "assign", "note", "resolve")]
    )
    owner = forms.IntegerField(min_value=1, max_value=LARGEST_ID, required=False)
    text = forms.CharField(max_length=5000, required=False)
    visible_to_customer = forms.BooleanField(required=False)


@login_required
def exception_detail_page(request: HttpRequest, exception_id: int) -> HttpResponse:
    record = selectors.queue_exception_get(request.user, exception_id)
    if record is None:
        raise Http404
    staff = selectors.customer_service_staff(request.user)
    if request.method == "POST":
        form = ExceptionActionForm(request.POST)
        if form.is_valid():
            now = timezone.now()
            action = form.cleaned_data["action"]
            if action == "acknowledge":
                exception_acknowledge(signed_in_user(request), record, now=now)
            elif action == "resolve":
                exception_resolve(signed_in_user(request), record, now=now)
            elif action == "assign":
                owner_id = form.cleaned_data["owner"]
                owner = (
                    selectors.customer_service_member(request.user, owner_id) if owner_id else None
                )
                if owner_id and owner is None:
                    raise Http404("owner: not a member of customer service")
                exception_assign(signed_in_user(request), record, owner)
            elif form.cleaned_data["text"].strip():
                exception_add_note(
                    signed_in_user(request),
                    record,
                    form.cleaned_data["text"].strip(),
                    visible_to_customer=form.cleaned_data["visible_to_customer"],
                    now=now,
                )
            return redirect("exception-detail", exception_id=record.id)
    return render(
        request,
        "operations/exception_detail.html",
        {
            "exception": record,
            "age": age_in_words(record.opened_at, timezone.now()),
            "staff": staff,
        },
    )
