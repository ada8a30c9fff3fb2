"""Validation of the canonical event contract v1 (docs/EVENTS.md).

`validate_event` takes one decoded JSON value and returns the field-level errors
(`[{"field": "data.lines[2].quantity", "message": "..."}]`); an empty list means the event
is valid. It never raises on bad input: errors are data.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from core.timestamps import parse_timestamp
from visibility.event_types import EventType

SUPPORTED_MAJOR_VERSION = 1
MAX_EVENT_ID_LENGTH = 128
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

MILESTONES = (
    "picked_up",
    "departed_origin",
    "arrived_hub",
    "departed_hub",
    "in_transit",
    "out_for_delivery",
    "delivery_attempted",
    "delivered",
    "exception",
)
MODES = ("parcel", "ltl", "ftl", "ocean", "air", "rail")
STOP_TYPES = ("pickup", "delivery")
ETA_BASES = ("planned", "carrier", "predicted")
DOCUMENT_TYPES = ("pod", "bol", "commercial_invoice", "packing_list", "customs")
CHARGE_TYPES = ("linehaul", "fuel", "accessorial", "duty")

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_MONEY = re.compile(r"^-?\d{1,14}(\.\d{1,4})?$")


@dataclass
class Errors:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append({"field": path, "message": message})


# --- primitive checks ------------------------------------------------------------------
# Each returns True when the value is acceptable, after recording an error otherwise.


def _string(errors: Errors, path: str, value: Any, *, max_length: int = 500) -> bool:
    if not isinstance(value, str) or not value.strip():
        errors.add(path, "must be a non-empty string")
        return False
    if len(value) > max_length:
        errors.add(path, f"must be at most {max_length} characters")
        return False
    return True


def _optional_string(errors: Errors, path: str, value: Any, *, max_length: int = 500) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        errors.add(path, "must be a string")
    elif len(value) > max_length:
        errors.add(path, f"must be at most {max_length} characters")


def _timestamp(errors: Errors, path: str, value: Any) -> bool:
    if not isinstance(value, str) or not _RFC3339.match(value):
        errors.add(
            path, "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-20T10:15:00+01:00"
        )
        return False
    try:
        parse_timestamp(value)
    except ValueError:
        errors.add(path, f"is not a real date and time: {value!r}")
        return False
    return True


def _optional_timestamp(errors: Errors, path: str, value: Any) -> None:
    if value is not None:
        _timestamp(errors, path, value)


def _optional_date(errors: Errors, path: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str) and len(value) == 10:
        try:
            date.fromisoformat(value)
            return
        except ValueError:
            pass
    errors.add(path, "must be a date as YYYY-MM-DD")


def _choice(errors: Errors, path: str, value: Any, choices: tuple[str, ...], noun: str) -> bool:
    if not isinstance(value, str) or value not in choices:
        errors.add(path, f"unknown {noun} {value!r}; expected one of: {', '.join(choices)}")
        return False
    return True


def _optional_choice(
    errors: Errors, path: str, value: Any, choices: tuple[str, ...], noun: str
) -> None:
    if value is not None:
        _choice(errors, path, value, choices, noun)


def _decimal(errors: Errors, path: str, value: Any, *, positive: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors.add(path, "must be a number")
        return False
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.add(path, f"must be a number, not {value!r}")
        return False
    if not number.is_finite():
        errors.add(path, "must be a finite number")
        return False
    if positive and number <= 0:
        errors.add(path, "must be greater than zero")
        return False
    if abs(number) >= Decimal("1e11"):
        errors.add(path, "is too large")
        return False
    return True


def _money(errors: Errors, path: str, value: Any) -> bool:
    if not isinstance(value, str) or not _MONEY.match(value):
        errors.add(path, 'must be a decimal string such as "1234.50"')
        return False
    return True


def _currency(errors: Errors, path: str, value: Any) -> bool:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        errors.add(path, "must be an ISO 4217 currency code such as EUR")
        return False
    return True


def _integer(errors: Errors, path: str, value: Any, *, minimum: int | None = None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "must be an integer")
        return False
    if minimum is not None and value < minimum:
        errors.add(path, f"must be at least {minimum}")
        return False
    if value > 2**62:
        errors.add(path, "is too large")
        return False
    return True


def _object(errors: Errors, path: str, value: Any) -> bool:
    if not isinstance(value, dict):
        errors.add(path, "must be an object")
        return False
    return True


def _list(errors: Errors, path: str, value: Any, *, required: bool = False) -> bool:
    if value is None and not required:
        return False
    if not isinstance(value, list):
        errors.add(path, "must be a list")
        return False
    if required and not value:
        errors.add(path, "must not be empty")
        return False
    return True


def _location(errors: Errors, path: str, value: Any) -> None:
    if value is None:
        return
    if not _object(errors, path, value):
        return
    _string(errors, f"{path}.city", value.get("city"), max_length=200)
    country = value.get("country")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        errors.add(f"{path}.country", "must be an ISO 3166-1 alpha-2 country code such as DE")
    for name in ("name", "postal_code", "region", "location_code"):
        _optional_string(errors, f"{path}.{name}", value.get(name), max_length=200)
    lines = value.get("address_lines")
    if _list(errors, f"{path}.address_lines", lines):
        for index, line in enumerate(lines):
            _optional_string(errors, f"{path}.address_lines[{index}]", line, max_length=200)
    for name, bound in (("lat", 90), ("lon", 180)):
        coordinate = value.get(name)
        if coordinate is None:
            continue
        if isinstance(coordinate, bool) or not isinstance(coordinate, int | float):
            errors.add(f"{path}.{name}", "must be a number")
        elif not -bound <= coordinate <= bound:
            errors.add(f"{path}.{name}", f"must be between -{bound} and {bound}")


def _string_list(errors: Errors, path: str, value: Any, *, max_length: int = 64) -> None:
    if _list(errors, path, value):
        for index, item in enumerate(value):
            _string(errors, f"{path}[{index}]", item, max_length=max_length)


# --- per-type data checks --------------------------------------------------------------


def _order_released(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.order_number", data.get("order_number"), max_length=64)
    _string(errors, "data.customer_account", data.get("customer_account"), max_length=64)
    _optional_string(errors, "data.customer_po", data.get("customer_po"), max_length=64)
    _optional_date(errors, "data.order_date", data.get("order_date"))
    _optional_date(errors, "data.requested_delivery_date", data.get("requested_delivery_date"))
    _location(errors, "data.ship_from", data.get("ship_from"))
    _location(errors, "data.ship_to", data.get("ship_to"))
    lines = data.get("lines")
    if lines is None:
        errors.add("data.lines", "is required")
        return
    if not _list(errors, "data.lines", lines, required=True):
        return
    seen: set[int] = set()
    for index, line in enumerate(lines):
        path = f"data.lines[{index}]"
        if not _object(errors, path, line):
            continue
        if _integer(errors, f"{path}.line_number", line.get("line_number"), minimum=1):
            if line["line_number"] in seen:
                errors.add(f"{path}.line_number", f"duplicate line number {line['line_number']}")
            seen.add(line["line_number"])
        _string(errors, f"{path}.sku", line.get("sku"), max_length=64)
        _optional_string(errors, f"{path}.description", line.get("description"))
        if "quantity" not in line:
            errors.add(f"{path}.quantity", "is required")
        else:
            _decimal(errors, f"{path}.quantity", line.get("quantity"), positive=True)
        _optional_string(errors, f"{path}.uom", line.get("uom"), max_length=16)
        if line.get("weight_kg") is not None:
            _decimal(errors, f"{path}.weight_kg", line.get("weight_kg"))


def _order_cancelled(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.order_number", data.get("order_number"), max_length=64)
    _optional_string(errors, "data.reason", data.get("reason"))


def _carrier(errors: Errors, path: str, value: Any, *, required: bool) -> None:
    if value is None:
        if required:
            errors.add(path, "is required")
        return
    if not _object(errors, path, value):
        return
    if required or value.get("scac") is not None:
        _string(errors, f"{path}.scac", value.get("scac"), max_length=8)
    _optional_string(errors, f"{path}.name", value.get("name"), max_length=200)


def _shipment_created(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.shipment_id", data.get("shipment_id"), max_length=64)
    _optional_string(errors, "data.load_id", data.get("load_id"), max_length=64)
    orders = data.get("orders")
    if orders is None:
        errors.add("data.orders", "is required")
    elif _list(errors, "data.orders", orders, required=True):
        for index, order in enumerate(orders):
            path = f"data.orders[{index}]"
            if not _object(errors, path, order):
                continue
            _string(errors, f"{path}.order_number", order.get("order_number"), max_length=64)
            line_numbers = order.get("line_numbers")
            if _list(errors, f"{path}.line_numbers", line_numbers):
                for line_index, number in enumerate(line_numbers):
                    _integer(errors, f"{path}.line_numbers[{line_index}]", number, minimum=1)
    _carrier(errors, "data.carrier", data.get("carrier"), required=False)
    _optional_choice(errors, "data.mode", data.get("mode"), MODES, "mode")
    _optional_string(errors, "data.service_level", data.get("service_level"), max_length=64)
    _string_list(errors, "data.tracking_numbers", data.get("tracking_numbers"))
    _location(errors, "data.origin", data.get("origin"))
    _location(errors, "data.destination", data.get("destination"))
    stops = data.get("stops")
    if _list(errors, "data.stops", stops):
        for index, stop in enumerate(stops):
            path = f"data.stops[{index}]"
            if not _object(errors, path, stop):
                continue
            _integer(errors, f"{path}.sequence", stop.get("sequence"), minimum=0)
            _choice(errors, f"{path}.type", stop.get("type"), STOP_TYPES, "stop type")
            _location(errors, f"{path}.location", stop.get("location"))
            _optional_timestamp(errors, f"{path}.planned_arrival", stop.get("planned_arrival"))
    _optional_timestamp(errors, "data.planned_pickup_at", data.get("planned_pickup_at"))
    _optional_timestamp(errors, "data.planned_delivery_at", data.get("planned_delivery_at"))


def _tender_accepted(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.shipment_id", data.get("shipment_id"), max_length=64)
    _carrier(errors, "data.carrier", data.get("carrier"), required=True)
    _optional_timestamp(errors, "data.accepted_at", data.get("accepted_at"))


def _milestone(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.shipment_id", data.get("shipment_id"), max_length=64)
    milestone, code = data.get("milestone"), data.get("carrier_status_code")
    if milestone is None and code is None:
        errors.add("data.milestone", "milestone or carrier_status_code is required")
    if milestone is not None:
        _choice(errors, "data.milestone", milestone, MILESTONES, "milestone")
    if code is not None and (not isinstance(code, str) or not re.match(r"^[A-Z0-9]{1,3}$", code)):
        errors.add("data.carrier_status_code", "must be an X12 214 status code such as X6")
    _location(errors, "data.location", data.get("location"))
    if data.get("stop_sequence") is not None:
        _integer(errors, "data.stop_sequence", data.get("stop_sequence"), minimum=0)
    _optional_string(errors, "data.remarks", data.get("remarks"), max_length=1000)
    _optional_string(errors, "data.received_by", data.get("received_by"), max_length=200)
    if code == "AG" and milestone is None:
        _optional_timestamp(errors, "data.eta", data.get("eta"))


def _eta_updated(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.shipment_id", data.get("shipment_id"), max_length=64)
    _timestamp(errors, "data.eta", data.get("eta"))
    _optional_timestamp(errors, "data.eta_window_start", data.get("eta_window_start"))
    _optional_timestamp(errors, "data.eta_window_end", data.get("eta_window_end"))
    _optional_choice(errors, "data.basis", data.get("basis"), ETA_BASES, "ETA basis")


def _delayed(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.shipment_id", data.get("shipment_id"), max_length=64)
    code = data.get("reason_code")
    if not isinstance(code, str) or not re.match(r"^[A-Z0-9]{2,3}$", code):
        errors.add("data.reason_code", "must be an X12 1651 status reason code such as AO")
    _optional_string(errors, "data.reason_text", data.get("reason_text"))
    _optional_timestamp(errors, "data.new_eta", data.get("new_eta"))


def _document_available(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.document_id", data.get("document_id"), max_length=128)
    _choice(
        errors, "data.document_type", data.get("document_type"), DOCUMENT_TYPES, "document type"
    )
    references = [
        name
        for name in ("shipment_id", "order_number", "invoice_number")
        if data.get(name) is not None
    ]
    if not references:
        errors.add(
            "data.shipment_id", "one of shipment_id, order_number or invoice_number is required"
        )
    for name in references:
        _string(errors, f"data.{name}", data.get(name), max_length=64)
    filename = data.get("filename")
    if _string(errors, "data.filename", filename, max_length=255) and (
        "/" in filename or "\\" in filename or filename in {".", ".."}
    ):
        errors.add("data.filename", "must be a file name without a path")
    _string(errors, "data.content_type", data.get("content_type"), max_length=100)
    content = data.get("content_base64")
    if not isinstance(content, str) or not content:
        errors.add("data.content_base64", "must be a non-empty base64 string")
    elif len(content) > (MAX_DOCUMENT_BYTES * 4) // 3 + 8:
        errors.add("data.content_base64", "decoded content must be at most 10 MB")
    else:
        try:
            decoded = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            errors.add("data.content_base64", "is not valid base64")
        else:
            if len(decoded) > MAX_DOCUMENT_BYTES:
                errors.add("data.content_base64", "decoded content must be at most 10 MB")


def _invoice_posted(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.invoice_number", data.get("invoice_number"), max_length=64)
    _string(errors, "data.customer_account", data.get("customer_account"), max_length=64)
    _string_list(errors, "data.order_numbers", data.get("order_numbers"))
    _string_list(errors, "data.shipment_ids", data.get("shipment_ids"))
    _optional_date(errors, "data.issue_date", data.get("issue_date"))
    _optional_date(errors, "data.due_date", data.get("due_date"))
    _currency(errors, "data.currency", data.get("currency"))
    _money(errors, "data.total_amount", data.get("total_amount"))
    lines = data.get("lines")
    if _list(errors, "data.lines", lines):
        for index, line in enumerate(lines):
            path = f"data.lines[{index}]"
            if _object(errors, path, line):
                _optional_string(errors, f"{path}.description", line.get("description"))
                _money(errors, f"{path}.amount", line.get("amount"))


def _invoice_paid(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.invoice_number", data.get("invoice_number"), max_length=64)
    _optional_timestamp(errors, "data.paid_at", data.get("paid_at"))
    if data.get("amount") is not None:
        _money(errors, "data.amount", data.get("amount"))


def _freight_charge(errors: Errors, data: dict[str, Any]) -> None:
    _string(errors, "data.shipment_id", data.get("shipment_id"), max_length=64)
    _string(errors, "data.charge_id", data.get("charge_id"), max_length=64)
    _choice(errors, "data.charge_type", data.get("charge_type"), CHARGE_TYPES, "charge type")
    _money(errors, "data.amount", data.get("amount"))
    _currency(errors, "data.currency", data.get("currency"))


# One validator per event type, keyed by the one enum (tests/test_event_types.py).
DATA_VALIDATORS: dict[EventType, Callable[[Errors, dict[str, Any]], None]] = {
    EventType.ORDER_RELEASED: _order_released,
    EventType.ORDER_CANCELLED: _order_cancelled,
    EventType.SHIPMENT_CREATED: _shipment_created,
    EventType.SHIPMENT_TENDER_ACCEPTED: _tender_accepted,
    EventType.SHIPMENT_MILESTONE: _milestone,
    EventType.SHIPMENT_ETA_UPDATED: _eta_updated,
    EventType.SHIPMENT_DELAYED: _delayed,
    EventType.DOCUMENT_AVAILABLE: _document_available,
    EventType.INVOICE_POSTED: _invoice_posted,
    EventType.INVOICE_PAID: _invoice_paid,
    EventType.FREIGHT_CHARGE_POSTED: _freight_charge,
}


def _spec_version(errors: Errors, value: Any) -> None:
    if not isinstance(value, str) or not re.match(r"^\d+\.\d+$", value):
        errors.add("spec_version", 'must be a version string such as "1.0"')
        return
    major = int(value.split(".")[0])
    if major != SUPPORTED_MAJOR_VERSION:
        errors.add(
            "spec_version",
            f"unsupported major version {major}; this portal accepts "
            f'contract v{SUPPORTED_MAJOR_VERSION} ("1.x")',
        )


def validate_event(event: Any, *, authenticated_source: str) -> list[dict[str, str]]:
    """Return the contract violations of one event; empty when it is valid."""
    errors = Errors()
    if not isinstance(event, dict):
        errors.add("", "an event must be a JSON object")
        return errors.items
    _spec_version(errors, event.get("spec_version"))
    event_id = event.get("event_id")
    _string(errors, "event_id", event_id, max_length=MAX_EVENT_ID_LENGTH)
    event_type = event.get("event_type")
    known_type = isinstance(event_type, str) and event_type in DATA_VALIDATORS
    if not known_type:
        errors.add(
            "event_type",
            f"unknown event type {event_type!r}; expected one of: {', '.join(DATA_VALIDATORS)}",
        )
    source = event.get("source")
    if _string(errors, "source", source, max_length=64) and source != authenticated_source:
        errors.add(
            "source", f"{source!r} does not match the authenticated source {authenticated_source!r}"
        )
    _timestamp(errors, "occurred_at", event.get("occurred_at"))
    if "sequence" in event and event["sequence"] is not None:
        _integer(errors, "sequence", event["sequence"], minimum=0)
    data = event.get("data")
    if data is None:
        errors.add("data", "is required")
    elif _object(errors, "data", data) and known_type:
        DATA_VALIDATORS[event_type](errors, data)
    return errors.items
