#!/usr/bin/env node
// The reference parser, @rocket.chat/message-parser, as a long-lived process fed in batches.
//
//   stdin : one batch per line, a JSON array of {"input": "...", "options": {...}, "now": "ISO"?}
//   stdout: one line per batch, a JSON array of {"ast": [...]} or {"error": "..."}, in order
//
// A batch is answered only once its whole line has been read, so the caller may write a batch
// and then read its answer without either pipe filling up.
//
// Two things make the parser's output depend on the machine, so both are pinned here:
//   * time zone: `<t:2024-01-02T10:00:00>` (no offset) is read in local time -> TZ is UTC;
//   * clock: `<t:10:00+03:00>` (time of day only) lands on *today's* date -> while a case with
//     "now" is parsed, the clock reads that instant.
// JSON.stringify drops keys whose value is undefined (LINE_BREAK.value, CODE.language when
// absent, TABLE_CELL.align when unset), as any JSON API serving these trees does.

process.env.TZ = 'UTC';

const readline = require('node:readline');
const { parse } = require('@rocket.chat/message-parser');

const RealDate = Date;
let frozenMs = null;

// A Date whose "current time" can be frozen; explicit dates behave as usual.
class OracleDate extends RealDate {
  constructor(...args) {
    if (args.length === 0 && frozenMs !== null) {
      super(frozenMs);
    } else {
      super(...args);
    }
  }

  static now() {
    return frozenMs !== null ? frozenMs : RealDate.now();
  }
}
globalThis.Date = OracleDate;

function runCase(testCase) {
  try {
    if (typeof testCase.input !== 'string') {
      return { error: 'bad case: "input" must be a string' };
    }
    if (testCase.now != null) {
      frozenMs = RealDate.parse(testCase.now);
      if (Number.isNaN(frozenMs)) {
        return { error: `bad case: "now" is not an ISO-8601 instant: ${testCase.now}` };
      }
    }
    return { ast: parse(testCase.input, testCase.options ?? undefined) };
  } catch (err) {
    return { error: `${err && err.name ? err.name : 'Error'}: ${err && err.message ? err.message : String(err)}` };
  } finally {
    frozenMs = null;
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  process.stdout.write(`${JSON.stringify(JSON.parse(line).map(runCase))}\n`);
});
