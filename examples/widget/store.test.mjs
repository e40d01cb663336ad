// store.ts, the room's message list, on its own: whatever order and however often messages
// arrive (events, history pages, mutation answers), each shows once, in its latest version;
// a newest page read after a reconnect drops what was deleted meanwhile and nothing else.
import assert from "node:assert/strict";
import { test } from "node:test";

import * as esbuild from "esbuild";

const built = await esbuild.build({
  entryPoints: [new URL("./store.ts", import.meta.url).pathname],
  bundle: true,
  format: "esm",
  write: false,
});
const { MessageStore } = await import(
  `data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString("base64")}`
);

const at = (second) => new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();
const message = (id, second, fields = {}) => ({
  id,
  ts: at(second),
  updatedAt: at(second),
  editedAt: null,
  msg: id,
  ...fields,
});
const ids = (store) => store.sorted().map((held) => held.id);

test("a message that arrives twice shows once", () => {
  const store = new MessageStore();
  store.upsert(message("a", 1));
  store.upsert(message("a", 1));
  store.mergePage([message("b", 2), message("a", 1)], false, true);
  assert.deepEqual(ids(store), ["a", "b"]);
});

test("messages are kept in time order, whatever order they arrive in", () => {
  const store = new MessageStore();
  for (const [id, second] of [
    ["c", 3],
    ["a", 1],
    ["b", 2],
  ])
    store.upsert(message(id, second));
  assert.deepEqual(ids(store), ["a", "b", "c"]);
  assert.equal(store.oldestTs(), at(1));
});

test("an edit replaces the message; an older version arriving late does not undo it", () => {
  const store = new MessageStore();
  store.upsert(message("a", 1));
  store.upsert(message("a", 1, { msg: "edited", editedAt: at(5), updatedAt: at(5) }));
  store.upsert(message("a", 1));
  store.mergePage([message("a", 1)], false, false);
  assert.equal(store.get("a").msg, "edited");
});

test("a newest page drops what was deleted in the span it covers, and keeps older pages", () => {
  const store = new MessageStore();
  store.mergePage([message("d", 4), message("c", 3)], true, true);
  store.mergePage([message("b", 2), message("a", 1)], false, false);
  assert.equal(store.hasMore, false);
  // After a reconnect: c was deleted meanwhile, e was sent; the page covers b..e.
  store.mergePage([message("e", 5), message("d", 4), message("b", 2)], true, true);
  assert.deepEqual(ids(store), ["a", "b", "d", "e"]);
  // Below the page's span the store cannot know: what it holds there stays.
  store.mergePage([message("e", 5)], true, true);
  assert.deepEqual(ids(store), ["a", "b", "d", "e"]);
  assert.equal(store.hasMore, false, "the older pages already read stay read");
});

test("a newest page that is the whole room is the whole truth", () => {
  const store = new MessageStore();
  store.mergePage([message("b", 2), message("a", 1)], false, true);
  store.mergePage([message("b", 2)], false, true);
  assert.deepEqual(ids(store), ["b"]);
});

test("listeners hear each change; removing what is not there is no change", () => {
  const store = new MessageStore();
  let heard = 0;
  store.subscribe(() => (heard += 1));
  store.upsert(message("a", 1));
  store.remove("a");
  store.remove("a");
  assert.equal(heard, 2);
});
