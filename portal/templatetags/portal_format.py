"""Money in the reader's locale (Babel's CLDR data, not hand-made formats)."""

from __future__ import annotations

from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django import template
from django.http import HttpRequest

from portal.timeline import delay_reason_in_words
from visibility.models import ShipmentEvent

register = template.Library()

DEFAULT_LOCALE = "en_US"


def reader_locale(request: HttpRequest | None) -> str:
    """The first locale of the browser's Accept-Language that Babel knows, else en_US."""
    header = request.headers.get("Accept-Language", "") if request is not None else ""
    for part in header.split(","):
        tag = part.split(";", 1)[0].strip().replace("-", "_")
        if not tag or tag == "*":
            continue
        try:
            return str(Locale.parse(tag))
        except (ValueError, UnknownLocaleError):
            continue
    return DEFAULT_LOCALE


@register.simple_tag(takes_context=True)
def money(context: template.Context, amount: Decimal | None, currency: str) -> str:
    """`{% money invoice.total_amount invoice.currency %}` -> "18.950,00 €" for a German
    reader, "€18,950.00" for an American one."""
    if amount is None:
        return "—"
    try:
        return format_currency(amount, currency, locale=reader_locale(context.get("request")))
    except (ValueError, UnknownLocaleError):
        return f"{amount} {currency}"


@register.filter
def delay_reason(fact: ShipmentEvent) -> str:
    """A delay's reason in words (portal/timeline.py), never the raw carrier code."""
    return delay_reason_in_words(fact)
