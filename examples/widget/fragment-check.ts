/**
 * Compile-time proof that markdown-nodes.ts describes what the shipped fragment selects: the
 * fragment's type, generated from schema/ by GraphQL Code Generator (`npm run codegen`), must be
 * assignable to `MarkdownNode`. A member the schema gains, or a field it renames or retypes,
 * fails `npm run typecheck` here until the renderer follows.
 */

import type { MarkdownNodeFragment } from "./generated/operations.js";
import type { MarkdownNode } from "./markdown-nodes.js";

export function asMarkdownNode(node: MarkdownNodeFragment): MarkdownNode {
  return node;
}
