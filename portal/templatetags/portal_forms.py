"""Form controls whose options come from the data (the exception queue's filters)."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def select_options(choices: Iterable[tuple[Any, Any]], chosen: Any) -> SafeString:
    """The `<option>`s of a `<select>`, `chosen` selected; values and labels are text,
    escaped here with `html.escape`, which Django's escape calls. One pass rather than
    a template loop (a tag and three variables per option) or format_html (Django's
    escape through its lazy-string wrapper): an operator serving every tenant filters by
    hundreds of accounts (315 in the bench's data), and writing their options was the
    largest part of the queue page's rendering (docs/BENCHMARKS.md, "The exception
    queue page from rows")."""
    return mark_safe(
        "".join(
            f'<option value="{escape(str(value))}"{" selected" if value == chosen else ""}>'
            f"{escape(str(label))}</option>"
            for value, label in choices
        )
    )
