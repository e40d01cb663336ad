/** Ids as Rocket.Chat's clients make them (Meteor's `Random.id()`: 17 characters). */

const ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";

/** `getRandomValues`, not `randomUUID`: it also works on a page served over plain http. */
export function randomId(length = 17): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (byte) => ALPHABET[byte % ALPHABET.length]).join("");
}
