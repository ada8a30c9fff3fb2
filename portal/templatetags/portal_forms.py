"""Form controls whose options come from the data (the exception queue's filters)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def select_options(choices: Iterable[tuple[Any, Any]], chosen: Any) -> SafeString:
    """The `<option>`s of a `<select>`, `chosen` selected. One format_html per option
    rather than a template loop: an operator serving every tenant filters by hundreds of
    accounts (315 in the bench's data), and the loop (a tag and three variables per
    option) was the largest part of the queue page's rendering (docs/BENCHMARKS.md,
    "The exception queue page from rows")."""
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((value, " selected" if value == chosen else "", label) for value, label in choices),
    )
