// Many graphql-transport-ws subscribers for bench/realtime.py, in Node so that receiving costs
// the shared machine little: one WebSocket per subscription (Node's own, --experimental-websocket).
//
// stdin, one JSON line each: {"url", "subscriptions": [{"query", "variables"}, ...]}, then later
// {"expect": N}. stdout: "ready" once every socket is acknowledged and subscribed, then one JSON
// line [[messageId, epochMs], ...] once N events arrived (or 30 s passed).
import { createInterface } from 'node:readline';

const lines = createInterface({ input: process.stdin });
const arrivals = [];
const ID = '"message":{"id":"';
let expected = Infinity;
let finish;

function open(url, { query, variables }) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    socket.onopen = () => socket.send('{"type":"connection_init"}');
    socket.onerror = (event) => reject(new Error(`socket error: ${event.message}`));
    socket.onmessage = ({ data }) => {
      const at = performance.timeOrigin + performance.now();
      if (data.startsWith('{"type":"connection_ack"')) {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
        setTimeout(() => resolve(socket), 0);
        return;
      }
      const start = data.indexOf(ID);
      if (start < 0) return;
      const from = start + ID.length;
      arrivals.push([data.slice(from, data.indexOf('"', from)), at]);
      if (arrivals.length >= expected && finish) finish();
    };
  });
}

const sockets = [];
for await (const line of lines) {
  const message = JSON.parse(line);
  if (message.subscriptions) {
    for (const subscription of message.subscriptions) sockets.push(await open(message.url, subscription));
    console.log('ready');
  } else if ('expect' in message) {
    expected = message.expect;
    await new Promise((resolve) => {
      finish = resolve;
      if (arrivals.length >= expected) resolve();
      setTimeout(resolve, 30_000);
    });
    for (const socket of sockets) socket.close();
    // A pipe is written asynchronously: exit once the whole line is out.
    process.stdout.write(`${JSON.stringify(arrivals)}\n`, () => process.exit(0));
  }
}
