"""Forms that parse what a page receives before anything reaches a selector."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest

from visibility.models import Invoice, ShipmentStatus

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
    status = forms.ChoiceField(choices=ShipmentStatus.choices, required=False)


class OrderListForm(ShipmentListForm):
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
    return {
        name: form.cleaned_data.get(name, None if isinstance(field, forms.DateField) else "")
        for name, field in form.fields.items()
    }
