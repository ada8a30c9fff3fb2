"""The GraphQL entry point of a staff look's audit entry (accounts.audit): which
operation, which root fields with their arguments, and whether one of them is a list."""

from __future__ import annotations

import json
from collections.abc import Iterator

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    print_ast,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from accounts.audit import note_graphql_operation
from portal.graphql.limits import is_connection

# Variables are recorded when small (ids, filters); a larger value is left out, not cut.
MAX_RECORDED_VARIABLES = 2000


def _root_fields(selection_set: SelectionSetNode, fragments: dict) -> Iterator[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if not selection.name.value.startswith("__"):
                yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.pop(selection.name.value, None)  # each spread once
            if fragment is not None:
                yield from _root_fields(fragment.selection_set, fragments)


class StaffReadEntryPoint(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) if document else None
        if document is not None and isinstance(operation, OperationDefinitionNode):
            root = context.schema._schema.get_root_type(operation.operation)
            fragments = {
                node.name.value: node
                for node in document.definitions
                if isinstance(node, FragmentDefinitionNode)
            }
            fields, lists = [], False
            for node in _root_fields(operation.selection_set, fragments):
                fields.append(
                    print_ast(
                        FieldNode(
                            alias=node.alias,
                            name=node.name,
                            arguments=node.arguments,
                            directives=(),
                        )
                    )
                )
                definition = root.fields.get(node.name.value) if root else None
                field_type = definition.type if definition else None
                if isinstance(field_type, GraphQLNonNull):
                    field_type = field_type.of_type
                # A connection is a list too: a page of rows, any tenant's for the staff.
                lists = lists or isinstance(field_type, GraphQLList) or is_connection(field_type)
            variables = context.variables or {}
            recorded = json.dumps(variables, default=str)
            note_graphql_operation(
                operation_name=operation.name.value if operation.name else context.operation_name,
                fields=fields,
                variables=variables if len(recorded) <= MAX_RECORDED_VARIABLES else None,
                lists=lists,
            )
        yield
