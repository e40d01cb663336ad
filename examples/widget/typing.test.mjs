// typing.ts on its own, with node's mocked clock: what reaches setLivechatTyping while a visitor
// types, pauses and sends, against Rocket.Chat's widget's 4.5 s repeat and 5 s stop.
import assert from "node:assert/strict";
import { mock, test } from "node:test";

import * as esbuild from "esbuild";

const built = await esbuild.build({
  entryPoints: [new URL("./typing.ts", import.meta.url).pathname],
  bundle: true,
  format: "esm",
  write: false,
});
const { TypingSender } = await import(
  `data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString("base64")}`
);

function typist() {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
  const sent = [];
  const sender = new TypingSender(async (typing) => sent.push([Date.now(), typing]));
  return { sent, sender };
}

test("steady typing says so at most every 4.5 s, then stops 5 s after the last key", (t) => {
  t.after(() => mock.timers.reset());
  const { sent, sender } = typist();
  for (let ms = 0; ms <= 10_000; ms += 500) {
    if (ms > 0) mock.timers.tick(500);
    sender.keystroke();
  }
  assert.deepEqual(sent, [
    [0, true],
    [4500, true],
    [9000, true],
  ]);
  mock.timers.tick(4999);
  assert.equal(sent.length, 3);
  mock.timers.tick(1);
  assert.deepEqual(sent.at(-1), [15_000, false]);
});

test("sending stops typing at once, and only once", (t) => {
  t.after(() => mock.timers.reset());
  const { sent, sender } = typist();
  sender.keystroke();
  mock.timers.tick(1000);
  sender.stop();
  sender.stop();
  mock.timers.tick(10_000);
  assert.deepEqual(sent, [
    [0, true],
    [1000, false],
  ]);
  sender.keystroke(); // typing again after a send is news at once
  assert.deepEqual(sent.at(-1), [11_000, true]);
});

test("a stop without typing says nothing", (t) => {
  t.after(() => mock.timers.reset());
  const { sent, sender } = typist();
  sender.stop();
  assert.deepEqual(sent, []);
});
