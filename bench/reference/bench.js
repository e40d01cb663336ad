#!/usr/bin/env node
// Times @rocket.chat/message-parser over JSON lines {input, options} from stdin, in UTC.
// Prints {"messages", "seconds", "worst_ms", "worst_input_length"} as JSON; with `ast` as the
// argument, prints each case's {"ast"} or {"error"} instead, one line per case, in order.
process.env.TZ = 'UTC';
const { parse } = require('@rocket.chat/message-parser');
const lines = require('node:fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
const cases = lines.map((line) => JSON.parse(line));
if (process.argv[2] === 'ast') {
  const out = cases.map((c) => {
    try { return JSON.stringify({ ast: parse(c.input, c.options) }); } catch (e) { return JSON.stringify({ error: String(e) }); }
  });
  process.stdout.write(out.join('\n') + '\n');
  process.exit(0);
}
const rounds = Number(process.argv[2] || 3);
let best = Infinity;
let worst = 0;
let worstLength = 0;
for (let round = 0; round < rounds; round += 1) {
  const start = process.hrtime.bigint();
  for (const c of cases) {
    const t0 = process.hrtime.bigint();
    try { parse(c.input, c.options); } catch (e) { /* the empty message throws */ }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > worst) { worst = ms; worstLength = c.input.length; }
  }
  best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
}
process.stdout.write(JSON.stringify({ messages: cases.length, seconds: best, worst_ms: worst, worst_input_length: worstLength }) + '\n');
