"""Objects shaped from rows (`values()`, visibility/rows.py) as the REST serializers
shape model instances: the REST shipment list with its `expand=`
(visibility/api/views.py). (The change feed's objects are written by PostgreSQL:
visibility/feed_objects.py.)

Each value goes through the serializer's own field, so a value reads the same in both
(tests/visibility/test_rest_mirror.py compares lists with `expand` with the dataset); the
serializers stay the one definition of each shape (and of the OpenAPI document). Building
model instances and running DRF's field machinery per object was most of a page's time
(docs/BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import tzinfo
from types import SimpleNamespace
from typing import Any

from django.db.models import Field, Model
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from visibility import selectors
from visibility.api.serializers import (
    EtaUpdateSerializer,
    FreightChargeSerializer,
    MilestoneSerializer,
    ShipmentDocumentSerializer,
    ShipmentListSerializer,
    ShipmentStopSerializer,
)
from visibility.flags import FLAG_FIELDS, shipment_flags, slip_in_words
from visibility.models import ShipmentEvent
from visibility.rows import Row

Convert = Callable[[Any], Any]
# (name, the field's conversion or None when it gives a database value back unchanged,
# whether it is a datetime shown in ISO 8601)
Converter = tuple[str, Convert | None, bool]

# DRF fields whose `to_representation` returns the value a row holds as it is (a str, a
# bool, an int, a JSON value, a list of str): skipped, it was most of the objects' time.
_UNCHANGED = (
    serializers.CharField,
    serializers.ChoiceField,
    serializers.BooleanField,
    serializers.IntegerField,
    serializers.JSONField,
)


def iso_datetime(field: serializers.Field) -> bool:
    """A DateTimeField DRF writes as ISO 8601 in the current time zone: converted here
    the same way with the time zone read once per object (`_plain`), not once per value
    (reading it through asgiref's Local was most of a 1,000-entry page's JSON time)."""
    return (
        isinstance(field, serializers.DateTimeField)
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
        and api_settings.DATETIME_FORMAT == ISO_8601
        and not hasattr(field, "timezone")
    )


def unchanged(field: serializers.Field) -> bool:
    if isinstance(field, serializers.ListField):
        return isinstance(field.child, serializers.CharField)
    return type(field) in _UNCHANGED


def fields_of(serializer: type[serializers.Serializer], names: list[str]) -> list[Converter]:
    fields = serializer().fields
    return [
        (
            name,
            None if unchanged(fields[name]) else fields[name].to_representation,
            iso_datetime(fields[name]),
        )
        for name in names
    ]


def plain(row: Row, converters: list[Converter], tz: tzinfo) -> dict:
    """DRF's rule: a None is None, anything else goes through the field (a datetime:
    DateTimeField.to_representation's ISO 8601 branch, in the time zone `tz`)."""
    data: dict[str, Any] = {}
    for name, convert, iso_datetime in converters:
        value = row[name]
        if value is None or convert is None:
            data[name] = value
        elif iso_datetime and not isinstance(value, str):
            text = value.astimezone(tz).isoformat()
            data[name] = text[:-6] + "Z" if text.endswith("+00:00") else text
        else:
            data[name] = convert(value)
    return data


_MILESTONE = fields_of(
    MilestoneSerializer, [name for name in MilestoneSerializer.Meta.fields if name != "milestone"]
)
_ETA_UPDATE = fields_of(
    EtaUpdateSerializer, [name for name in EtaUpdateSerializer.Meta.fields if name != "basis"]
)
_BASIS = EtaUpdateSerializer().fields["basis"].to_representation
_CHARGE = fields_of(FreightChargeSerializer, list(FreightChargeSerializer().fields))
_STOP = fields_of(ShipmentStopSerializer, list(ShipmentStopSerializer.Meta.fields))
_DOCUMENT = fields_of(ShipmentDocumentSerializer, list(ShipmentDocumentSerializer.Meta.fields))


def labels(model: type[Model], field_name: str) -> dict[str, str]:
    """A choice field's labels by value, as `get_<field>_display` gives them."""
    field = model._meta.get_field(field_name)
    assert isinstance(field, Field)
    return {str(value): str(label) for value, label in field.flatchoices}


def milestones_json(history: list[Row], tz: tzinfo) -> list[dict]:
    """`MilestoneSerializer` of a shipment's history facts (oldest first)."""
    return [
        {"milestone": fact["milestone"] or None, **plain(fact, _MILESTONE, tz)}
        for fact in history
        if fact["kind"] == ShipmentEvent.Kind.MILESTONE
    ]


def eta_history_json(history: list[Row], tz: tzinfo) -> list[dict]:
    """`EtaUpdateSerializer` of the facts `selectors.eta_history` keeps."""
    return [
        {**plain(fact, _ETA_UPDATE, tz), "basis": _BASIS(fact["eta_basis"])}
        for fact in history
        if selectors.is_eta_update(fact["kind"], fact["eta"], fact["eta_window_start"])
    ]


def charges_json(charges: list[Row], tz: tzinfo) -> list[dict]:
    return [plain(charge, _CHARGE, tz) for charge in charges]


_LIST_SPECIAL = {"customer_account", "orders", "late_by", "flags"}
_LIST_FIELDS = list(ShipmentListSerializer.Meta.fields)
_LIST_PLAIN = fields_of(
    ShipmentListSerializer, [name for name in _LIST_FIELDS if name not in _LIST_SPECIAL]
)
# What a list row reads: the serializer's columns, the annotations it shows
# (`account_number`, `order_numbers`), `id` for the expansions and `updated_at` for
# Last-Modified.
SHIPMENT_LIST_COLUMNS = (
    "id",
    "updated_at",
    "account_number",
    "order_numbers",
    *(name for name, _, _ in _LIST_PLAIN),
    *(name for name in FLAG_FIELDS if name not in {name for name, _, _ in _LIST_PLAIN}),
)


def shipment_list_json(
    row: Row,
    parts: Mapping[str, Mapping[int, list[Row]]],
    expand: Collection[str],
    tz: tzinfo,
) -> dict:
    """`ShipmentListSerializer` of a list row, with what the request expands (`parts`:
    `visibility.rows.expansion_rows`)."""
    data = plain(row, _LIST_PLAIN, tz)
    special = {
        "customer_account": row["account_number"],
        "orders": list(row["order_numbers"] or ()),
        "late_by": slip_in_words(row["late_by_hours"]),
        "flags": shipment_flags(SimpleNamespace(**{name: row[name] for name in FLAG_FIELDS})),
    }
    result = {name: special[name] if name in special else data[name] for name in _LIST_FIELDS}
    if not expand:
        return result
    shipment = row["id"]
    if "milestones" in expand:
        result["milestones"] = milestones_json(parts["history"].get(shipment, []), tz)
    if "eta_history" in expand:
        result["eta_history"] = eta_history_json(parts["history"].get(shipment, []), tz)
    if "stops" in expand:
        result["stops"] = [plain(stop, _STOP, tz) for stop in parts["stops"].get(shipment, [])]
    if "charges" in expand:
        result["freight_charges"] = charges_json(parts["charges"].get(shipment, []), tz)
    if "documents" in expand:
        result["documents"] = [
            plain(document, _DOCUMENT, tz) for document in parts["documents"].get(shipment, [])
        ]
    return result
