"""GraphQL list arguments validated by the REST lists' FilterSets (visibility/api/filters.py):
one definition of each filter, so a value REST refuses with a 400 naming the parameter,
GraphQL refuses with a `BAD_USER_INPUT` error naming the argument, and what passes
reaches the same selector under the same keyword.

A list field's arguments are the FilterSet's parameters in camelCase (`exception_reason`
is `exceptionReason`), except where a field kept an older name (`renames`, GraphQL name
to parameter). `expand` is REST's alone: GraphQL selects nested lists instead.
tests/portal/test_graphql_filters.py fails when a FilterSet parameter has no argument."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, cast

from django.http import QueryDict
from rest_framework.exceptions import ValidationError
from strawberry.utils.str_converters import to_camel_case

from portal.graphql.errors import bad_user_input
from portal.graphql.pagination import Ordering
from visibility.api.filters import SelectorFilterSet, validated_filterset

# Arguments of a list field that are not filters.
NOT_FILTERS = frozenset({"self", "root", "info", "first", "after"})
# FilterSet parameters GraphQL has no argument for, and why: nested lists are selected.
REST_ONLY = frozenset({"expand"})


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def graphql_argument(parameter: str, renames: Mapping[str, str]) -> str:
    """The GraphQL argument of a FilterSet parameter."""
    renamed = {to: name for name, to in renames.items()}
    return to_camel_case(renamed.get(parameter, parameter))


def filterset_of(
    filterset_class: type[SelectorFilterSet],
    arguments: Mapping[str, Any],
    *,
    renames: Mapping[str, str] | None = None,
) -> SelectorFilterSet:
    """The FilterSet of a list field's filter arguments (those given: None is left out),
    valid; otherwise a `BAD_USER_INPUT` error naming the (first) argument at fault.

    `arguments` are the resolver's keyword arguments, pagination ones ignored; values are
    handed over as the query string would carry them (booleans `true`/`false`, ISO 8601
    dates), so the FilterSet's parsing and checks are REST's own."""
    renames = renames or {}
    params = QueryDict(mutable=True)
    for name, value in arguments.items():
        if name in NOT_FILTERS or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            params.appendlist(renames.get(name, name), _as_text(item))
    try:
        return validated_filterset(filterset_class, params)
    except ValidationError as error:
        detail = cast(dict[str, list[str]], error.detail)
        parameter, messages = next(iter(detail.items()))
        argument = graphql_argument(parameter, renames)
        raise bad_user_input(f"{argument}: {messages[0]}", argument=argument) from None


def connection_ordering(list_name: str, filterset: SelectorFilterSet) -> Ordering:
    """The connection's cursor order for the FilterSet's `ordering` (REST's keys: unique
    and never changing). A cursor names its list and order, so one taken under another
    order is refused rather than read against the wrong key."""
    keys = filterset.cursor_ordering()
    chosen = filterset.form.cleaned_data.get("ordering") or filterset.default_ordering
    name = list_name if chosen == filterset.default_ordering else f"{list_name}:{chosen}"
    return Ordering(
        name,
        tuple(key.lstrip("-") for key in keys),
        descending=keys[0].startswith("-"),
    )
