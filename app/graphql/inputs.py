"""Input types converted from their GraphQL value with the work that never changes done once.

For every argument of an input type, on every call, Strawberry's `convert_argument` walks the
type's fields and, for each one, asks the name converter for its GraphQL name and resolves its
annotation into a Strawberry type: about a tenth of a send's CPU, for answers that depend on
the class alone. Strawberry's own hook for input types that build their value
(`StrawberryObjectDefinition.from_input`) is given a converter that does the same conversion
with those answers looked up on first use: a field that is a scalar (or an optional scalar)
takes its value as is, as `convert_argument` does; any other field (a nested input, a list,
an enum) goes through `InputContext.convert`, which is `convert_argument` itself. The types
stay the Strawberry types the schema is built from; `tests/test_inputs.py` converts the same
values with and without the hook and compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING
from typing import Any, TypeVar

from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types.arguments import InputContext, StrawberryArgument
from strawberry.types.base import (
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    StrawberryType,
)

T = TypeVar("T", bound=type)

# (GraphQL name, Python name, the field's Strawberry type, whether its value is taken as is)
_Field = tuple[str, str, StrawberryType | type, bool]


def _taken_as_is(type_: StrawberryType | type, config: StrawberryConfig, scalars: Any) -> bool:
    """Whether `convert_argument` hands a value of this type back unchanged: a scalar other
    than GlobalID (which it decodes), bare or optional (not `Maybe`, which it wraps)."""
    if isinstance(type_, StrawberryMaybe):
        return False
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return type_ is not GlobalID and is_scalar(type_, scalars)


class InputConverter:
    """`from_input` for one input type: Strawberry's conversion of an input object, with each
    field's GraphQL name and resolved type found once per process."""

    def __init__(self, definition: StrawberryObjectDefinition) -> None:
        self.definition = definition
        self._fields: list[_Field] | None = None
        self._implicit: dict[str, None] = {}

    def _compile(self, context: InputContext) -> list[_Field]:
        definition = self.definition
        fields: list[_Field] = []
        for field in definition.fields:
            type_ = field.resolve_type(type_definition=definition)
            fields.append(
                (
                    context.config.name_converter.from_field(field),
                    field.python_name,
                    type_,
                    _taken_as_is(type_, context.config, context.scalar_registry),
                )
            )
        # As Strawberry does: an implicit None for each field without a default, so that a
        # nullable field the client left out can be built (required ones are always sent).
        self._implicit = {
            field.python_name: None
            for field in definition.fields
            if field.default_value is MISSING and field.default_factory is MISSING
        }
        self._fields = fields
        return fields

    def __call__(self, cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        fields = self._fields or self._compile(context)
        kwargs: dict[str, Any] = dict(self._implicit)
        for graphql_name, python_name, type_, as_is in fields:
            if graphql_name in value:
                raw = value[graphql_name]
                kwargs[python_name] = raw if as_is else context.convert(raw, type_, graphql_name)
        return cls(**kwargs)


def converted_once(cls: T) -> T:
    """Give a `@strawberry.input` class the `InputConverter` for its definition."""
    definition: StrawberryObjectDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    assert definition.is_input, f"{cls.__name__} is not a strawberry.input"
    definition.from_input = InputConverter(definition)
    return cls


class KeptNames(NameConverter):
    """Strawberry's names, with each argument's GraphQL name found once per process: Strawberry
    asks for it again for every argument of every call (`convert_arguments`), and the answer
    depends on the argument alone, an object that lives as long as the schema."""

    def __init__(self, auto_camel_case: bool = True) -> None:
        super().__init__(auto_camel_case)
        # id -> (the argument, kept alive so that its id is never reused, and its name)
        self._arguments: dict[int, tuple[StrawberryArgument, str]] = {}

    def from_argument(self, argument: StrawberryArgument) -> str:
        known = self._arguments.get(id(argument))
        if known is not None and known[0] is argument:
            return known[1]
        name = super().from_argument(argument)
        self._arguments[id(argument)] = (argument, name)
        return name
