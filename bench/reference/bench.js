#!/usr/bin/env node
// Times @rocket.chat/message-parser over JSON lines {input, options} from stdin, in UTC.
//   node bench.js ROUNDS   {"messages", "seconds" (best round), "worst_ms", "worst_input_length"}
//                          where worst_ms is the slowest message, each timed best of ROUNDS
//   node bench.js ast      one line per case: {"ast"} or {"error"}, in order
process.env.TZ = 'UTC';
const { parse } = require('@rocket.chat/message-parser');

function trees(cases) {
  const out = cases.map((c) => {
    try {
      return JSON.stringify({ ast: parse(c.input, c.options) });
    } catch (e) {
      return JSON.stringify({ error: String(e) });
    }
  });
  return out.join('\n') + '\n';
}

function timings(cases, rounds) {
  let best = Infinity;
  const each = cases.map(() => Infinity);
  for (let round = 0; round < rounds; round += 1) {
    const start = process.hrtime.bigint();
    cases.forEach((c, i) => {
      const t0 = process.hrtime.bigint();
      try { parse(c.input, c.options); } catch (e) { /* the empty message throws */ }
      each[i] = Math.min(each[i], Number(process.hrtime.bigint() - t0) / 1e6);
    });
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  let worst = 0;
  let worstLength = 0;
  each.forEach((ms, i) => {
    if (ms > worst) { worst = ms; worstLength = cases[i].input.length; }
  });
  const answer = { messages: cases.length, seconds: best, worst_ms: worst, worst_input_length: worstLength };
  return JSON.stringify(answer) + '\n';
}

const lines = require('node:fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
const cases = lines.map((line) => JSON.parse(line));
// No process.exit() after writing: it would cut a write to a pipe short.
process.stdout.write(process.argv[2] === 'ast' ? trees(cases) : timings(cases, Number(process.argv[2] || 3)));
