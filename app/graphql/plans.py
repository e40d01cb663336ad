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
from typing import Any

from graphql import (
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
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


class _AttributeGetter:
    """Reads one attribute, as Strawberry's default resolver does; compiled plans inline it."""

    __slots__ = ("attribute",)

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def __call__(self, value: Any) -> Any:
        return getattr(value, self.attribute)


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
        return _AttributeGetter(strawberry_field.python_name)
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

    def __init__(
        self, schema: GraphQLSchema, collect: Collect, planned: Callable[[], None] = lambda: None
    ) -> None:
        self.schema = schema
        self.collect = collect
        self.planned = planned  # told of each object plan made, now or later (lazy members)
        # One completer per (type, collected selection): the shipped markdown fragment spreads
        # the same next-level fragment under each of 20 node types, at each of 10 levels.
        self._objects: dict[tuple[Any, ...], Completer] = {}

    def completer(
        self, return_type: GraphQLOutputType, field_details: list[FieldDetails]
    ) -> Completer:
        required = is_non_null_type(return_type)
        if required:
            assert isinstance(return_type, GraphQLNonNull)
            return_type = return_type.of_type
        if is_list_type(return_type):
            assert isinstance(return_type, GraphQLList)
            return _list(self.completer(return_type.of_type, field_details), required)
        if is_leaf_type(return_type):
            return _leaf(return_type.coerce_output_value, required, _UNCHANGED.get(return_type))
        if is_abstract_type(return_type):
            assert isinstance(return_type, GraphQLAbstractType)
            return self._abstract(return_type, field_details, required)
        if is_object_type(return_type):
            assert isinstance(return_type, GraphQLObjectType)
            return _present(self._object(return_type, field_details), required)
        raise Unsupported(str(return_type))  # pragma: no cover - every output type is above

    def _abstract(
        self, abstract: GraphQLAbstractType, field_details: list[FieldDetails], required: bool
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
                if required:
                    raise Unplanned("null where the type forbids it")
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
        fields: list[tuple[str, str | Callable[[Any], Any], Completer]] = []
        for response_key, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                fields.append((response_key, _TYPENAME, _constant(object_type.name)))
                continue
            field = object_type.fields.get(name)
            if field is None or field.args or node.arguments:
                raise Unsupported(name)
            getter = _default_getter(field)
            if getter is None:
                raise Unsupported(name)
            fields.append((response_key, getter, self.completer(field.type, details)))
        complete_object = _compiled_object(object_type.name, fields)
        self._objects[key] = complete_object
        PlanBuilder.objects_planned += 1
        self.planned()
        return complete_object


_TYPENAME = "__typename"
# Leaves whose output coercion hands back a value of this exact class unchanged (graphql-core's
# serialize_string, serialize_id, serialize_boolean): the generated code skips the call.
_UNCHANGED: dict[Any, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


def _compiled_object(
    type_name: str, fields: list[tuple[str, str | Callable[[Any], Any], Completer]]
) -> Completer:
    """One function that builds the object's answer in a single dict display, as graphql-jit
    compiles: per field, an attribute read (or the resolver's call) and its completion, with no
    loop, tuple unpacking or getter call of its own. A field's value that the generic completer
    would return unchanged (a string for String) is taken as it is, else the completer runs."""
    namespace: dict[str, Any] = {}
    entries = []
    for index, (key, getter, complete) in enumerate(fields):
        if getter == _TYPENAME:
            entries.append(f"{key!r}: {type_name!r}")
            continue
        if isinstance(getter, _AttributeGetter):
            read = f"value.{getter.attribute}"
        else:
            namespace[f"get{index}"] = getter
            read = f"get{index}(value)"
        namespace[f"complete{index}"] = complete
        unchanged = getattr(complete, "unchanged", None)
        if unchanged is None:
            entries.append(f"{key!r}: complete{index}({read})")
        else:
            namespace[f"kind{index}"] = unchanged
            entries.append(
                f"{key!r}: v{index} if type(v{index} := {read}) is kind{index} "
                f"else complete{index}(v{index})"
            )
    source = "def complete_object(value):\n    return {" + ", ".join(entries) + "}\n"
    exec(compile(source, f"<plan of {type_name}>", "exec"), namespace)
    compiled: Completer = namespace["complete_object"]
    return compiled


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _: value


def _present(complete: Completer, required: bool) -> Completer:
    def complete_required(value: Any) -> Any:
        if value is None:
            raise Unplanned("null where the type forbids it")
        return complete(value)

    def complete_nullable(value: Any) -> Any:
        return None if value is None else complete(value)

    return complete_required if required else complete_nullable


def _list(complete: Completer, required: bool) -> Completer:
    def complete_list(value: Any) -> Any:
        if value is None:
            if required:
                raise Unplanned("null where the type forbids it")
            return None
        if type(value) is not list and type(value) is not tuple:
            raise Unplanned("not a list")
        return [complete(item) for item in value]

    return complete_list


def _leaf(coerce: Callable[[Any], Any], required: bool, unchanged: type | None) -> Completer:
    def complete_leaf(value: Any) -> Any:
        if value is None:
            if required:
                raise Unplanned("null where the type forbids it")
            return None
        if isinstance(value, Exception):
            raise Unplanned("an error as a value")
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Unplanned("a leaf that does not coerce")
        return coerced

    if unchanged is not None:
        complete_leaf.unchanged = unchanged  # type: ignore[attr-defined]
    return complete_leaf
