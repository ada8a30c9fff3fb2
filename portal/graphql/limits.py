"""What one GraphQL document may ask, checked before anything executes (docs/API.md).

Without limits one request could be as expensive as thousands: an outside tester sent 500
aliases of `shipments(first: 200) { milestones orders }`, which took 15 s and counted as
one request against the token's rate limit. So, before execution:

- at most `MAX_TOKENS` tokens (parsing stops there), `MAX_ALIASES` aliases and
  `MAX_DEPTH` levels of fields (strawberry's limiters);
- at most `MAX_COST`, the estimated number of objects the query returns: each connection
  (or list with one) counts its `first` argument (or that argument's default; its
  `edges { node }` count no more) or, for nested lists without one,
  `NESTED_LIST_ESTIMATE`, multiplied by the sizes of the lists around it; a single
  object counts one, scalars nothing;
- a partner token is charged `max(1, cost // COST_PER_UNIT)` units of its rate budget (one
  when the request arrived, the rest here); over budget the answer is 429.

Introspection fields (`__schema`, `__type`) are neither deep nor costly here: their size
is the schema's, not the data's, and GraphiQL's introspection query nests `ofType` deeper
than any data query needs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql import (
    ExecutionResult as GraphQLExecutionResult,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as query_depth_rule

from accounts.models import ApiToken
from accounts.throttling import token_rate_charge

MAX_TOKENS = 2000
MAX_ALIASES = 15
MAX_DEPTH = 10
MAX_COST = 10_000
MAX_LIST_SIZE = 200  # the most `first` may ask (portal/graphql/pagination.py refuses more)
NESTED_LIST_ESTIMATE = 10
COST_PER_UNIT = 100


def _is_introspection(context: IgnoreContext) -> bool:
    return context.field_name.startswith("__")


def is_connection(graphql_type: Any) -> bool:
    """A relay-style connection (portal/graphql/pagination.py): its size is its `first`."""
    named = get_named_type(graphql_type) if graphql_type is not None else None
    return named is not None and named.name.endswith("Connection")


def _is_edge(graphql_type: Any) -> bool:
    named = get_named_type(graphql_type) if graphql_type is not None else None
    return named is not None and named.name.endswith("Edge")


def query_cost(
    schema: GraphQLSchema,
    document_definitions: tuple[Any, ...] | list[Any],
    *,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The estimated number of objects the operation returns (the module docstring's rule);
    with several operations and no name, the costliest."""
    fragments = {
        node.name.value: node
        for node in document_definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    operations = [
        node
        for node in document_definitions
        if isinstance(node, OperationDefinitionNode)
        and (operation_name is None or (node.name and node.name.value == operation_name))
    ]
    costs = [0]
    for operation in operations:
        root = schema.get_root_type(operation.operation)
        if root is None:
            continue
        defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
        }
        costing = _Costing(schema, fragments, dict(variables or {}), defaults)
        costs.append(costing.selection_set(operation.selection_set, root, 1, frozenset()))
    return max(costs)


class _Costing:
    def __init__(self, schema, fragments, variables, defaults) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults

    def selection_set(
        self, selection_set: SelectionSetNode, parent, multiplier: int, visiting: frozenset
    ) -> int:
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self.field(selection, parent, multiplier, visiting)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                cost += self.selection_set(selection.selection_set, on, multiplier, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visiting:  # other rules report these
                    continue
                on = self.schema.get_type(fragment.type_condition.name.value)
                cost += self.selection_set(
                    fragment.selection_set, on, multiplier, visiting | {name}
                )
        return cost

    def field(self, node: FieldNode, parent, multiplier: int, visiting: frozenset) -> int:
        name = node.name.value
        definition = getattr(parent, "fields", {}).get(name)
        if name.startswith("__") or definition is None or node.selection_set is None:
            return 0  # introspection, an unknown field (validation reports it), a scalar
        if is_connection(parent) or _is_edge(parent):
            # `edges`, `node`, `pageInfo`: the connection's `first` counted its objects.
            return self.selection_set(
                node.selection_set, get_named_type(definition.type), multiplier, visiting
            )
        field_type = definition.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        if isinstance(field_type, GraphQLList) or is_connection(field_type):
            items = self.list_size(node, definition)
        else:
            items = 1
        here = multiplier * items
        return here + self.selection_set(
            node.selection_set, get_named_type(definition.type), here, visiting
        )

    def list_size(self, node: FieldNode, definition) -> int:
        argument = definition.args.get("first")
        if argument is None:
            return NESTED_LIST_ESTIMATE
        size: Any = argument.default_value
        for given in node.arguments or ():
            if given.name.value != "first":
                continue
            if isinstance(given.value, IntValueNode):
                size = int(given.value.value)
            elif isinstance(given.value, VariableNode):
                variable = given.value.name.value
                default = self.defaults.get(variable)
                size = self.variables.get(
                    variable,
                    int(default.value) if isinstance(default, IntValueNode) else MAX_LIST_SIZE,
                )
        try:
            return max(0, min(int(size), MAX_LIST_SIZE))
        except (TypeError, ValueError):
            return MAX_LIST_SIZE  # not a number: variable coercion will refuse it


class QueryCostLimiter(SchemaExtension):
    """Refuse a query over `MAX_COST` and charge a token's rate budget, before execution."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        cost = query_cost(
            context.schema._schema,  # graphql-core's schema, which the document refers to
            context.graphql_document.definitions,
            variables=context.variables,
            operation_name=context.operation_name,
        )
        if cost > MAX_COST:
            context.result = GraphQLExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        f"Query cost {cost} exceeds the maximum of {MAX_COST}: ask for fewer "
                        "items (`first`) or fewer nested lists.",
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "max": MAX_COST},
                    )
                ],
            )
        else:
            self._charge_token(cost)
        yield

    def _charge_token(self, cost: int) -> None:
        context = self.execution_context
        request = getattr(context.context, "request", None)
        token = getattr(request, "auth", None)
        units = max(1, cost // COST_PER_UNIT)
        if not isinstance(token, ApiToken) or units <= 1:
            return  # sessions are not rate limited; the first unit was charged on arrival
        decision = token_rate_charge(token, units=units - 1)
        if decision.allowed:
            return
        wait = decision.retry_after_seconds
        context.result = GraphQLExecutionResult(
            data=None,
            errors=[
                GraphQLError(
                    f"Rate limit exceeded: this query costs {units} units; retry in {wait} "
                    "seconds.",
                    extensions={"code": "RATE_LIMITED", "units": units, "retryAfter": wait},
                )
            ],
        )
        response = context.context.response
        response.status_code = 429
        response["Retry-After"] = str(wait)


# strawberry's alias and depth limiters as validation rules made once: those extensions
# make a new rule class per instance (per request), which no validation cache would
# recognise.
VALIDATION_RULES: list[type[ASTValidationRule]] = [
    max_aliases_rule(MAX_ALIASES),
    query_depth_rule(MAX_DEPTH, should_ignore=_is_introspection),
]
# How many distinct documents keep their parse and validation (a partner's client sends
# the same few; each entry is one document's tree).
DOCUMENT_CACHE_SIZE = 256

# Factories, so that each request gets its own extension instances. A repeated document
# is parsed and validated once (per process, per limit settings): ~3 ms of a page of 100
# shipments (docs/BENCHMARKS.md). Validation runs after the rules are added.
LIMIT_EXTENSIONS: list[Callable[[], SchemaExtension]] = [
    functools.partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
    functools.partial(ParserCache, maxsize=DOCUMENT_CACHE_SIZE),
    functools.partial(AddValidationRules, VALIDATION_RULES),
    functools.partial(ValidationCache, maxsize=DOCUMENT_CACHE_SIZE),
    QueryCostLimiter,
]
