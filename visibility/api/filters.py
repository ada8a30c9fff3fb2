"""Query strings of the REST lists: django-filter FilterSets that validate, and through
drf-spectacular's django-filter extension document, every parameter a list takes.

They do not filter: their cleaned data become the keyword arguments of the list's
selector (visibility/selectors.py), which does, so pages, REST and GraphQL filter the
same way. Strict: a bad value, a parameter the list does not take, or a single-valued
parameter given twice is a 400 whose errors are keyed by the parameter's name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import django_filters
from django import forms
from django.http import HttpRequest, QueryDict
from django_filters import fields as filter_fields
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.request import Request

from visibility import selectors
from visibility.models import (
    Document,
    ExceptionReason,
    Invoice,
    Order,
    Shipment,
    ShipmentException,
    ShipmentStatus,
    TransportMode,
)

# Read by the cursor pagination (visibility/api/views.py), not by a FilterSet.
PAGINATION_PARAMETERS = frozenset({"cursor", "page_size"})
MAX_TEXT = 128  # the longest business key the read models store


class StrictBooleanField(forms.NullBooleanField):
    """`true` or `false` (also `1` / `0`, any case); anything else is an error, where
    django-filter's own boolean reads it as "not given" and filters nothing."""

    widget = forms.TextInput
    default_error_messages = {"invalid": "Must be true or false."}

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # None: not given
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class AnyValuesField(filter_fields.MultipleChoiceField):
    """Repeatable free text (`account=C-1001&account=C-1002`): any non-empty value up to
    MAX_TEXT characters; the selector decides what exists."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", ())
        super().__init__(*args, **kwargs)

    def valid_value(self, value: Any) -> bool:
        text = str(value)
        return 0 < len(text) <= MAX_TEXT and "\x00" not in text


class AnyValuesFilter(django_filters.MultipleChoiceFilter):
    field_class = AnyValuesField


class ChoicesCsvFilter(django_filters.BaseCSVFilter, django_filters.ChoiceFilter):
    """Comma-separated choices (`expand=milestones,charges`), each one checked."""


def text(help_text: str, field_name: str | None = None) -> django_filters.CharFilter:
    return django_filters.CharFilter(
        field_name=field_name, max_length=MAX_TEXT, help_text=help_text
    )


class UtcMomentField(filter_fields.IsoDateTimeField):
    """An ISO 8601 date-time, turned to UTC here: PostgreSQL refuses offsets beyond
    ±15:59 (a 500 if passed on), and an instant near year 1 or 9999 may not exist in UTC."""

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None or moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(UTC)
        except OverflowError as error:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from error


class UtcMomentFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcMomentField


def moment(help_text: str) -> django_filters.IsoDateTimeFilter:
    return UtcMomentFilter(help_text=f"{help_text} (ISO 8601 date-time).")


def day(help_text: str) -> django_filters.DateFilter:
    return django_filters.DateFilter(help_text=f"{help_text} (ISO 8601 date).")


ACCOUNT_HELP = (
    "Customer account number, repeatable. An account the caller does not see (or that does "
    "not exist) is a 400."
)
UPDATED_SINCE_HELP = (
    "Changed at or after this server time (`updated_at`, never business time); the same "
    "as `updated_after`"
)


class SelectorFilterSet(django_filters.FilterSet):
    """A list's parameters. `selector_names` renames a parameter to its selector's
    keyword; `orderings` maps each `ordering` value to the cursor's ordering (unique,
    immutable keys only: see `ordering_of`)."""

    selector_names: ClassVar[dict[str, str]] = {}
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {}
    default_ordering: ClassVar[str] = ""
    _form_classes: ClassVar[dict[type, type[forms.Form]]] = {}

    def get_form_class(self) -> type[forms.Form]:
        """The form class built once per FilterSet: its fields are the class's filters',
        the same for every request (none depends on the request or a queryset), and
        building a field per filter and a class per request was about half of
        validating a REST list's query string (~1 ms; docs/BENCHMARKS.md). Each form
        still copies its fields, as Django forms do."""
        form_class = SelectorFilterSet._form_classes.get(type(self))
        if form_class is None:
            form_class = super().get_form_class()
            SelectorFilterSet._form_classes[type(self)] = form_class
        return form_class

    def selector_arguments(self) -> dict[str, Any]:
        """The cleaned values that were given, named as the selector's keywords."""
        return {
            self.selector_names.get(name, name): value
            for name, value in self.form.cleaned_data.items()
            if name != "ordering" and value not in (None, "", [], ())
        }

    def cursor_ordering(self) -> tuple[str, ...]:
        chosen = self.form.cleaned_data.get("ordering") or self.default_ordering
        return self.orderings[chosen]


def ordering_filter(filterset: type[SelectorFilterSet]) -> django_filters.ChoiceFilter:
    choices = [(value, value) for value in filterset.orderings]
    return django_filters.ChoiceFilter(
        choices=choices,
        help_text=(
            f"Order of the list (default `{filterset.default_ordering}`). `created` is the "
            "order the portal first stored the objects in; only keys that never change "
            "are offered, so a cursor never skips or repeats a row."
        ),
    )


def validated_filterset(
    filterset_class: type[SelectorFilterSet], params: QueryDict, request: Request | None = None
) -> SelectorFilterSet:
    """The filterset of `params`, valid; otherwise DRF's ValidationError (a 400) with the
    errors keyed by parameter: unknown parameters, repeated single-valued ones, bad values."""
    filters = filterset_class.base_filters
    errors: dict[str, list[str]] = {}
    for name in params:
        if name not in filters and name not in PAGINATION_PARAMETERS:
            known = ", ".join(sorted([*filters, *PAGINATION_PARAMETERS]))
            errors[name] = [f"Unknown parameter. This list takes: {known}."]
        elif len(params.getlist(name)) > 1 and not isinstance(
            filters.get(name), django_filters.MultipleChoiceFilter
        ):
            errors[name] = ["Give this parameter once."]
    filterset = filterset_class(data=params, request=request)
    if not filterset.is_valid():
        for name, messages in filterset.errors.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise serializers.ValidationError(errors)
    return filterset


def filterset_without_errors(
    filterset_class: type[SelectorFilterSet], params: QueryDict
) -> SelectorFilterSet:
    """The filterset of `params` less the parameters that do not validate: for a browser
    page, which shows the list unfiltered by a bad value rather than an error page."""
    filterset = filterset_class(data=params)
    if filterset.is_valid():
        return filterset
    kept = params.copy()
    for name in filterset.errors:
        kept.pop(name, None)
    filterset = filterset_class(data=kept)
    filterset.is_valid()
    return filterset


class ShipmentFilterSet(SelectorFilterSet):
    """Parameters of `GET /api/v1/shipments` (`selectors.shipment_list`)."""

    q = text("A part of the shipment id, ignoring case.")
    status = django_filters.MultipleChoiceFilter(
        choices=ShipmentStatus.choices, help_text="Status, repeatable (any of them)."
    )
    delayed = StrictBooleanFilter(help_text="A reported delay moved the ETA.")
    late = StrictBooleanFilter(help_text="The ETA or delivery is after the promised day.")
    overdue = StrictBooleanFilter(help_text="The ETA passed without delivery.")
    at_risk = StrictBooleanFilter(help_text="Late or overdue and not delivered.")
    exception_reason = django_filters.MultipleChoiceFilter(
        choices=ExceptionReason.choices,
        help_text="Has an unresolved exception of this reason, repeatable (any of them).",
    )
    open_exception = StrictBooleanFilter(
        help_text="Has an unresolved exception of any reason (`false`: has none)."
    )
    account = AnyValuesFilter(field_name="customer_account__number", help_text=ACCOUNT_HELP)
    carrier = text("Carrier SCAC or name, ignoring case.")
    carrier_scac = text("Carrier SCAC, ignoring case.")
    mode = django_filters.ChoiceFilter(choices=TransportMode.choices, help_text="Transport mode.")
    load_id = text("Load id, exact.")
    origin_country = text("Origin country code, ignoring case.")
    origin_city = text("Origin city, ignoring case.")
    destination_country = text("Destination country code, ignoring case.")
    destination_city = text("Destination city, ignoring case.")
    origin = text("A part of the origin city, or the origin country code; ignoring case.")
    destination = text(
        "A part of the destination city, or the destination country code; ignoring case."
    )
    reference = text(
        "Any reference of the shipment (id, load id, tracking number, document id) or of the "
        "caller's orders on it (order number, customer PO); exact, ignoring case, spaces "
        "and dashes."
    )
    tracking_number = text("Carrier tracking number, exact.")
    order_number = text("One of the caller's orders on the shipment.")
    eta_after = moment("ETA at or after")
    eta_before = moment("ETA at or before")
    promised_after = day("Promised on or after")
    promised_before = day("Promised on or before")
    delivered_after = moment("Delivered at or after")
    delivered_before = moment("Delivered at or before")
    updated_after = moment("Changed at or after this server time")
    updated_before = moment("Changed at or before this server time")
    updated_since = moment(UPDATED_SINCE_HELP)
    documents_after = moment("Has a document received at or after")
    expand = ChoicesCsvFilter(
        choices=[(name, name) for name in selectors.SHIPMENT_EXPANSIONS],
        help_text=(
            "Comma-separated: also answer each row's milestones, eta_history, stops, "
            "charges (`freight_charges`: the finance grant's only) or documents, at one "
            "query per expansion for the whole page."
        ),
    )

    selector_names = {
        "q": "text",
        "status": "statuses",
        "account": "accounts",
        "exception_reason": "exception_reasons",
    }
    orderings = {
        "-created": ("-id",),
        "created": ("id",),
        "shipment_id": ("shipment_id",),
        "-shipment_id": ("-shipment_id",),
    }
    default_ordering = "-created"

    class Meta:
        model = Shipment
        fields: ClassVar[list[str]] = []


ShipmentFilterSet.base_filters["ordering"] = ordering_filter(ShipmentFilterSet)


class OrderFilterSet(SelectorFilterSet):
    """Parameters of `GET /api/v1/orders` (`selectors.order_list`)."""

    status = django_filters.MultipleChoiceFilter(
        choices=ShipmentStatus.choices, help_text="Status, repeatable (any of them)."
    )
    at_risk = StrictBooleanFilter(help_text="An open shipment of the order is late or overdue.")
    account = AnyValuesFilter(field_name="customer_account__number", help_text=ACCOUNT_HELP)
    order_number = text("Order number, exact.")
    q = text("A part of the order number or customer PO.")
    reference = text(
        "Any reference of the order (order number, customer PO); exact, ignoring case, "
        "spaces and dashes."
    )
    shipment_id = text("A shipment carrying the order.")
    date_from = day("Order date on or after")
    date_to = day("Order date on or before")
    requested_after = day("Requested delivery on or after")
    requested_before = day("Requested delivery on or before")
    updated_after = moment("Changed at or after this server time")
    updated_before = moment("Changed at or before this server time")
    updated_since = moment(UPDATED_SINCE_HELP)

    selector_names = {"status": "statuses", "account": "accounts", "q": "text"}
    orderings = {
        "-created": ("-id",),
        "created": ("id",),
        "order_number": ("order_number",),
        "-order_number": ("-order_number",),
    }
    default_ordering = "-created"

    class Meta:
        model = Order
        fields: ClassVar[list[str]] = []


OrderFilterSet.base_filters["ordering"] = ordering_filter(OrderFilterSet)


class InvoiceFilterSet(SelectorFilterSet):
    """Parameters of `GET /api/v1/invoices` (`selectors.invoice_list`)."""

    status = django_filters.ChoiceFilter(
        choices=Invoice.Status.choices, help_text="Derived status."
    )
    account = AnyValuesFilter(field_name="customer_account__number", help_text=ACCOUNT_HELP)
    order_number = text("An order the invoice bills.")
    shipment_id = text("A shipment the invoice bills.")
    due_from = day("Due on or after")
    due_to = day("Due on or before")
    issued_after = day("Issued on or after")
    issued_before = day("Issued on or before")
    updated_after = moment("Changed at or after this server time")
    updated_before = moment("Changed at or before this server time")
    updated_since = moment(UPDATED_SINCE_HELP)

    selector_names = {"account": "accounts"}
    orderings = {
        "-created": ("-id",),
        "created": ("id",),
        "invoice_number": ("invoice_number",),
        "-invoice_number": ("-invoice_number",),
    }
    default_ordering = "-created"

    class Meta:
        model = Invoice
        fields: ClassVar[list[str]] = []


InvoiceFilterSet.base_filters["ordering"] = ordering_filter(InvoiceFilterSet)

OPEN_STATUSES = [
    (value, label)
    for value, label in ShipmentException.Status.choices
    if value != ShipmentException.Status.RESOLVED
]


class ExceptionFilterSet(SelectorFilterSet):
    """Parameters of `GET /api/v1/exceptions` (`selectors.open_exceptions`)."""

    reason = django_filters.MultipleChoiceFilter(
        choices=ExceptionReason.choices, help_text="Reason, repeatable (any of them)."
    )
    status = django_filters.MultipleChoiceFilter(
        choices=OPEN_STATUSES, help_text="Status, repeatable (any of them)."
    )
    shipment_id = text("The shipment's exceptions only.")
    opened_after = moment("Opened at or after")
    opened_before = moment("Opened at or before")

    selector_names = {"reason": "reasons", "status": "statuses"}
    orderings = {"opened": ("opened_at", "id")}
    default_ordering = "opened"

    class Meta:
        model = ShipmentException
        fields: ClassVar[list[str]] = []


class DocumentFilterSet(SelectorFilterSet):
    """Parameters of `GET /api/v1/documents` (`selectors.document_list`)."""

    shipment = text("Documents filed under this shipment (its id).")
    order = text("Documents filed under this order (its number).")
    invoice = text("Documents filed under this invoice (its number).")
    kind = django_filters.MultipleChoiceFilter(
        choices=Document.DocumentType.choices, help_text="Document type, repeatable."
    )
    updated_since = moment(UPDATED_SINCE_HELP)

    selector_names = {
        "shipment": "shipment_id",
        "order": "order_number",
        "invoice": "invoice_number",
        "kind": "document_types",
    }
    orderings = {"-created": ("-id",)}
    default_ordering = "-created"

    class Meta:
        model = Document
        fields: ClassVar[list[str]] = []


class SelectorFilterBackend(DjangoFilterBackend):
    """Names each list's FilterSet (so drf-spectacular documents its parameters) but
    filters nothing: the view's selector already did, with the FilterSet's cleaned data."""

    def filter_queryset(self, request: HttpRequest, queryset: Any, view: Any) -> Any:
        return queryset


def selector_arguments(
    query: type[serializers.Serializer], params: QueryDict | dict[str, Any]
) -> dict[str, Any]:
    """A selector's keyword arguments from a query string parsed by a DRF serializer
    (the change feed's); a bad value raises DRF's ValidationError (400 naming it)."""
    parsed = query(data=params)
    parsed.is_valid(raise_exception=True)
    return dict(parsed.validated_data)
