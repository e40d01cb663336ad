/**
 * The `MarkdownNode` union as a client receives it through queries/fragments/MarkdownNode.graphql:
 * every member with its `__typename`. The fragment selects node lists only ten levels deep, so a
 * node at the tenth level arrives without them: each list is optional here for that reason.
 * fragment-check.ts proves at compile time that the fragment's generated type fits these, and
 * the unit test checks the renderer's members against schema/possibleTypes.json.
 */

type Nodes = readonly MarkdownNode[];

export interface Paragraph {
  readonly __typename: "Paragraph";
  readonly children?: Nodes;
}
export interface PlainText {
  readonly __typename: "PlainText";
  readonly text: string;
}
export interface Bold {
  readonly __typename: "Bold";
  readonly children?: Nodes;
}
export interface Italic {
  readonly __typename: "Italic";
  readonly children?: Nodes;
}
export interface Strike {
  readonly __typename: "Strike";
  readonly children?: Nodes;
}
export interface Spoiler {
  readonly __typename: "Spoiler";
  readonly children?: Nodes;
}
export interface SpoilerBlock {
  readonly __typename: "SpoilerBlock";
  readonly children?: Nodes;
}
export interface InlineCode {
  readonly __typename: "InlineCode";
  readonly text: string;
}
export interface CodeBlock {
  readonly __typename: "CodeBlock";
  readonly language?: string | null;
  readonly children?: Nodes;
}
export interface CodeLine {
  readonly __typename: "CodeLine";
  readonly text: string;
}
export interface Heading {
  readonly __typename: "Heading";
  readonly level: number;
  readonly children?: Nodes;
}
export interface Quote {
  readonly __typename: "Quote";
  readonly children?: Nodes;
}
export interface Link {
  readonly __typename: "Link";
  readonly src: string;
  readonly label?: Nodes;
}
export interface Image {
  readonly __typename: "Image";
  readonly src: string;
  readonly label?: Nodes;
}
export interface UserMention {
  readonly __typename: "UserMention";
  readonly text: string;
}
export interface ChannelMention {
  readonly __typename: "ChannelMention";
  readonly text: string;
}
export interface Emoji {
  readonly __typename: "Emoji";
  readonly shortCode?: string | null;
  readonly unicode?: string | null;
  readonly emoticon?: string | null;
}
export interface BigEmoji {
  readonly __typename: "BigEmoji";
  readonly children?: Nodes;
}
export interface Color {
  readonly __typename: "Color";
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly a: number;
}
export interface TaskList {
  readonly __typename: "TaskList";
  readonly children?: Nodes;
}
export interface Task {
  readonly __typename: "Task";
  readonly checked: boolean;
  readonly children?: Nodes;
}
export interface OrderedList {
  readonly __typename: "OrderedList";
  readonly children?: Nodes;
}
export interface UnorderedList {
  readonly __typename: "UnorderedList";
  readonly children?: Nodes;
}
export interface ListItem {
  readonly __typename: "ListItem";
  readonly number?: number | null;
  readonly children?: Nodes;
}
export interface LineBreak {
  readonly __typename: "LineBreak";
}
export interface HorizontalRule {
  readonly __typename: "HorizontalRule";
  readonly fallback?: readonly number[] | null;
}
export interface Katex {
  readonly __typename: "Katex";
  readonly text: string;
}
export interface InlineKatex {
  readonly __typename: "InlineKatex";
  readonly text: string;
}
export interface Timestamp {
  readonly __typename: "Timestamp";
  readonly timestamp: string;
  readonly format: string;
  readonly fallback?: readonly number[] | null;
}
export interface Table {
  readonly __typename: "Table";
  readonly header?: Nodes;
  readonly rows?: Nodes;
  readonly fallback?: readonly number[] | null;
}
export interface TableRow {
  readonly __typename: "TableRow";
  readonly children?: Nodes;
}
export interface TableCell {
  readonly __typename: "TableCell";
  readonly align?: string | null;
  readonly children?: Nodes;
}
export interface UnknownMarkdownNode {
  readonly __typename: "UnknownMarkdownNode";
  readonly type: string;
  readonly raw: unknown;
}

export type MarkdownNode =
  | Paragraph
  | PlainText
  | Bold
  | Italic
  | Strike
  | Spoiler
  | SpoilerBlock
  | InlineCode
  | CodeBlock
  | CodeLine
  | Heading
  | Quote
  | Link
  | Image
  | UserMention
  | ChannelMention
  | Emoji
  | BigEmoji
  | Color
  | TaskList
  | Task
  | OrderedList
  | UnorderedList
  | ListItem
  | LineBreak
  | HorizontalRule
  | Katex
  | InlineKatex
  | Timestamp
  | Table
  | TableRow
  | TableCell
  | UnknownMarkdownNode;

export type MarkdownTypename = MarkdownNode["__typename"];
