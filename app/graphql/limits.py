"""Refuse expensive documents before they run: depth, aliases, root fields, tokens, cost.

Every refusal is a GraphQL error with `extensions.code` BAD_REQUEST, found during validation
(cached per document, so a refused document costs one validation however often it comes).

Depth is counted in three places separately. The markdown tree is nested by design (the shipped
fragment selects 10 node levels, 2 selections each), so `md` gets its own limit derived from that
fragment. Introspection (`__schema`, `__type`) is nested by design too: every IDE and code
generator sends graphql-js's introspection query, 15 levels deep with its `ofType` chain, so it
does not count against the general limit (GraphQL Armor's `ignoreIntrospection`) but has a
bounded limit of its own, which stops `fields { type { fields { type ...` bombs. A depth bomb
anywhere else fails at the general limit.

A field selected again and again on one type is refused too (`app.graphql.repeats`): these
limits run before graphql-core's own rules, whose field-merging check is quadratic in it.

Cost is the estimate of `app.graphql.cost`: list sizes times the selected tree. The refusal
carries the estimate and the limit in `extensions` (`cost`, `maxCost`), so a client can see
how far over it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

from app.graphql.cost import operation_cost
from app.graphql.errors import Code
from app.graphql.fragments import DEFAULT_DEPTH
from app.graphql.repeats import most_repeated

BAD_REQUEST = {"code": Code.BAD_REQUEST}
# `md` itself plus the node levels of the shipped fragment.
MARKDOWN_FRAGMENT_DEPTH = 1 + DEFAULT_DEPTH
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class RequestLimits:
    """What one document may cost; the values (and why) are in `app.settings.Settings`."""

    max_depth: int
    max_markdown_depth: int
    max_introspection_depth: int
    max_aliases: int
    max_root_fields: int
    max_tokens: int
    max_cost: int
    max_answer_bytes: int
    max_field_repeats: int


@dataclass
class _Depth:
    outside: int = 0  # selection levels outside any `md` or introspection
    markdown: int = 0  # selection levels inside the deepest `md`
    introspection: int = 0  # selection levels of the deepest `__schema` or `__type`

    def merge(self, inner: _Depth) -> None:
        self.outside = max(self.outside, inner.outside)
        self.markdown = max(self.markdown, inner.markdown)
        self.introspection = max(self.introspection, inner.introspection)


class DocumentLimits(ValidationRule):
    """The limits; `app.graphql.validation_cache` runs them before the other rules."""

    limits: RequestLimits  # bound by `validation_rule`

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self._fragments: dict[str, _Depth] = {}
        self._aliases = 0

    def _selections(
        self, selection_set: SelectionSetNode | None, visiting: frozenset[str]
    ) -> _Depth:
        found = _Depth()
        if selection_set is None:
            return found
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self._selections(selection.selection_set, visiting)
                name = selection.name.value
                if name in INTROSPECTION_ROOTS:
                    deepest = max(inner.outside, inner.markdown, inner.introspection)
                    found.introspection = max(found.introspection, 1 + deepest)
                elif name == "md":
                    found.outside = max(found.outside, 1)
                    found.markdown = max(found.markdown, 1 + max(inner.outside, inner.markdown))
                    found.introspection = max(found.introspection, inner.introspection)
                else:
                    found.merge(_Depth(1 + inner.outside, inner.markdown, inner.introspection))
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self._selections(selection.selection_set, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self._fragment(selection.name.value, visiting)
            else:  # pragma: no cover - graphql-core has no other selection kind
                continue
            found.merge(inner)
        return found

    def _fragment(self, name: str, visiting: frozenset[str]) -> _Depth:
        if name in self._fragments:
            return self._fragments[name]
        fragment = self.context.get_fragment(name)
        if fragment is None or name in visiting:
            return _Depth()  # unknown or cyclic: other rules report it
        depth = self._selections(fragment.selection_set, visiting | {name})
        self._fragments[name] = depth
        return depth

    def _root_fields(self, selection_set: SelectionSetNode, visiting: frozenset[str]) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                count += self._root_fields(selection.selection_set, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.context.get_fragment(selection.name.value)
                if fragment is not None and selection.name.value not in visiting:
                    count += self._root_fields(
                        fragment.selection_set, visiting | {selection.name.value}
                    )
        return count

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.alias is not None:
            self._aliases += 1
            if self._aliases == self.limits.max_aliases + 1:
                self._refuse(f"The document uses more than {self.limits.max_aliases} aliases.")

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        limits = self.limits
        roots = self._root_fields(node.selection_set, frozenset())
        if roots > limits.max_root_fields:
            self._refuse(
                f"The operation selects {roots} root fields; at most {limits.max_root_fields}."
            )
        depth = self._selections(node.selection_set, frozenset())
        if depth.outside > limits.max_depth:
            self._refuse(
                f"The operation is {depth.outside} levels deep; at most {limits.max_depth}."
            )
        if depth.markdown > limits.max_markdown_depth:
            self._refuse(
                f"The md selection is {depth.markdown} levels deep; at most "
                f"{limits.max_markdown_depth} (the shipped MarkdownNode fragment needs "
                f"{MARKDOWN_FRAGMENT_DEPTH})."
            )
        if depth.introspection > limits.max_introspection_depth:
            self._refuse(
                f"The introspection selection is {depth.introspection} levels deep; at most "
                f"{limits.max_introspection_depth}."
            )
        root = self.context.schema.get_root_type(node.operation)
        repeats, where = most_repeated(self.context, node.selection_set, root)
        if repeats > limits.max_field_repeats:
            self._refuse(
                f"The operation selects {where} {repeats} times; at most "
                f"{limits.max_field_repeats}."
            )
        cost = operation_cost(self.context, node.selection_set, root)
        if cost > limits.max_cost:
            self._refuse(
                f"The operation's estimated cost is {cost}; at most {limits.max_cost}.",
                cost=cost,
                maxCost=limits.max_cost,
            )

    def _refuse(self, message: str, **details: int) -> None:
        self.report_error(GraphQLError(message, extensions={**BAD_REQUEST, **details}))


def validation_rule(limits: RequestLimits) -> type[ValidationRule]:
    """The document limits as a graphql-core validation rule bound to `limits`."""
    return type("DocumentLimits", (DocumentLimits,), {"limits": limits})
