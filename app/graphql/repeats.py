"""How often one field is selected again on one type, with fragments flattened.

graphql-core's OverlappingFieldsCanBeMerged rule compares every pair of fields that answer to
the same key on the same object, sub-selections included: 400 `u { id }` in one selection
cost 0.7 s of validation on an idle machine, within every other limit. Selecting a field again
adds nothing to the answer (equal fields merge), and generated documents repeat one a few
times at most (the shipped ones: once), so the limits refuse a document that repeats one more
than `max_field_repeats` times, and they run before graphql-core's rules (see
`app.graphql.validation_cache`), so the quadratic comparison never starts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    NamedTypeNode,
    SelectionSetNode,
    ValidationContext,
    get_named_type,
)


@dataclass
class Repeats:
    """One document's walk: each flattened selection once per object type it can answer as."""

    context: ValidationContext
    most: int = 0
    where: str = ""
    _seen: set[tuple[str, tuple[int, ...]]] = field(default_factory=set)
    _fragments: dict[tuple[str, str], list[FieldNode]] = field(default_factory=dict)
    _visiting: set[str] = field(default_factory=set)

    def selection(
        self, selection_set: SelectionSetNode | None, named: GraphQLNamedType, root: bool = False
    ) -> None:
        if selection_set is None:
            return
        schema = self.context.schema
        if isinstance(named, GraphQLAbstractType):
            members: list[GraphQLObjectType] = list(schema.get_possible_types(named))
        else:
            members = [named] if isinstance(named, GraphQLObjectType) else []
        for member in members:
            fields = self._fields(selection_set, member)
            # Sets that spread the same fragment flatten to the same fields: once is enough.
            seen = (member.name, tuple(map(id, fields)))
            if seen in self._seen:
                continue
            self._seen.add(seen)
            counts = Counter((node.alias or node.name).value for node in fields)
            counts.pop("__typename", None)  # clients add it to every selection; it costs no pairs
            for key, count in () if root else counts.items():
                if count > self.most:
                    self.most, self.where = count, f"{member.name}.{key}"
            for node in fields:
                definition = member.fields.get(node.name.value)
                if definition is not None:
                    self.selection(node.selection_set, get_named_type(definition.type))

    def _applies(self, condition: NamedTypeNode | None, member: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        named = self.context.schema.get_type(condition.name.value)
        return named is member or (
            isinstance(named, GraphQLAbstractType)
            and self.context.schema.is_sub_type(named, member)
        )

    def _fields(
        self, selection_set: SelectionSetNode, member: GraphQLObjectType
    ) -> list[FieldNode]:
        found: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, member):
                    found += self._fields(selection.selection_set, member)
            elif isinstance(selection, FragmentSpreadNode):
                found += self._spread(selection.name.value, member)
        return found

    def _spread(self, name: str, member: GraphQLObjectType) -> list[FieldNode]:
        key = (name, member.name)
        if key in self._fragments:
            return self._fragments[key]
        fragment = self.context.get_fragment(name)
        found: list[FieldNode] = []
        if (
            fragment is not None
            and name not in self._visiting
            and self._applies(fragment.type_condition, member)
        ):
            self._visiting.add(name)
            found = self._fields(fragment.selection_set, member)
            self._visiting.discard(name)
        self._fragments[key] = found
        return found


def most_repeated(
    context: ValidationContext, selection_set: SelectionSetNode, root: object
) -> tuple[int, str]:
    """The most times one field is selected on one type in the operation, and where."""
    repeats = Repeats(context)
    if isinstance(root, GraphQLObjectType):
        repeats.selection(selection_set, root, root=True)  # root fields have a limit of their own
    return repeats.most, repeats.where
