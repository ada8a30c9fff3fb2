"""Forms that parse what a page receives before anything reaches a selector."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpRequest

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
        raise Http404(f"{field}: {' '.join(form.errors['id'])}")
    return form.cleaned_data["id"]
