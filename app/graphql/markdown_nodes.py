"""The `MarkdownNode` union: one GraphQL type per node type of @rocket.chat/message-parser 0.32.

`from_json` turns the parser's raw AST (from our parser or from an upstream server) into these
types in one pass. A field name has one type across all members (`children`, `label`, `header`
and `rows` are always node lists; `text` is always a string), so one fragment can select every
member at once. Anything not understood, a newer node type or a malformed node, becomes
`UnknownMarkdownNode` with its raw JSON: nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeAlias, Union

import strawberry
from strawberry.scalars import JSON

TYPE_DESCRIPTION = "The parser's node type, e.g. PARAGRAPH."
CHILDREN_DESCRIPTION = "The nodes inside this one, in order."
TEXT_DESCRIPTION = "The node's text."


def _type_field() -> Any:
    return strawberry.field(description=TYPE_DESCRIPTION)


def _children_field(description: str = CHILDREN_DESCRIPTION) -> Any:
    return strawberry.field(description=description)


def _fallback_field() -> Any:
    return strawberry.field(
        default=None,
        description="The node's source range [start, end) in UTF-16 units of `msg`, for "
        "clients that cannot draw it and show the text instead.",
    )


@strawberry.type(description="A paragraph: one line or block of inline content.")
class Paragraph:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field()


@strawberry.type(description="Plain text with no markup (PLAIN_TEXT).")
class PlainText:
    type: str = _type_field()
    text: str = strawberry.field(description=TEXT_DESCRIPTION)


@strawberry.type(description="Bold text: `*bold*` or `**bold**`.")
class Bold:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field()


@strawberry.type(description="Italic text: `_italic_` or `__italic__`.")
class Italic:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field()


@strawberry.type(description="Struck-through text: `~strike~` or `~~strike~~`.")
class Strike:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field()


@strawberry.type(description="An inline spoiler: `||hidden||`.")
class Spoiler:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field()


@strawberry.type(description="A block spoiler (SPOILER_BLOCK): paragraphs hidden until revealed.")
class SpoilerBlock:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field("The hidden paragraphs.")


@strawberry.type(description="Inline code between backticks.")
class InlineCode:
    type: str = _type_field()
    text: str = strawberry.field(description="The code, verbatim.")


@strawberry.type(description="A fenced code block (CODE); its children are CodeLine nodes.")
class CodeBlock:
    type: str = _type_field()
    language: str | None = strawberry.field(
        description='The fence\'s language, "none" when the fence names none.'
    )
    children: list[MarkdownNode] = _children_field("The block's lines, as CodeLine nodes.")


@strawberry.type(description="One line of a code block (CODE_LINE).")
class CodeLine:
    type: str = _type_field()
    text: str = strawberry.field(description="The line, verbatim.")


@strawberry.type(description="A heading: `#` to `####`.")
class Heading:
    type: str = _type_field()
    level: int = strawberry.field(description="1 to 4: how many `#` opened it.")
    children: list[MarkdownNode] = _children_field()


@strawberry.type(description="A block quote (QUOTE): lines starting with `>`.")
class Quote:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field("The quoted paragraphs.")


@strawberry.type(description="A link: markdown, Slack-style, or an autolinked URL, email or phone.")
class Link:
    type: str = _type_field()
    src: str = strawberry.field(description="Where the link points (mailto: and tel: included).")
    label: list[MarkdownNode] = strawberry.field(
        description="What the link shows; always a list, even when the parser gives one node."
    )


@strawberry.type(description="An image: `![label](src)`.")
class Image:
    type: str = _type_field()
    src: str = strawberry.field(description="The image's address.")
    label: list[MarkdownNode] = strawberry.field(description="The alternative text, as a list.")


@strawberry.type(description="An @mention of a user (MENTION_USER).")
class UserMention:
    type: str = _type_field()
    text: str = strawberry.field(description='The username, without "@".')


@strawberry.type(description="A #mention of a channel (MENTION_CHANNEL).")
class ChannelMention:
    type: str = _type_field()
    text: str = strawberry.field(description='The channel name, without "#".')


@strawberry.type(description="An emoji: a `:shortcode:`, an emoticon, or a unicode emoji.")
class Emoji:
    type: str = _type_field()
    short_code: str | None = strawberry.field(
        description="The shortcode without colons, when the emoji was written as one."
    )
    unicode: str | None = strawberry.field(
        description="The emoji character(s), when it was written as unicode."
    )
    emoticon: str | None = strawberry.field(
        default=None, description='The emoticon as typed (e.g. ":)"), when it was one.'
    )


@strawberry.type(description="A message of one to three emoji and nothing else (BIG_EMOJI).")
class BigEmoji:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field("The emoji, as Emoji nodes.")


@strawberry.type(description="A colour preview: `color:#rrggbb` or `color:#rrggbbaa`.")
class Color:
    type: str = _type_field()
    r: int = strawberry.field(description="Red, 0 to 255.")
    g: int = strawberry.field(description="Green, 0 to 255.")
    b: int = strawberry.field(description="Blue, 0 to 255.")
    a: int = strawberry.field(description="Alpha, 0 to 255.")


@strawberry.type(description="A task list (TASKS); its children are Task nodes.")
class TaskList:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field("The tasks.")


@strawberry.type(description="One task: `- [x] done` or `- [ ] to do` (TASK).")
class Task:
    type: str = _type_field()
    checked: bool = strawberry.field(description="Whether the box is ticked (the parser's status).")
    children: list[MarkdownNode] = _children_field()


@strawberry.type(description="A numbered list; its children are ListItem nodes.")
class OrderedList:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field("The items.")


@strawberry.type(description="A bulleted list; its children are ListItem nodes.")
class UnorderedList:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field("The items.")


@strawberry.type(description="One item of a list.")
class ListItem:
    type: str = _type_field()
    number: int | None = strawberry.field(description="The item's number in an ordered list.")
    children: list[MarkdownNode] = _children_field()


@strawberry.type(description="An empty line between blocks (LINE_BREAK).")
class LineBreak:
    type: str = _type_field()


@strawberry.type(description="A horizontal rule: three or more `-` on a line of their own.")
class HorizontalRule:
    type: str = _type_field()
    fallback: list[int] | None = _fallback_field()


@strawberry.type(description="A KaTeX block formula (KATEX).")
class Katex:
    type: str = _type_field()
    text: str = strawberry.field(description="The formula's TeX source.")


@strawberry.type(description="An inline KaTeX formula (INLINE_KATEX).")
class InlineKatex:
    type: str = _type_field()
    text: str = strawberry.field(description="The formula's TeX source.")


@strawberry.type(description="A timestamp to show in the reader's time zone: `<t:...:f>`.")
class Timestamp:
    type: str = _type_field()
    timestamp: str = strawberry.field(description="Seconds since the Unix epoch, as a string.")
    format: str = strawberry.field(description="How to show it: t, T, d, D, f, F or R.")
    fallback: list[int] | None = _fallback_field()


@strawberry.type(description="A table; header holds TableCell nodes, rows holds TableRow nodes.")
class Table:
    type: str = _type_field()
    header: list[MarkdownNode] = strawberry.field(description="The header's cells.")
    rows: list[MarkdownNode] = strawberry.field(description="The body's rows.")
    fallback: list[int] | None = _fallback_field()


@strawberry.type(description="A row of a table; its children are TableCell nodes.")
class TableRow:
    type: str = _type_field()
    children: list[MarkdownNode] = _children_field("The row's cells.")


@strawberry.type(description="A cell of a table.")
class TableCell:
    type: str = _type_field()
    align: str | None = strawberry.field(description="left, center or right, when the column says.")
    children: list[MarkdownNode] = _children_field()


@strawberry.type(
    description="A node type this version does not know (a newer Rocket.Chat): kept, never dropped."
)
class UnknownMarkdownNode:
    type: str = _type_field()
    raw: JSON = strawberry.field(description="The node exactly as the parser emitted it.")


MarkdownNode: TypeAlias = Annotated[
    Union[  # noqa: UP007 - strawberry needs a Union object here
        Paragraph,
        PlainText,
        Bold,
        Italic,
        Strike,
        Spoiler,
        SpoilerBlock,
        InlineCode,
        CodeBlock,
        CodeLine,
        Heading,
        Quote,
        Link,
        Image,
        UserMention,
        ChannelMention,
        Emoji,
        BigEmoji,
        Color,
        TaskList,
        Task,
        OrderedList,
        UnorderedList,
        ListItem,
        LineBreak,
        HorizontalRule,
        Katex,
        InlineKatex,
        Timestamp,
        Table,
        TableRow,
        TableCell,
        UnknownMarkdownNode,
    ],
    strawberry.union(
        "MarkdownNode",
        description="One node of Rocket.Chat's markdown AST; `mdJson` has the same tree raw.",
    ),
]

Json = dict[str, Any]


def _nodes(value: Any) -> list[MarkdownNode]:
    """A node list; a single node (Link.label may be one) counts as a list of one."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise TypeError("not a node list")
    return [from_json_node(node) for node in value]


def _plain_text(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("value"), str):
        return str(value["value"])
    raise TypeError("not a PLAIN_TEXT node")


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError("not a string")


def _fallback(node: Json) -> list[int] | None:
    """The parser's source range; a PLAIN_TEXT fallback (older servers) stays in mdJson only."""
    value = node.get("fallback")
    if isinstance(value, list) and all(isinstance(item, int) for item in value):
        return value
    return None


def _emoticon(node: Json) -> str | None:
    value = node.get("value")
    if isinstance(value, dict) and value.get("value") != node.get("shortCode"):
        text = value.get("value")
        return text if isinstance(text, str) else None
    return None


def _color(node: Json) -> Color:
    value = node["value"]
    channels = [value[key] for key in ("r", "g", "b", "a")]
    if not all(isinstance(channel, int) for channel in channels):
        raise TypeError("not a colour")
    return Color(type=node["type"], r=channels[0], g=channels[1], b=channels[2], a=channels[3])


BUILDERS: dict[str, Callable[[Json], MarkdownNode]] = {
    "PARAGRAPH": lambda n: Paragraph(type=n["type"], children=_nodes(n["value"])),
    "PLAIN_TEXT": lambda n: PlainText(type=n["type"], text=_string(n["value"])),
    "BOLD": lambda n: Bold(type=n["type"], children=_nodes(n["value"])),
    "ITALIC": lambda n: Italic(type=n["type"], children=_nodes(n["value"])),
    "STRIKE": lambda n: Strike(type=n["type"], children=_nodes(n["value"])),
    "SPOILER": lambda n: Spoiler(type=n["type"], children=_nodes(n["value"])),
    "SPOILER_BLOCK": lambda n: SpoilerBlock(type=n["type"], children=_nodes(n["value"])),
    "INLINE_CODE": lambda n: InlineCode(type=n["type"], text=_plain_text(n["value"])),
    "CODE": lambda n: CodeBlock(
        type=n["type"], language=n.get("language"), children=_nodes(n["value"])
    ),
    "CODE_LINE": lambda n: CodeLine(type=n["type"], text=_plain_text(n["value"])),
    "HEADING": lambda n: Heading(
        type=n["type"], level=int(n["level"]), children=_nodes(n["value"])
    ),
    "QUOTE": lambda n: Quote(type=n["type"], children=_nodes(n["value"])),
    "LINK": lambda n: Link(
        type=n["type"], src=_plain_text(n["value"]["src"]), label=_nodes(n["value"]["label"])
    ),
    "IMAGE": lambda n: Image(
        type=n["type"], src=_plain_text(n["value"]["src"]), label=_nodes(n["value"]["label"])
    ),
    "MENTION_USER": lambda n: UserMention(type=n["type"], text=_plain_text(n["value"])),
    "MENTION_CHANNEL": lambda n: ChannelMention(type=n["type"], text=_plain_text(n["value"])),
    "EMOJI": lambda n: Emoji(
        type=n["type"],
        short_code=n.get("shortCode"),
        unicode=n.get("unicode"),
        emoticon=_emoticon(n),
    ),
    "BIG_EMOJI": lambda n: BigEmoji(type=n["type"], children=_nodes(n["value"])),
    "COLOR": _color,
    "TASKS": lambda n: TaskList(type=n["type"], children=_nodes(n["value"])),
    "TASK": lambda n: Task(type=n["type"], checked=bool(n["status"]), children=_nodes(n["value"])),
    "ORDERED_LIST": lambda n: OrderedList(type=n["type"], children=_nodes(n["value"])),
    "UNORDERED_LIST": lambda n: UnorderedList(type=n["type"], children=_nodes(n["value"])),
    "LIST_ITEM": lambda n: ListItem(
        type=n["type"], number=n.get("number"), children=_nodes(n["value"])
    ),
    "LINE_BREAK": lambda n: LineBreak(type=n["type"]),
    "HORIZONTAL_RULE": lambda n: HorizontalRule(type=n["type"], fallback=_fallback(n)),
    "KATEX": lambda n: Katex(type=n["type"], text=_string(n["value"])),
    "INLINE_KATEX": lambda n: InlineKatex(type=n["type"], text=_string(n["value"])),
    "TIMESTAMP": lambda n: Timestamp(
        type=n["type"],
        timestamp=_string(n["value"]["timestamp"]),
        format=_string(n["value"]["format"]),
        fallback=_fallback(n),
    ),
    "TABLE": lambda n: Table(
        type=n["type"],
        header=_nodes(n["value"]["header"]),
        rows=_nodes(n["value"]["rows"]),
        fallback=_fallback(n),
    ),
    "TABLE_ROW": lambda n: TableRow(type=n["type"], children=_nodes(n["value"])),
    "TABLE_CELL": lambda n: TableCell(
        type=n["type"], align=n.get("align"), children=_nodes(n["value"])
    ),
}


def from_json_node(node: Any) -> MarkdownNode:
    """One raw AST node as its GraphQL type; what does not fit is kept as UnknownMarkdownNode."""
    node_type = node.get("type") if isinstance(node, dict) else None
    build = BUILDERS.get(node_type) if isinstance(node_type, str) else None
    if build is not None:
        try:
            return build(node)
        except (KeyError, TypeError, ValueError):
            pass
    return UnknownMarkdownNode(type=node_type if isinstance(node_type, str) else "", raw=node)


def from_json(ast: Any) -> list[MarkdownNode]:
    """The whole `md` array as typed nodes."""
    if not isinstance(ast, list):
        return []
    return [from_json_node(node) for node in ast]
