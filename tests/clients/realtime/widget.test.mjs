// Rocket.Chat's own widget library (@rocket.chat/ddp-client's LivechatClientImpl, which the
// livechat widget is built on) running the widget's flow against the in-process server
// (SERVER_URL): REST for visitor, room and sends; DDP at /websocket for the room's streams.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import ddp from '@rocket.chat/ddp-client';
import WebSocket from 'ws';

globalThis.WebSocket = WebSocket; // the library uses the global, as in a browser
const { LivechatClientImpl } = ddp;
const SERVER = process.env.SERVER_URL;

async function until(condition, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function widget(token) {
  // As the widget does: LivechatClientImpl.create(host.replace(/^http/, 'ws')).
  const sdk = LivechatClientImpl.create(SERVER.replace(/^http/, 'ws'));
  await sdk.connection.connect();
  const granted = await sdk.grantVisitor({ visitor: { token, name: 'Widget Visitor' } });
  assert.equal(granted.visitor.token, token);
  assert.equal(sdk.token, token, 'grantVisitor takes the token from the answer');
  return sdk;
}

test('the widget flow: grant, room, subscribe, send, receive its echo, history, close', async () => {
  const token = `widget-${Date.now()}`;
  const sdk = await widget(token);
  const room = await sdk.room();
  assert.equal(room.open, true);

  const received = [];
  const deleted = [];
  sdk.onMessage((message) => received.push(message));
  sdk.ev.on('delete', (args) => deleted.push(...args));
  await sdk.subscribeRoom(room._id); // the widget's three streams: messages, activity, deletions
  const streams = () => [...sdk.client.subscriptions.values()];
  await until(() => streams().length === 3 && streams().every((sub) => sub.isReady), 'ready');

  // The widget inserts nothing itself: a send shows when the stream echoes it.
  const sent = [];
  for (const text of ['hello', 'a **bold** claim', 'see https://rocket.chat']) {
    const { message } = await sdk.sendMessage({ rid: room._id, msg: text });
    sent.push(message._id);
  }
  await until(() => received.length >= sent.length, 'the echoes');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(received.map((message) => message._id), sent, 'each echo once, in order');
  for (const message of received) {
    assert.equal(message.rid, room._id);
    assert.equal(typeof message.ts.$date, 'number', 'EJSON dates');
    assert.equal(typeof message._updatedAt.$date, 'number');
    assert.equal(message.token, token);
    assert.ok(Array.isArray(message.md));
  }
  assert.deepEqual(received[2].urls.map((url) => url.url), ['https://rocket.chat']);

  const history = await sdk.loadMessages(room._id);
  assert.deepEqual(history.map((message) => message._id).reverse(), sent);

  // Another visitor's credentials are refused with nosub and an error: the library rejects.
  const stranger = await widget(`widget-stranger-${Date.now()}`);
  const refused = stranger.stream('room-messages', [room._id, { token: stranger.token, visitorToken: stranger.token }], () => {});
  await assert.rejects(refused.ready(), (error) => error.error === 'not-allowed');

  // An edit comes back as the same _id with editedAt; the widget upserts it in place.
  await sdk.editMessage(sent[1], { rid: room._id, msg: 'a *changed* claim', token });
  await until(() => received.length === 4, 'the edit');
  assert.equal(received[3]._id, sent[1]);
  assert.equal(received[3].msg, 'a *changed* claim');
  assert.equal(typeof received[3].editedAt.$date, 'number');

  // The library's deleteMessage() sends no body: refused as Rocket.Chat refuses it.
  await assert.rejects(sdk.deleteMessage(sent[0], { rid: room._id }));
  const removed = await fetch(`${SERVER}/api/v1/livechat/message/${sent[0]}`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, rid: room._id }),
  });
  assert.equal(removed.status, 200);
  await until(() => deleted.length === 1, 'the deletion');
  assert.deepEqual(deleted, [{ _id: sent[0] }]);

  // Closing stores a livechat-close message, and the stream pushes it: the widget ends there.
  await sdk.closeChat({ rid: room._id });
  await until(() => received.length === 5, 'the close message');
  assert.equal(received[4].t, 'livechat-close');
  sdk.connection.close();
  stranger.connection.close();
});
