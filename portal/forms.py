"""Forms that parse what a page receives before anything reaches a selector."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, QueryDict
from django.utils import timezone

from visibility.api.filters import ShipmentFilterSet, filterset_without_errors
from visibility.models import Invoice, ShipmentStatus, TransportMode
from visibility.selectors import SHIPMENT_SORTS

# Row ids are BigAutoField: a larger number could only fail in the database.
LARGEST_ID = 2**63 - 1


class ObjectIdForm(forms.Form):
    """The id of a row a settings page acts on (the revoke or deactivate button's value)."""

    id = forms.IntegerField(min_value=1, max_value=LARGEST_ID)


def posted_id(request: HttpRequest, field: str) -> int:
    """The id posted as `field`. What is not a positive whole number in range names no row:
    404 like an unknown or another tenant's id (the pages already answered so), and it
    never reaches a query."""
    form = ObjectIdForm({"id": request.POST.get(field, "")})
    if not form.is_valid():
        raise Http404(f"{field}: {' '.join(str(error) for error in form.errors['id'])}")
    return form.cleaned_data["id"]


# The list pages' query strings. A value that does not parse (an unknown status, a date
# that is not one, text with a NUL byte) is ignored: the list shows everything rather than
# an error page, and the value never reaches a query.
SEARCH_TEXT_LENGTH = 128


class SearchForm(forms.Form):
    q = forms.CharField(required=False)

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:SEARCH_TEXT_LENGTH]


class ShipmentListForm(SearchForm):
    """The shipment list's filters, sort and page size (also what a saved view stores)."""

    FLAGS = [
        ("late", "Late"),
        ("overdue", "Overdue"),
        ("exception", "Open exception"),
        ("delayed", "Delayed"),
        ("at_risk", "At risk"),
    ]
    PAGE_SIZES = [("25", "25"), ("50", "50"), ("100", "100")]

    status = forms.MultipleChoiceField(choices=ShipmentStatus.choices, required=False)
    flag = forms.ChoiceField(choices=FLAGS, required=False)
    carrier = forms.CharField(required=False, max_length=128)
    mode = forms.ChoiceField(choices=TransportMode.choices, required=False)
    origin = forms.CharField(required=False, max_length=128)
    destination = forms.CharField(required=False, max_length=128)
    account = forms.CharField(required=False, max_length=128)
    eta_from = forms.DateField(required=False)
    eta_to = forms.DateField(required=False)
    promised_from = forms.DateField(required=False)
    promised_to = forms.DateField(required=False)
    delivered_from = forms.DateField(required=False)
    delivered_to = forms.DateField(required=False)
    documents_from = forms.DateField(required=False)
    sort = forms.ChoiceField(
        choices=[(key, key) for name in SHIPMENT_SORTS for key in (name, f"-{name}")],
        required=False,
    )
    page_size = forms.TypedChoiceField(
        choices=PAGE_SIZES, coerce=int, required=False, empty_value=None
    )


def _day_start(day: date) -> datetime:
    """The first instant of `day` in the active time zone (the page's days are the user's)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _day_end(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.max))


def _moment(day: date | None, at: Callable[[date], datetime]) -> str | None:
    return None if day is None else at(day).isoformat()


def shipment_list_parameters(values: dict[str, Any]) -> QueryDict:
    """The list page's filters (its own keys, days in the user's time zone, one flag) as
    the parameters of `ShipmentFilterSet`, the one definition of the shipment filters that
    REST and GraphQL validate too. Saved views and old links keep the page's keys: they
    are translated here on every load, so nothing stored needs migrating."""
    flag = values["flag"]
    parameters: dict[str, Any] = {
        "q": values["q"],
        "status": values["status"],
        "late": "true" if flag == "late" else None,
        "overdue": "true" if flag == "overdue" else None,
        "open_exception": "true" if flag == "exception" else None,
        "delayed": "true" if flag == "delayed" else None,
        "at_risk": "true" if flag == "at_risk" else None,
        "carrier_scac": values["carrier"],
        "mode": values["mode"],
        "origin": values["origin"],
        "destination": values["destination"],
        "account": [values["account"]] if values["account"] else [],
        "eta_after": _moment(values["eta_from"], _day_start),
        "eta_before": _moment(values["eta_to"], _day_end),
        "promised_after": values["promised_from"],
        "promised_before": values["promised_to"],
        "delivered_after": _moment(values["delivered_from"], _day_start),
        "delivered_before": _moment(values["delivered_to"], _day_end),
        "documents_after": _moment(values["documents_from"], _day_start),
    }
    query = QueryDict(mutable=True)
    for name, value in parameters.items():
        for item in value if isinstance(value, list) else [value]:
            if item not in (None, ""):
                query.appendlist(name, str(item))
    return query


def shipment_list_arguments(values: dict[str, Any]) -> dict[str, Any]:
    """`shipment_list`'s keyword arguments from the list form's values, through
    `ShipmentFilterSet` (a value it refuses is dropped, as the page ignores bad values)."""
    filterset = filterset_without_errors(ShipmentFilterSet, shipment_list_parameters(values))
    return {**filterset.selector_arguments(), "sort": values["sort"]}


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=100)
    query_string = forms.CharField(max_length=2000, required=False)
    shared = forms.BooleanField(required=False)
    make_default = forms.BooleanField(required=False)


class OrderListForm(SearchForm):
    status = forms.ChoiceField(choices=ShipmentStatus.choices, required=False)
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)


class InvoiceListForm(forms.Form):
    status = forms.ChoiceField(choices=Invoice.Status.choices, required=False)
    due_from = forms.DateField(required=False)
    due_to = forms.DateField(required=False)


def query_values(form_class: type[forms.Form], request: HttpRequest) -> dict[str, Any]:
    """Each field of `form_class` from the query string: its parsed value, or its empty
    value ("" for text and choices, None for dates) when missing or not valid."""
    form = form_class(request.GET)
    form.is_valid()
    return {name: form.cleaned_data.get(name, _empty(field)) for name, field in form.fields.items()}


def _empty(field: forms.Field) -> Any:
    if isinstance(field, forms.MultipleChoiceField):
        return []
    if isinstance(field, forms.DateField | forms.TypedChoiceField):
        return None
    return ""
