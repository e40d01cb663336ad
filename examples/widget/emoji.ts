/**
 * Shortcode → emoji character, from emojibase's JoyPixels shortcodes: the set Rocket.Chat's
 * parser and its emoticon table use (`:slight_smile:`, `:stuck_out_tongue:`, `:thumbsup:`), so
 * every Emoji node the API sends that carries a `shortCode` and no `unicode` finds its character.
 */

import { fromCodepointToUnicode, fromHexcodeToCodepoint } from "emojibase";
import shortcodes from "emojibase-data/en/shortcodes/joypixels.json";

let byShortcode: Map<string, string> | undefined;

/** Emoji that default to text presentation need U+FE0F to be drawn as emoji (❤ → ❤️). */
function asEmoji(hexcode: string): string {
  const codepoints = fromHexcodeToCodepoint(hexcode);
  const [first] = codepoints;
  if (codepoints.length === 1 && first !== undefined && first < 0x1f000) {
    codepoints.push(0xfe0f);
  }
  return fromCodepointToUnicode(codepoints);
}

/** The index is built on first use, not at import: a page with no shortcode pays nothing. */
function index(): Map<string, string> {
  if (byShortcode === undefined) {
    byShortcode = new Map();
    for (const [hexcode, names] of Object.entries(shortcodes)) {
      for (const name of typeof names === "string" ? [names] : names) {
        if (!byShortcode.has(name)) byShortcode.set(name, asEmoji(hexcode));
      }
    }
  }
  return byShortcode;
}

/** The emoji character(s) for a shortcode written without colons, or undefined. */
export function emojiForShortcode(shortCode: string): string | undefined {
  return index().get(shortCode);
}
