"""What an operation's answer can cost, estimated from the document alone (demand control).

Depth, aliases and root fields bound a document's shape, not its answer: ten aliased
`livechatMessages(limit: 100)` with the shipped fragments pass all of them and answer hundreds
of megabytes. The estimate here is Apollo Router's static one (and IBM's GraphQL cost
specification's): the answer's values, a list's selection counted once per item it can hold.

- A leaf is 1; an object is 1 plus its selection; an abstract type costs its costliest member.
- A list holds `limit` items when its field's parent took a `limit` argument (Apollo's
  `@listSize(slicingArguments: ["limit"])`: `livechatMessages(limit)` sizes `messages`), the
  argument's most when a variable gives it, its default when it is left out; any other list
  holds `ASSUMED_LIST_SIZE`.
- `md` is a tree, not a list of lists: its size is set by the message's text, not by how deep
  the fragment reaches. A message parses to about one node per character at most, so `md`
  counts `MARKDOWN_NODES` nodes, each as wide as the widest node the selection can answer
  (every level and member considered; a child list is one value of its parent).
- Introspection (`__schema`, `__type`) is 1: its depth has a limit of its own, and its answer
  is the schema, whatever the document asks.

The estimate depends on the document only (variables count at their most), so it is found at
validation and cached with the document's other validation results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    SelectionSetNode,
    ValidationContext,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)

from app.backends.base import HISTORY_LIMIT

ASSUMED_LIST_SIZE = 10
MARKDOWN_NODES = 5000
MARKDOWN_NODE = "MarkdownNode"
# Arguments that size the lists of their field's value, with the most each allows.
SLICING_ARGUMENTS = {"limit": HISTORY_LIMIT}
INTROSPECTION = frozenset({"__schema", "__type"})


@dataclass
class Estimate:
    """One document's walk; fragments are costed once per type they are spread on (the
    markdown fragment spreads each level under 20 members)."""

    context: ValidationContext
    _fragments: dict[tuple[str, str, int | None], int] = field(default_factory=dict)
    _widths: dict[int, int] = field(default_factory=dict)  # by id of a selection set
    _node_fragments: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    _visiting: set[str] = field(default_factory=set)

    @property
    def schema(self) -> GraphQLSchema:
        return self.context.schema

    def operation(self, selection_set: SelectionSetNode, root: GraphQLObjectType) -> int:
        return self._object(selection_set, root, None)

    def _members(self, named: GraphQLNamedType) -> list[GraphQLObjectType]:
        if is_abstract_type(named):
            assert isinstance(named, GraphQLAbstractType)
            return list(self.schema.get_possible_types(named))
        return [named] if isinstance(named, GraphQLObjectType) else []

    def _applies(self, condition: NamedTypeNode | None, member: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        named = self.schema.get_type(condition.name.value)
        if named is member:
            return True
        return isinstance(named, GraphQLAbstractType) and self.schema.is_sub_type(named, member)

    def _selection(
        self, selection_set: SelectionSetNode | None, named: GraphQLNamedType, size: int | None
    ) -> int:
        """The costliest member's cost of a selection on `named`."""
        if selection_set is None:
            return 0
        return max(
            (self._object(selection_set, member, size) for member in self._members(named)),
            default=0,
        )

    def _object(
        self, selection_set: SelectionSetNode, member: GraphQLObjectType, size: int | None
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, member, size)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, member):
                    total += self._object(selection.selection_set, member, size)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._spread(selection.name.value, member, size)
        return total

    def _spread(self, name: str, member: GraphQLObjectType, size: int | None) -> int:
        key = (name, member.name, size)
        if key in self._fragments:
            return self._fragments[key]
        fragment = self.context.get_fragment(name)
        if fragment is None or name in self._visiting:
            return 0  # unknown or cyclic: other rules report it
        cost = 0
        if self._applies(fragment.type_condition, member):
            self._visiting.add(name)
            cost = self._object(fragment.selection_set, member, size)
            self._visiting.discard(name)
        self._fragments[key] = cost
        return cost

    def _field(self, node: FieldNode, member: GraphQLObjectType, size: int | None) -> int:
        name = node.name.value
        if name == "__typename" or name in INTROSPECTION:
            return 1
        definition = member.fields.get(name)
        if definition is None:
            return 0  # other rules report it
        named = get_named_type(definition.type)
        if named.name == MARKDOWN_NODE:
            return 1 + MARKDOWN_NODES * self._width(node.selection_set)
        if is_leaf_type(named):
            return 1
        inner = self._selection(node.selection_set, named, self._slice(node, definition.args))
        return 1 + _items(definition.type, size) * inner

    def _slice(self, node: FieldNode, arguments: dict[str, object]) -> int | None:
        """The size the field's slicing argument gives the lists of its value, if it has one."""
        for name, most in SLICING_ARGUMENTS.items():
            if name not in arguments:
                continue
            given = next((a.value for a in node.arguments or () if a.name.value == name), None)
            if isinstance(given, IntValueNode):
                return max(0, min(int(given.value), most))
            if given is None:
                default = getattr(arguments[name], "default_value", None)
                return default if isinstance(default, int) else most
            return most  # a variable: at its most
        return None

    def _width(self, selection_set: SelectionSetNode | None) -> int:
        """The most values one markdown node of this selection answers, at any level below."""
        if selection_set is None:
            return 0
        known = self._widths.get(id(selection_set))
        if known is not None:
            return known
        node_type = self.schema.get_type(MARKDOWN_NODE)
        assert node_type is not None
        width = max(
            (self._node(selection_set, member) for member in self._members(node_type)),
            default=0,
        )
        self._widths[id(selection_set)] = width
        return width

    def _node(self, selection_set: SelectionSetNode, member: GraphQLObjectType) -> int:
        """The width of a node of type `member`: its own values, or a wider node below."""
        own, below = self._node_values(selection_set, member)
        return max(own, below)

    def _node_values(
        self, selection_set: SelectionSetNode, member: GraphQLObjectType
    ) -> tuple[int, int]:
        """A node's own values (a child list is one) and the widest node below it."""
        own, below = 0, 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                definition = member.fields.get(selection.name.value)
                if definition is not None and get_named_type(definition.type).name == MARKDOWN_NODE:
                    own += 1
                    below = max(below, self._width(selection.selection_set))
                else:
                    own += self._field(selection, member, None)
                continue
            if isinstance(selection, InlineFragmentNode):
                if not self._applies(selection.type_condition, member):
                    continue
                inner = self._node_values(selection.selection_set, member)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self._node_spread(selection.name.value, member)
            else:  # pragma: no cover - graphql-core has no other selection kind
                continue
            own, below = own + inner[0], max(below, inner[1])
        return own, below

    def _node_spread(self, name: str, member: GraphQLObjectType) -> tuple[int, int]:
        key = (name, member.name)
        known = self._node_fragments.get(key)
        if known is not None:
            return known
        fragment = self.context.get_fragment(name)
        values = (0, 0)
        if (
            fragment is not None
            and name not in self._visiting
            and self._applies(fragment.type_condition, member)
        ):
            self._visiting.add(name)
            values = self._node_values(fragment.selection_set, member)
            self._visiting.discard(name)
        self._node_fragments[key] = values
        return values


def _items(output: GraphQLOutputType, size: int | None) -> int:
    """How many values of its named type a field of this type holds (lists of lists multiply)."""
    items = 1
    while True:
        if isinstance(output, GraphQLNonNull):
            output = output.of_type
        elif isinstance(output, GraphQLList):
            items *= ASSUMED_LIST_SIZE if size is None else size
            output = output.of_type
        else:
            return items


def operation_cost(
    context: ValidationContext, selection_set: SelectionSetNode, root: object
) -> int:
    """The estimated cost of an operation whose root type is `root` (0 without one)."""
    if not is_object_type(root):
        return 0
    assert isinstance(root, GraphQLObjectType)
    return Estimate(context).operation(selection_set, root)
