"""Execution plans: a validated document's completion compiled once, run in one pass.

graphql-core completes every value generically: for each field of each object it looks up
the field, builds a resolve-info object, calls the resolver through Strawberry's wrappers,
then dispatches on the return type (non-null, list, leaf, abstract, object) and resolves the
runtime type of each union member. For the shipped send operation that is thousands of calls
per answer, most of them for the markdown tree. graphql-jit's answer for graphql-js is to
compile: the schema and the document fix all of it in advance, so a plan built once per
(document, type, selection) turns a resolver's result into the response with one closure per
field and no dispatch.

A plan covers the happy path only, and knows it: a field with arguments, a resolver that needs
more than its parent object, a type with `is_type_of`, a runtime object of a class the union
does not name, a null where the type forbids it, a leaf that does not coerce, anything that
raises. Then the plan gives up (`Unplanned`) and graphql-core completes the same value
from the start, producing its own data and errors (paths and locations included). The plan's
fields read values exactly as Strawberry's default resolver does (`getattr` of the Python
name) or call the field's own resolver when it takes the parent object alone; both are pure,
so completing a value a second time is safe. The Strawberry schema stays the one source of
the types: plans are built from the GraphQL types Strawberry made.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLAbstractType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetails
from graphql.pyutils import Undefined
from strawberry.resolvers import is_default_resolver

Completer = Callable[[Any], Any]
Collect = Callable[[GraphQLObjectType, list[FieldDetails]], CollectedFields]


class Unplanned(Exception):
    """A value the plan does not cover: graphql-core completes it instead."""


class Unsupported(Exception):
    """A selection no plan is built for (found while building)."""


def _default_getter(field: Any) -> Callable[[Any], Any] | None:
    """How a field reads its value, if that is plain: Strawberry's default resolver (an
    attribute) or a resolver that takes the parent object and nothing else."""
    strawberry_field = field.extensions.get("strawberry-definition")
    if strawberry_field is None or strawberry_field.extensions:
        return None
    if strawberry_field.permission_classes:
        return None
    if is_default_resolver(field.resolve):
        if strawberry_field.default_resolver is not getattr:
            return None
        return attrgetter(strawberry_field.python_name)
    resolver = strawberry_field.base_resolver
    if resolver is None or resolver.is_async or resolver.arguments:
        return None
    function = resolver.wrapped_func
    parameters = list(inspect.signature(function).parameters)
    if parameters != ["root"] or inspect.iscoroutinefunction(function):
        return None
    return function  # type: ignore[no-any-return]


class PlanBuilder:
    """Builds the completer for one selection, with the request's field collection (which,
    for a document without directives, depends on nothing but the document)."""

    objects_planned = 0  # object completers built, process-wide (for the tests)

    def __init__(self, schema: GraphQLSchema, collect: Collect) -> None:
        self.schema = schema
        self.collect = collect
        # One completer per (type, collected selection): the shipped markdown fragment spreads
        # the same next-level fragment under each of 20 node types, at each of 10 levels.
        self._objects: dict[tuple[Any, ...], Completer] = {}

    def completer(
        self, return_type: GraphQLOutputType, field_details: list[FieldDetails]
    ) -> Completer:
        if is_non_null_type(return_type):
            assert isinstance(return_type, GraphQLNonNull)
            return _non_null(self.completer(return_type.of_type, field_details))
        if is_list_type(return_type):
            assert isinstance(return_type, GraphQLList)
            return _list(self.completer(return_type.of_type, field_details))
        if is_leaf_type(return_type):
            return _leaf(return_type.coerce_output_value)
        if is_abstract_type(return_type):
            assert isinstance(return_type, GraphQLAbstractType)
            return self._abstract(return_type, field_details)
        if is_object_type(return_type):
            assert isinstance(return_type, GraphQLObjectType)
            return _nullable(self._object(return_type, field_details))
        raise Unsupported(str(return_type))  # pragma: no cover - every output type is above

    def _abstract(
        self, abstract: GraphQLAbstractType, field_details: list[FieldDetails]
    ) -> Completer:
        members: dict[type, GraphQLObjectType] = {}
        for possible in self.schema.get_possible_types(abstract):
            definition = possible.extensions.get("strawberry-definition")
            origin = getattr(definition, "origin", None)
            if not isinstance(origin, type):
                raise Unsupported(possible.name)
            members[origin] = possible
        classes = list(members)
        if any(a is not b and issubclass(a, b) for a in classes for b in classes):
            # Strawberry resolves a subclass to the first member it is an instance of.
            raise Unsupported(abstract.name)
        # Each member is planned when a value of it first comes: the markdown fragment spreads
        # 33 members under 20 of them at 10 levels, and planning them all up front cost over a
        # second for the first request of the shipped send, where a message uses a few.
        by_class: dict[type, Completer] = {}

        def complete_abstract(value: Any) -> Any:
            if value is None:
                return None
            kind = type(value)
            complete = by_class.get(kind)
            if complete is None:
                member = members.get(kind)
                if member is None:
                    raise Unplanned(kind.__name__)
                try:
                    complete = self._object(member, field_details)
                except Unsupported as unsupported:
                    raise Unplanned(str(unsupported)) from unsupported
                by_class[kind] = complete
            return complete(value)

        return complete_abstract

    def _object(
        self, object_type: GraphQLObjectType, field_details: list[FieldDetails]
    ) -> Completer:
        if object_type.is_type_of is not None:
            raise Unsupported(object_type.name)
        grouped, defer_usages, _ = self.collect(object_type, field_details)
        if defer_usages:
            raise Unsupported("@defer")
        key = (
            object_type,
            *(
                (response_key, *(id(d.node) for d in details))
                for response_key, details in grouped.items()
            ),
        )
        known = self._objects.get(key)
        if known is not None:
            return known
        fields: list[tuple[str, Callable[[Any], Any], Completer]] = []
        for response_key, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                fields.append((response_key, _constant(object_type.name), _identity))
                continue
            field = object_type.fields.get(name)
            if field is None or field.args or node.arguments:
                raise Unsupported(name)
            getter = _default_getter(field)
            if getter is None:
                raise Unsupported(name)
            fields.append((response_key, getter, self.completer(field.type, details)))

        def complete_object(value: Any) -> dict[str, Any]:
            return {name: complete(get(value)) for name, get, complete in fields}

        self._objects[key] = complete_object
        PlanBuilder.objects_planned += 1
        return complete_object


def _identity(value: Any) -> Any:
    return value


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _: value


def _nullable(complete: Completer) -> Completer:
    def complete_nullable(value: Any) -> Any:
        return None if value is None else complete(value)

    return complete_nullable


def _non_null(complete: Completer) -> Completer:
    def complete_non_null(value: Any) -> Any:
        completed = complete(value)
        if completed is None:
            raise Unplanned("null where the type forbids it")
        return completed

    return complete_non_null


def _list(complete: Completer) -> Completer:
    def complete_list(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not list and type(value) is not tuple:
            raise Unplanned("not a list")
        return [complete(item) for item in value]

    return complete_list


def _leaf(coerce: Callable[[Any], Any]) -> Completer:
    def complete_leaf(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, Exception):
            raise Unplanned("an error as a value")
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Unplanned("a leaf that does not coerce")
        return coerced

    return complete_leaf
