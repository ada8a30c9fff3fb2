"""Validation of the canonical event contract v1 (docs/EVENTS.md).

`validate_event` takes one decoded JSON value and returns the field-level errors
(`[{"field": "data.lines[2].quantity", "message": "..."}]`); an empty list means the event
is valid. It never raises on bad input: errors are data.

The limits (contract 1.1, "Limits") are what the storage can hold: whatever passes here
must never fail later because of its size or range (a year-1 timestamp that Python cannot
read back, a line number beyond PostgreSQL's `integer`, a NUL or a lone surrogate that
`jsonb` refuses). `json_limit_errors` checks what any JSON value can carry, the per-type
validators check each field the portal reads.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from core.timestamps import parse_timestamp
from visibility.event_types import EventType

SUPPORTED_MAJOR_VERSION = 1
MAX_EVENT_ID_LENGTH = 128
MAX_IDENTIFIER_LENGTH = 128
MAX_TEXT_LENGTH = 1000
MAX_LIST_ITEMS = 1000
MAX_JSON_DEPTH = 32
MAX_INTEGER = 2**31 - 1  # PostgreSQL `integer`: line numbers, stop sequences
MAX_DIGITS_BEFORE_POINT = 18
MAX_DIGITS_AFTER_POINT = 6
MAX_MONEY_DIGITS_AFTER_POINT = 2
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2100, 1, 1)
# A sender's clock may run a little ahead of ours; an event from further ahead is an error
# (it would stay "newest" for ever). Intake passes settings.EVENTS_MAX_CLOCK_SKEW_HOURS.
MAX_CLOCK_SKEW = timedelta(hours=24)

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
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_NEWLINE_AND_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# json.loads turns a pair of surrogate escapes into one character; what remains is lone,
# and neither UTF-8 nor PostgreSQL can hold it.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass
class Errors:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append({"field": path, "message": message})


def _shown(value: Any) -> str:
    """A sent value quoted in a message, cut short: a message never carries a whole body."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- what any JSON value may carry -----------------------------------------------------


def _child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def json_limit_errors(value: Any) -> list[dict[str, str]]:
    """What PostgreSQL's jsonb (and the contract) refuse anywhere in a value, ignored fields
    included: nesting deeper than MAX_JSON_DEPTH, lone surrogates and NUL in strings or
    keys, NaN and Infinity. Iterative, so a value nested as deep as the parser allows is
    judged without recursion."""
    errors = Errors()
    stack: list[tuple[str, Any, int]] = [("", value, 1)]
    while stack:
        path, item, depth = stack.pop()
        if isinstance(item, str):
            _check_json_string(errors, path, item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                errors.add(path, "must be a finite number (NaN and Infinity are not JSON)")
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                errors.add(path, f"nests deeper than {MAX_JSON_DEPTH} levels")
                continue
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                child_path = _child_path(path, key)
                if isinstance(key, str):
                    _check_json_string(errors, child_path, key, what="its name")
                stack.append((child_path, child, depth + 1))
    errors.items.sort(key=lambda error: error["field"])
    return errors.items


def is_storable_text(value: str) -> bool:
    """Whether PostgreSQL can hold `value` as text: no NUL and no lone surrogate."""
    return "\x00" not in value and not _SURROGATE.search(value)


def _check_json_string(errors: Errors, path: str, value: str, *, what: str = "text") -> None:
    if _SURROGATE.search(value):
        errors.add(path, f"{what} is not valid Unicode (a lone surrogate such as \\ud800)")
    if "\x00" in value:
        errors.add(path, f"{what} must not contain NUL characters")


def storable_copy(value: Any, *, depth: int = 1) -> Any:
    """A copy of a sent value that PostgreSQL can store: lone surrogates and NUL become
    U+FFFD, NaN and Infinity their names as strings, nesting beyond the limit a note. Kept
    with a rejected event, beside the errors that say what was replaced."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value).replace("\x00", "\ufffd")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict | list) and depth > MAX_JSON_DEPTH:
        return f"(nested deeper than {MAX_JSON_DEPTH} levels; not kept)"
    if isinstance(value, dict):
        return {
            storable_copy(key): storable_copy(child, depth=depth + 1)
            for key, child in value.items()
        }
    if isinstance(value, list):
        return [storable_copy(child, depth=depth + 1) for child in value]
    return value


# --- primitive checks ------------------------------------------------------------------
# Each returns True when the value is acceptable, after recording an error otherwise. Lone
# surrogates and NUL never reach them: json_limit_errors rejects the event first.


def _identifier(errors: Errors, path: str, value: Any) -> bool:
    """Keys, numbers and codes: 1 to 128 characters, no control characters, no leading or
    trailing spaces; any other Unicode (including "/") is allowed."""
    if not isinstance(value, str) or not value:
        errors.add(path, "must be a non-empty string")
        return False
    if len(value) > MAX_IDENTIFIER_LENGTH:
        errors.add(path, f"must be at most {MAX_IDENTIFIER_LENGTH} characters")
        return False
    if _CONTROL.search(value):
        errors.add(path, "must not contain control characters (U+0000-U+001F, U+007F)")
        return False
    if value[0].isspace() or value[-1].isspace():
        errors.add(path, "must not start or end with spaces")
        return False
    return True


def _optional_identifier(errors: Errors, path: str, value: Any) -> None:
    if value is not None:
        _identifier(errors, path, value)


def _text(errors: Errors, path: str, value: Any, *, multiline: bool = False) -> bool:
    """Names, descriptions, remarks: at most 1,000 characters, no control characters
    (newline and tab are allowed where the text may span lines)."""
    if not isinstance(value, str):
        errors.add(path, "must be a string")
        return False
    if len(value) > MAX_TEXT_LENGTH:
        errors.add(path, f"must be at most {MAX_TEXT_LENGTH} characters")
        return False
    control = _CONTROL_BUT_NEWLINE_AND_TAB if multiline else _CONTROL
    if control.search(value):
        allowed = " other than newline and tab" if multiline else ""
        errors.add(path, f"must not contain control characters{allowed}")
        return False
    return True


def _required_text(errors: Errors, path: str, value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        errors.add(path, "must be a non-empty string")
        return False
    return _text(errors, path, value)


def _optional_text(errors: Errors, path: str, value: Any, *, multiline: bool = False) -> None:
    if value is not None:
        _text(errors, path, value, multiline=multiline)


def _timestamp(errors: Errors, path: str, value: Any, *, not_after: datetime | None = None) -> bool:
    if not isinstance(value, str) or not _RFC3339.match(value):
        errors.add(
            path, "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-20T10:15:00+01:00"
        )
        return False
    try:
        moment = parse_timestamp(value)
        in_range = EARLIEST_TIME <= moment <= LATEST_TIME
    except (ValueError, OverflowError):
        errors.add(path, f"is not a real date and time: {_shown(value)}")
        return False
    if not in_range:
        errors.add(path, "must be between 1970-01-01 and 2100-01-01 (UTC)")
        return False
    if not_after is not None and moment > not_after:
        errors.add(path, "is too far in the future (check the sender's clock)")
        return False
    return True


def _optional_timestamp(errors: Errors, path: str, value: Any) -> None:
    if value is not None:
        _timestamp(errors, path, value)


def _optional_date(errors: Errors, path: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str) and _DATE.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if EARLIEST_DATE <= day <= LATEST_DATE:
                return
            errors.add(path, "must be between 1970-01-01 and 2100-01-01")
            return
    errors.add(path, "must be a date as YYYY-MM-DD")


def _choice(errors: Errors, path: str, value: Any, choices: tuple[str, ...], noun: str) -> bool:
    if not isinstance(value, str) or value not in choices:
        errors.add(path, f"unknown {noun} {_shown(value)}; expected one of: {', '.join(choices)}")
        return False
    return True


def _optional_choice(
    errors: Errors, path: str, value: Any, choices: tuple[str, ...], noun: str
) -> None:
    if value is not None:
        _choice(errors, path, value, choices, noun)


def _decimal(
    errors: Errors,
    path: str,
    value: Any,
    *,
    positive: bool = False,
    places: int = MAX_DIGITS_AFTER_POINT,
) -> bool:
    """A quantity, weight or amount: a decimal string or a JSON number, finite, at most 18
    digits before the point and `places` after (trailing zeros do not count)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors.add(path, "must be a number or a decimal string")
        return False
    if isinstance(value, str) and not _DECIMAL_TEXT.match(value):
        errors.add(path, f"must be a number, not {_shown(value)}")
        return False
    if isinstance(value, float) and not math.isfinite(value):
        errors.add(path, "must be a finite number")
        return False
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.add(path, f"must be a number, not {_shown(value)}")
        return False
    if not number.is_finite():
        errors.add(path, "must be a finite number")
        return False
    if positive and number <= 0:
        errors.add(path, "must be greater than zero")
        return False
    if number != 0 and number.adjusted() >= MAX_DIGITS_BEFORE_POINT:
        errors.add(path, f"must have at most {MAX_DIGITS_BEFORE_POINT} digits before the point")
        return False
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        errors.add(path, f"must have at most {places} digits after the point")
        return False
    return True


def _money(errors: Errors, path: str, value: Any) -> bool:
    return _decimal(errors, path, value, places=MAX_MONEY_DIGITS_AFTER_POINT)


def _currency(errors: Errors, path: str, value: Any) -> bool:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        errors.add(path, "must be an ISO 4217 currency code such as EUR")
        return False
    return True


def _integer(errors: Errors, path: str, value: Any, *, minimum: int = 0) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "must be an integer")
        return False
    if value < minimum:
        errors.add(path, f"must be at least {minimum}")
        return False
    if value > MAX_INTEGER:
        errors.add(path, f"must be at most {MAX_INTEGER:,}")
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
    if len(value) > MAX_LIST_ITEMS:
        errors.add(path, f"must hold at most {MAX_LIST_ITEMS:,} items")
        return False
    return True


def _location(errors: Errors, path: str, value: Any) -> None:
    if value is None:
        return
    if not _object(errors, path, value):
        return
    _required_text(errors, f"{path}.city", value.get("city"))
    country = value.get("country")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        errors.add(f"{path}.country", "must be an ISO 3166-1 alpha-2 country code such as DE")
    for name in ("name", "postal_code", "region"):
        _optional_text(errors, f"{path}.{name}", value.get(name))
    _optional_identifier(errors, f"{path}.location_code", value.get("location_code"))
    lines = value.get("address_lines")
    if _list(errors, f"{path}.address_lines", lines):
        for index, line in enumerate(lines):
            _optional_text(errors, f"{path}.address_lines[{index}]", line)
    for name, bound in (("lat", 90), ("lon", 180)):
        coordinate = value.get(name)
        if coordinate is None:
            continue
        if isinstance(coordinate, bool) or not isinstance(coordinate, int | float):
            errors.add(f"{path}.{name}", "must be a number")
        elif not -bound <= coordinate <= bound:
            errors.add(f"{path}.{name}", f"must be between -{bound} and {bound}")


def _identifier_list(errors: Errors, path: str, value: Any) -> None:
    if _list(errors, path, value):
        for index, item in enumerate(value):
            _identifier(errors, f"{path}[{index}]", item)


# --- per-type data checks --------------------------------------------------------------


def _order_released(errors: Errors, data: dict[str, Any]) -> None:
    _identifier(errors, "data.order_number", data.get("order_number"))
    _identifier(errors, "data.customer_account", data.get("customer_account"))
    _optional_identifier(errors, "data.customer_po", data.get("customer_po"))
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
        _identifier(errors, f"{path}.sku", line.get("sku"))
        _optional_text(errors, f"{path}.description", line.get("description"))
        if "quantity" not in line:
            errors.add(f"{path}.quantity", "is required")
        else:
            _decimal(errors, f"{path}.quantity", line.get("quantity"), positive=True)
        _optional_identifier(errors, f"{path}.uom", line.get("uom"))
        if line.get("weight_kg") is not None:
            _decimal(errors, f"{path}.weight_kg", line.get("weight_kg"))


def _order_cancelled(errors: Errors, data: dict[str, Any]) -> None:
    _identifier(errors, "data.order_number", data.get("order_number"))
    _optional_text(errors, "data.reason", data.get("reason"))


def _carrier(errors: Errors, path: str, value: Any, *, required: bool) -> None:
    if value is None:
        if required:
            errors.add(path, "is required")
        return
    if not _object(errors, path, value):
        return
    if required or value.get("scac") is not None:
        _identifier(errors, f"{path}.scac", value.get("scac"))
    _optional_text(errors, f"{path}.name", value.get("name"))


def _shipment_created(errors: Errors, data: dict[str, Any]) -> None:
    _identifier(errors, "data.shipment_id", data.get("shipment_id"))
    _optional_identifier(errors, "data.load_id", data.get("load_id"))
    orders = data.get("orders")
    if orders is None:
        errors.add("data.orders", "is required")
    elif _list(errors, "data.orders", orders, required=True):
        for index, order in enumerate(orders):
            path = f"data.orders[{index}]"
            if not _object(errors, path, order):
                continue
            _identifier(errors, f"{path}.order_number", order.get("order_number"))
            line_numbers = order.get("line_numbers")
            if _list(errors, f"{path}.line_numbers", line_numbers):
                for line_index, number in enumerate(line_numbers):
                    _integer(errors, f"{path}.line_numbers[{line_index}]", number, minimum=1)
    _carrier(errors, "data.carrier", data.get("carrier"), required=False)
    _optional_choice(errors, "data.mode", data.get("mode"), MODES, "mode")
    _optional_text(errors, "data.service_level", data.get("service_level"))
    _identifier_list(errors, "data.tracking_numbers", data.get("tracking_numbers"))
    _location(errors, "data.origin", data.get("origin"))
    _location(errors, "data.destination", data.get("destination"))
    stops: Any = data.get("stops")  # any JSON value until _list has judged it
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
    _identifier(errors, "data.shipment_id", data.get("shipment_id"))
    _carrier(errors, "data.carrier", data.get("carrier"), required=True)
    _optional_timestamp(errors, "data.accepted_at", data.get("accepted_at"))


def _milestone(errors: Errors, data: dict[str, Any]) -> None:
    _identifier(errors, "data.shipment_id", data.get("shipment_id"))
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
    _optional_text(errors, "data.remarks", data.get("remarks"), multiline=True)
    _optional_text(errors, "data.received_by", data.get("received_by"))
    if code == "AG" and milestone is None:
        _optional_timestamp(errors, "data.eta", data.get("eta"))


def _eta_updated(errors: Errors, data: dict[str, Any]) -> None:
    _identifier(errors, "data.shipment_id", data.get("shipment_id"))
    _timestamp(errors, "data.eta", data.get("eta"))
    _optional_timestamp(errors, "data.eta_window_start", data.get("eta_window_start"))
    _optional_timestamp(errors, "data.eta_window_end", data.get("eta_window_end"))
    _optional_choice(errors, "data.basis", data.get("basis"), ETA_BASES, "ETA basis")


def _delayed(errors: Errors, data: dict[str, Any]) -> None:
    _identifier(errors, "data.shipment_id", data.get("shipment_id"))
    code = data.get("reason_code")
    if not isinstance(code, str) or not re.match(r"^[A-Z0-9]{2,3}$", code):
        errors.add("data.reason_code", "must be an X12 1651 status reason code such as AO")
    _optional_text(errors, "data.reason_text", data.get("reason_text"), multiline=True)
    _optional_timestamp(errors, "data.new_eta", data.get("new_eta"))


def _document_available(errors: Errors, data: dict[str, Any]) -> None:
    _identifier(errors, "data.document_id", data.get("document_id"))
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
        _identifier(errors, f"data.{name}", data.get(name))
    filename: Any = data.get("filename")
    if _required_text(errors, "data.filename", filename) and (
        "/" in filename or "\\" in filename or filename in {".", ".."}
    ):
        errors.add("data.filename", "must be a file name without a path")
    _required_text(errors, "data.content_type", data.get("content_type"))
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
    _identifier(errors, "data.invoice_number", data.get("invoice_number"))
    _identifier(errors, "data.customer_account", data.get("customer_account"))
    _identifier_list(errors, "data.order_numbers", data.get("order_numbers"))
    _identifier_list(errors, "data.shipment_ids", data.get("shipment_ids"))
    _optional_date(errors, "data.issue_date", data.get("issue_date"))
    _optional_date(errors, "data.due_date", data.get("due_date"))
    _currency(errors, "data.currency", data.get("currency"))
    _money(errors, "data.total_amount", data.get("total_amount"))
    lines: Any = data.get("lines")
    if _list(errors, "data.lines", lines):
        for index, line in enumerate(lines):
            path = f"data.lines[{index}]"
            if _object(errors, path, line):
                _optional_text(errors, f"{path}.description", line.get("description"))
                _money(errors, f"{path}.amount", line.get("amount"))


def _invoice_paid(errors: Errors, data: dict[str, Any]) -> None:
    _identifier(errors, "data.invoice_number", data.get("invoice_number"))
    _optional_timestamp(errors, "data.paid_at", data.get("paid_at"))
    if data.get("amount") is not None:
        _money(errors, "data.amount", data.get("amount"))


def _freight_charge(errors: Errors, data: dict[str, Any]) -> None:
    _identifier(errors, "data.shipment_id", data.get("shipment_id"))
    _identifier(errors, "data.charge_id", data.get("charge_id"))
    _choice(errors, "data.charge_type", data.get("charge_type"), CHARGE_TYPES, "charge type")
    _money(errors, "data.amount", data.get("amount"))
    _currency(errors, "data.currency", data.get("currency"))
    _optional_identifier(errors, "data.customer_account", data.get("customer_account"))


# One validator per event type, keyed by the one enum (tests/test_event_types.py).
DATA_VALIDATORS: dict[str, Callable[[Errors, dict[str, Any]], None]] = {
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


def validate_event(
    event: Any,
    *,
    authenticated_source: str,
    received_at: datetime | None = None,
    max_clock_skew: timedelta = MAX_CLOCK_SKEW,
) -> list[dict[str, str]]:
    """Return the contract violations of one event; empty when it is valid.

    `occurred_at` may be at most `max_clock_skew` after `received_at` (default: now)."""
    errors = Errors()
    if not isinstance(event, dict):
        errors.add("", "an event must be a JSON object")
        return errors.items
    limit_errors = json_limit_errors(event)
    if limit_errors:
        # Fields the per-type checks would read may be what broke the limit (a value
        # nested a thousand levels deep): judge nothing further.
        return limit_errors
    _spec_version(errors, event.get("spec_version"))
    event_id = event.get("event_id")
    _identifier(errors, "event_id", event_id)
    event_type = event.get("event_type")
    validate_data = DATA_VALIDATORS.get(event_type) if isinstance(event_type, str) else None
    if validate_data is None:
        errors.add(
            "event_type",
            f"unknown event type {_shown(event_type)}; "
            f"expected one of: {', '.join(DATA_VALIDATORS)}",
        )
    source = event.get("source")
    if _identifier(errors, "source", source) and source != authenticated_source:
        errors.add(
            "source",
            f"{_shown(source)} does not match the authenticated source {authenticated_source!r}",
        )
    now = received_at or datetime.now(UTC)
    _timestamp(errors, "occurred_at", event.get("occurred_at"), not_after=now + max_clock_skew)
    if "sequence" in event and event["sequence"] is not None:
        _integer(errors, "sequence", event["sequence"], minimum=0)
    data = event.get("data")
    if data is None:
        errors.add("data", "is required")
    elif _object(errors, "data", data) and validate_data is not None:
        validate_data(errors, data)
    return errors.items
