/**
 * Renders a message's `md` (the `MarkdownNode` union, as the shipped fragment
 * queries/fragments/MarkdownNode.graphql selects it) to DOM nodes.
 *
 * Only `createElement`, `createTextNode`, `textContent` and attributes whose values are checked:
 * message text never reaches an HTML parser, so `<script>` in a message is text. Links keep only
 * http(s) and mailto targets, images only http(s); anything else shows as its text. The tree is
 * walked with an explicit stack, not recursion, and below `maxDepth` levels a subtree becomes its
 * plain text, so hostile nesting can neither overflow the stack nor build a DOM no browser lays
 * out. A node list the fragment did not select (it stops ten levels down), or an empty `md`, makes
 * the whole message fall back to its source text `msg`, when given, rather than show holes.
 */

import { emojiForShortcode } from "./emoji.js";
import type {
  Color,
  MarkdownNode,
  MarkdownTypename,
  Table,
  TableCell,
  Timestamp,
} from "./markdown-nodes.js";
import { type TimeOptions, formatTimestamp, fullTimestamp, instant } from "./timestamps.js";

export type { MarkdownNode, MarkdownTypename } from "./markdown-nodes.js";

export interface RenderOptions extends TimeOptions {
  /** The document to create nodes in (a page's own by default). */
  readonly document?: Document;
  /** The message's source text: the fallback for truncated trees and Timestamp ranges. */
  readonly msg?: string;
  /** Levels rendered as elements; deeper subtrees become plain text. */
  readonly maxDepth?: number;
  /** What a block spoiler's summary says. */
  readonly spoilerLabel?: string;
}

export const MAX_DEPTH = 32;

const LINK_SCHEMES = new Set(["http:", "https:", "mailto:"]);
const IMAGE_SCHEMES = new Set(["http:", "https:"]);
const ALIGNMENTS = new Set(["left", "center", "right"]);
const LANGUAGE = /^[\w.+#-]{1,32}$/;

type Nodes = readonly MarkdownNode[];

/** A node list to render into a DOM parent; `nodes` undefined means the fragment cut it off. */
interface Slot {
  readonly nodes: Nodes | undefined;
  readonly into: Node;
  readonly header?: boolean;
}

interface Rendered {
  readonly node: Node;
  readonly slots?: readonly Slot[];
}

interface Context {
  readonly doc: Document;
  readonly options: RenderOptions;
  /** Whether the node is a cell of the table's header row. */
  readonly header: boolean;
}

type Renderer<K extends MarkdownTypename> = (
  node: Extract<MarkdownNode, { __typename: K }>,
  context: Context,
) => Rendered;

function element<K extends keyof HTMLElementTagNameMap>(
  context: Context,
  tag: K,
  className?: string,
): HTMLElementTagNameMap[K] {
  const created = context.doc.createElement(tag);
  if (className !== undefined) created.className = className;
  return created;
}

function text(context: Context, value: string): Rendered {
  return { node: context.doc.createTextNode(value) };
}

/** An element whose content is the node's `children`. */
function container<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string) {
  return (node: { readonly children?: Nodes }, context: Context): Rendered => {
    const into = element(context, tag, className);
    return { node: into, slots: [{ nodes: node.children, into }] };
  };
}

/** The address to use for `src`, or undefined when its scheme is not allowed. A
 * protocol-relative autolink (`//example.com`, how the parser links a bare domain) reads as
 * https. */
export function safeUrl(
  src: string,
  schemes: ReadonlySet<string> = LINK_SCHEMES,
): string | undefined {
  const candidate = src.startsWith("//") ? `https:${src}` : src;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  return schemes.has(url.protocol) ? url.href : undefined;
}

const SKIPPED_KEYS = new Set([
  "__typename",
  "type",
  "src",
  "language",
  "align",
  "format",
  "fallback",
  "timestamp",
  "level",
  "number",
  "checked",
  "shortCode",
  "unicode",
  "emoticon",
  "r",
  "g",
  "b",
  "a",
]);

function emojiText(node: {
  shortCode?: string | null;
  unicode?: string | null;
  emoticon?: string | null;
}): string {
  if (node.unicode) return node.unicode;
  const found = node.shortCode ? emojiForShortcode(node.shortCode) : undefined;
  return found ?? node.emoticon ?? (node.shortCode ? `:${node.shortCode}:` : "");
}

/** What a typed leaf shows that its fields alone do not say; undefined for the rest. */
function leafText(record: Record<string, unknown>): string | undefined {
  switch (record["__typename"]) {
    case "Emoji":
      return emojiText(record as Parameters<typeof emojiText>[0]);
    case "UserMention":
      return `@${String(record["text"])}`;
    case "ChannelMention":
      return `#${String(record["text"])}`;
    case "Color":
      return colorCode(record as unknown as Color);
    default:
      return record["type"] === "EMOJI"
        ? emojiText(record as Parameters<typeof emojiText>[0])
        : undefined;
  }
}

/** The text of any tree (typed nodes, or an unknown node's raw JSON), walked without recursion. */
export function plainText(root: unknown): string {
  const parts: string[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === "string") {
      parts.push(value);
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index -= 1) stack.push(value[index]);
    } else if (value !== null && typeof value === "object") {
      const record = value as Record<string, unknown>;
      const shown = leafText(record);
      if (shown !== undefined) {
        parts.push(shown);
        continue;
      }
      const keys = Object.keys(record).filter((key) => !SKIPPED_KEYS.has(key));
      for (let index = keys.length - 1; index >= 0; index -= 1) stack.push(record[keys[index]!]);
    }
  }
  return parts.join("");
}

/** The source text of a node that carries a `fallback` range into `msg`. */
function sourceText(
  fallback: readonly number[] | null | undefined,
  context: Context,
): string | undefined {
  const msg = context.options.msg;
  if (msg === undefined || !fallback || fallback.length !== 2) return undefined;
  const [start, end] = fallback as [number, number];
  return start >= 0 && end <= msg.length && start < end ? msg.slice(start, end) : undefined;
}

function renderTimestamp(node: Timestamp, context: Context): Rendered {
  const date = instant(node.timestamp);
  if (date === undefined) {
    return text(
      context,
      sourceText(node.fallback, context) ?? `<t:${node.timestamp}:${node.format}>`,
    );
  }
  const time = element(context, "time", "md-timestamp");
  time.dateTime = date.toISOString();
  time.title = fullTimestamp(date, context.options);
  time.textContent = formatTimestamp(date, node.format, context.options);
  return { node: time };
}

function renderTable(node: Table, context: Context): Rendered {
  const table = element(context, "table", "md-table");
  const slots: Slot[] = [];
  if (node.header === undefined || node.header.length > 0) {
    const head = element(context, "thead");
    const row = element(context, "tr");
    head.appendChild(row);
    table.appendChild(head);
    slots.push({ nodes: node.header, into: row, header: true });
  }
  const body = element(context, "tbody");
  table.appendChild(body);
  slots.push({ nodes: node.rows, into: body });
  return { node: table, slots };
}

function renderCell(node: TableCell, context: Context): Rendered {
  const cell = element(context, context.header ? "th" : "td");
  if (node.align && ALIGNMENTS.has(node.align)) cell.style.textAlign = node.align;
  return { node: cell, slots: [{ nodes: node.children, into: cell }] };
}

function channel(value: number): number {
  return Math.min(255, Math.max(0, Math.round(value)));
}

function hex(value: number): string {
  return channel(value).toString(16).padStart(2, "0");
}

/** `#rrggbb`, or `#rrggbbaa` when not opaque. */
function colorCode(node: Color): string {
  const alpha = channel(node.a);
  return `#${hex(node.r)}${hex(node.g)}${hex(node.b)}${alpha === 255 ? "" : hex(alpha)}`;
}

/** Every member of the union and how it is drawn: the type makes a missing member a compile
 * error, and the unit test checks the keys against schema/possibleTypes.json. */
const RENDERERS: { readonly [K in MarkdownTypename]: Renderer<K> } = {
  Paragraph: container("p"),
  PlainText: (node, context) => text(context, node.text),
  Bold: container("strong"),
  Italic: container("em"),
  Strike: container("del"),
  Spoiler: (node, context) => {
    // Focusable, so that a keyboard can reveal it as a pointer does (markdown.css).
    const span = element(context, "span", "md-spoiler");
    span.tabIndex = 0;
    return { node: span, slots: [{ nodes: node.children, into: span }] };
  },
  SpoilerBlock: (node, context) => {
    const details = element(context, "details", "md-spoiler-block");
    const summary = element(context, "summary");
    summary.textContent = context.options.spoilerLabel ?? "Spoiler";
    details.appendChild(summary);
    return { node: details, slots: [{ nodes: node.children, into: details }] };
  },
  InlineCode: (node, context) => {
    const code = element(context, "code");
    code.textContent = node.text;
    return { node: code };
  },
  CodeBlock: (node, context) => {
    const pre = element(context, "pre");
    const code = element(context, "code");
    pre.appendChild(code);
    const language = node.language;
    if (language && language !== "none" && LANGUAGE.test(language)) {
      code.className = `language-${language}`;
    }
    const lines = node.children;
    if (lines !== undefined && lines.every((line) => line.__typename === "CodeLine")) {
      code.textContent = lines
        .map((line) => (line.__typename === "CodeLine" ? line.text : ""))
        .join("\n");
      return { node: pre };
    }
    return { node: pre, slots: [{ nodes: lines, into: code }] };
  },
  CodeLine: (node, context) => {
    const code = element(context, "code");
    code.textContent = node.text;
    return { node: code };
  },
  Heading: (node, context) => {
    const level = Math.min(6, Math.max(1, Math.trunc(node.level) || 1));
    const heading = element(context, `h${level}` as "h1");
    return { node: heading, slots: [{ nodes: node.children, into: heading }] };
  },
  Quote: container("blockquote"),
  Link: (node, context) => {
    const href = safeUrl(node.src, LINK_SCHEMES);
    if (href === undefined) {
      const span = element(context, "span", "md-link-refused");
      return { node: span, slots: [{ nodes: node.label, into: span }] };
    }
    const anchor = element(context, "a");
    anchor.href = href;
    anchor.rel = "noopener noreferrer";
    anchor.target = "_blank";
    return { node: anchor, slots: [{ nodes: node.label, into: anchor }] };
  },
  Image: (node, context) => {
    const alt = plainText(node.label ?? []);
    const src = safeUrl(node.src, IMAGE_SCHEMES);
    if (src === undefined) {
      const span = element(context, "span", "md-image-refused");
      span.textContent = alt;
      return { node: span };
    }
    const image = element(context, "img");
    image.src = src;
    image.alt = alt;
    image.loading = "lazy";
    image.referrerPolicy = "no-referrer";
    return { node: image };
  },
  UserMention: (node, context) => {
    const span = element(context, "span", "md-mention-user");
    span.dataset["username"] = node.text;
    span.textContent = `@${node.text}`;
    return { node: span };
  },
  ChannelMention: (node, context) => {
    const span = element(context, "span", "md-mention-channel");
    span.dataset["channel"] = node.text;
    span.textContent = `#${node.text}`;
    return { node: span };
  },
  Emoji: (node, context) => {
    const shown = emojiText(node);
    const known =
      Boolean(node.unicode) || (node.shortCode ? emojiForShortcode(node.shortCode) : undefined);
    if (!known) return text(context, shown);
    const span = element(context, "span", "md-emoji");
    span.setAttribute("role", "img");
    const label = node.shortCode ? `:${node.shortCode}:` : shown;
    span.setAttribute("aria-label", label);
    span.title = node.emoticon ?? label;
    span.textContent = shown;
    return { node: span };
  },
  BigEmoji: container("div", "md-big-emoji"),
  Color: (node, context) => {
    // The swatch's colour goes through a custom property (markdown.css paints it): engines
    // serialise those verbatim, where they round a colour's alpha each their own way.
    const span = element(context, "span", "md-color");
    const swatch = element(context, "span", "md-color-swatch");
    const code = colorCode(node);
    swatch.style.setProperty("--md-color", code);
    span.appendChild(swatch);
    span.appendChild(context.doc.createTextNode(code));
    return { node: span };
  },
  TaskList: container("ul", "md-tasks"),
  Task: (node, context) => {
    const item = element(context, "li", "md-task");
    const box = element(context, "input");
    box.type = "checkbox";
    box.disabled = true;
    box.checked = node.checked;
    if (node.checked) box.setAttribute("checked", "");
    item.appendChild(box);
    return { node: item, slots: [{ nodes: node.children, into: item }] };
  },
  OrderedList: container("ol"),
  UnorderedList: container("ul"),
  ListItem: (node, context) => {
    const item = element(context, "li");
    if (typeof node.number === "number" && Number.isFinite(node.number)) {
      item.setAttribute("value", String(Math.trunc(node.number)));
    }
    return { node: item, slots: [{ nodes: node.children, into: item }] };
  },
  LineBreak: (_node, context) => ({ node: element(context, "br") }),
  HorizontalRule: (_node, context) => ({ node: element(context, "hr") }),
  Katex: (node, context) => {
    const block = element(context, "div", "md-katex");
    const code = element(context, "code");
    code.textContent = node.text;
    block.appendChild(code);
    return { node: block };
  },
  InlineKatex: (node, context) => {
    const code = element(context, "code", "md-katex");
    code.textContent = node.text;
    return { node: code };
  },
  Timestamp: renderTimestamp,
  Table: renderTable,
  TableRow: container("tr"),
  TableCell: renderCell,
  UnknownMarkdownNode: (node, context) => {
    const span = element(context, "span", "md-unknown");
    span.dataset["type"] = node.type;
    span.textContent = plainText(node.raw);
    return { node: span };
  },
};

/** The members this renderer draws, for tests and for a client checking a newer schema. */
export const RENDERED_TYPES: readonly MarkdownTypename[] = Object.keys(
  RENDERERS,
) as MarkdownTypename[];

function renderOne(node: MarkdownNode, context: Context): Rendered {
  const renderer = (RENDERERS as Record<string, Renderer<MarkdownTypename> | undefined>)[
    node.__typename
  ];
  if (renderer === undefined) {
    // A member added to the schema after this file: its text, never nothing.
    const span = element(context, "span", "md-unknown");
    span.textContent = plainText(node);
    return { node: span };
  }
  return renderer(node as never, context);
}

interface Work {
  readonly node: MarkdownNode;
  readonly into: Node;
  readonly depth: number;
  readonly header: boolean;
}

function push(stack: Work[], slot: Slot, depth: number): void {
  const nodes = slot.nodes ?? [];
  for (let index = nodes.length - 1; index >= 0; index -= 1) {
    stack.push({ node: nodes[index]!, into: slot.into, depth, header: slot.header ?? false });
  }
}

/** `md` as DOM nodes, in a fragment ready to append to a message element. */
export function renderMarkdown(nodes: Nodes, options: RenderOptions = {}): DocumentFragment {
  const doc = options.document ?? document;
  const maxDepth = options.maxDepth ?? MAX_DEPTH;
  const root = doc.createDocumentFragment();
  const stack: Work[] = [];
  push(stack, { nodes, into: root }, 1);
  // No tree at all: a system message, or a text the parser gave up on (Rocket.Chat leaves `md`
  // unset then). Its text is all there is to show.
  let truncated = nodes.length === 0;
  while (stack.length > 0) {
    const work = stack.pop()!;
    const context: Context = { doc, options, header: work.header };
    if (work.depth > maxDepth) {
      const deep = element(context, "span", "md-too-deep");
      deep.textContent = plainText(work.node);
      work.into.appendChild(deep);
      continue;
    }
    const rendered = renderOne(work.node, context);
    work.into.appendChild(rendered.node);
    for (const slot of rendered.slots ?? []) {
      if (slot.nodes === undefined) truncated = true;
      push(stack, slot, work.depth + 1);
    }
  }
  if (truncated && options.msg) {
    const fallback = doc.createDocumentFragment();
    const paragraph = doc.createElement("p");
    paragraph.className = "md-source";
    paragraph.textContent = options.msg;
    fallback.appendChild(paragraph);
    return fallback;
  }
  return root;
}
