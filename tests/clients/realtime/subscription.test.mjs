// Apollo Client subscribing to a live livechat-graphql (SERVER_URL) through GraphQLWsLink and
// graphql-ws, beside an HttpLink for the rest: the `split` setup README shows.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { ApolloClient, HttpLink, InMemoryCache, gql, split } from '@apollo/client/core/index.js';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions/index.js';
import { getMainDefinition } from '@apollo/client/utilities/index.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SERVER = process.env.SERVER_URL;
const possibleTypes = JSON.parse(readFileSync(join(ROOT, 'schema/possibleTypes.json'), 'utf8'));
const FRAGMENTS = readdirSync(join(ROOT, 'queries/fragments'))
  .map((name) => readFileSync(join(ROOT, 'queries/fragments', name), 'utf8'))
  .join('\n');

const ROOM_EVENTS = gql`
  subscription LivechatRoomEvents($token: String!, $rid: ID!) {
    livechatRoomEvents(token: $token, rid: $rid) {
      __typename
      ... on LivechatMessageEvent { message { ...MessageFields } }
      ... on LivechatMessageDeleted { id rid }
      ... on LivechatError { ...LivechatErrorFields }
    }
  }
  ${FRAGMENTS}
`;
const REGISTER = gql`mutation($token: String!) { registerLivechatVisitor(input: {token: $token}) { __typename } }`;
const OPEN = gql`mutation($token: String!) {
  openLivechatRoom(input: {token: $token}) { ... on OpenLivechatRoomSuccess { room { id } } }
}`;
const SEND = gql`mutation($input: SendLivechatMessageInput!) {
  sendLivechatMessage(input: $input) { ... on SendLivechatMessageSuccess { message { id ts } } }
}`;
const EDIT = gql`mutation($input: UpdateLivechatMessageInput!) {
  updateLivechatMessage(input: $input) { __typename }
}`;
const DELETE = gql`mutation($input: DeleteLivechatMessageInput!) {
  deleteLivechatMessage(input: $input) { __typename }
}`;
const CLOSE = gql`mutation($token: String!, $rid: ID!) {
  closeLivechatRoom(input: {token: $token, rid: $rid}) { __typename }
}`;

let pongs = 0;
const wsClient = createClient({
  url: `${SERVER.replace(/^http/, 'ws')}/graphql`,
  webSocketImpl: WebSocket,
  keepAlive: 100, // a ping every 100 ms: the server must pong each
  on: { pong: () => { pongs += 1; } },
});
// Events replace one another, and an edit replaces a message's urls: no merging to do.
const typePolicies = {
  Subscription: { fields: { livechatRoomEvents: { merge: false } } },
  Message: { fields: { urls: { merge: false }, mentions: { merge: false }, channels: { merge: false } } },
};
const client = new ApolloClient({
  link: split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    new GraphQLWsLink(wsClient),
    new HttpLink({ uri: `${SERVER}/graphql` }),
  ),
  cache: new InMemoryCache({ possibleTypes, typePolicies }),
});

// A subscription's events as they come, and a way to wait for the next ones.
function subscribe(variables) {
  const events = [];
  const waiting = [];
  let completed = false;
  const wake = () => { for (const resolve of waiting.splice(0)) resolve(); };
  const subscription = client.subscribe({ query: ROOM_EVENTS, variables }).subscribe({
    next: ({ data }) => { events.push(data.livechatRoomEvents); wake(); },
    error: (error) => { events.push({ error }); wake(); },
    complete: () => { completed = true; wake(); },
  });
  return {
    events,
    get completed() { return completed; },
    unsubscribe: () => subscription.unsubscribe(),
    async until(condition, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!condition()) {
        assert.ok(Date.now() < deadline, `timed out with ${JSON.stringify(events).slice(0, 500)}`);
        await Promise.race([new Promise((resolve) => waiting.push(resolve)), new Promise((r) => setTimeout(r, 50))]);
      }
    },
  };
}

async function send(token, rid, msg) {
  const { data } = await client.mutate({ mutation: SEND, variables: { input: { token, rid, msg } } });
  return data.sendLivechatMessage.message;
}

async function visitorWithRoom(token) {
  await client.mutate({ mutation: REGISTER, variables: { token } });
  const { data } = await client.mutate({ mutation: OPEN, variables: { token } });
  return data.openLivechatRoom.room.id;
}

test('a room as it happens, over GraphQLWsLink', async () => {
  const token = `apollo-ws-${Date.now()}`;
  const rid = await visitorWithRoom(token);
  const room = subscribe({ token, rid });

  // graphql-transport-ws has no per-operation acknowledgement: probe until the stream is live
  // (a probe sent before that is never delivered; one still in flight is left out below).
  for (let live = false; !live;) {
    const probe = await send(token, rid, 'probe');
    await room.until(() => room.events.some((event) => event.message?.id === probe.id), 500).then(
      () => { live = true; },
      () => {},
    );
  }
  room.events.length = 0;

  const sent = [];
  for (let index = 0; index < 20; index += 1) {
    sent.push((await send(token, rid, `message **${index}** https://rocket.chat`)).id);
  }
  const received = () => room.events.filter((event) => event.message?.msg !== 'probe');
  await room.until(() => received().length >= sent.length);
  await new Promise((resolve) => setTimeout(resolve, 300)); // and nothing more arrives
  assert.deepEqual(received().map((event) => event.message.id), sent, 'every send once, in order');
  assert.ok(room.events.every((event) => event.__typename === 'LivechatMessageEvent'));
  const first = received()[0].message;
  assert.equal(first.msg, 'message **0** https://rocket.chat');
  assert.deepEqual(first.urls.map((url) => url.url), ['https://rocket.chat']);
  assert.equal(first.md[0].__typename, 'Paragraph');

  // Apollo normalised each event's message into its cache by id.
  const cached = client.cache.extract();
  for (const id of sent) assert.equal(cached[`Message:${id}`].id, id);

  // Keepalive: the client pinged every 100 ms and the server answered each.
  assert.ok(pongs >= 3, `only ${pongs} pongs`);

  // An edit arrives as the same id with editedAt, and Apollo updates the cached message.
  room.events.length = 0;
  await client.mutate({ mutation: EDIT, variables: { input: { token, rid, id: sent[0], msg: 'changed' } } });
  await room.until(() => room.events.length === 1);
  assert.equal(room.events[0].message.id, sent[0]);
  assert.ok(room.events[0].message.editedAt);
  assert.equal(client.cache.extract()[`Message:${sent[0]}`].msg, 'changed');

  // A deletion is its own event.
  await client.mutate({ mutation: DELETE, variables: { input: { token, rid, id: sent[1] } } });
  await room.until(() => room.events.length === 2);
  assert.deepEqual(room.events[1], { __typename: 'LivechatMessageDeleted', id: sent[1], rid });

  // Closing stores and pushes the livechat-close system message.
  await client.mutate({ mutation: CLOSE, variables: { token, rid } });
  await room.until(() => room.events.length === 3);
  assert.equal(room.events[2].message.t, 'livechat-close');

  // A closed room refuses a new subscription with one error event, then the stream ends.
  const closed = subscribe({ token, rid });
  await closed.until(() => closed.completed);
  assert.equal(closed.events.length, 1);
  assert.equal(closed.events[0].__typename, 'LivechatError');
  assert.equal(closed.events[0].code, 'INVALID_ROOM');
  room.unsubscribe();
});

test('multipart HTTP subscriptions: the same events through a plain HttpLink', async () => {
  const overHttp = new ApolloClient({
    link: new HttpLink({ uri: `${SERVER}/graphql` }),
    cache: new InMemoryCache({ possibleTypes, typePolicies }),
  });
  const token = `apollo-multipart-${Date.now()}`;
  const rid = await visitorWithRoom(token);
  const events = [];
  const subscription = overHttp.subscribe({ query: ROOM_EVENTS, variables: { token, rid } }).subscribe({
    next: ({ data }) => events.push(data.livechatRoomEvents),
  });
  const sent = [];
  const deadline = Date.now() + 10_000;
  // No acknowledgement here either: send until one arrives, then check the rest in order.
  while (!events.length) {
    assert.ok(Date.now() < deadline, 'no event over multipart HTTP');
    sent.push((await send(token, rid, `over http ${sent.length}`)).id);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const first = sent.indexOf(events[0].message.id);
  for (let index = 0; index < 5; index += 1) sent.push((await send(token, rid, `more ${index}`)).id);
  while (events.length < sent.length - first) {
    assert.ok(Date.now() < deadline, 'events missing over multipart HTTP');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(events.map((event) => event.message.id), sent.slice(first));
  subscription.unsubscribe();
});

test('a bad token or another visitor\'s room: one LivechatError, then the end', async () => {
  const owner = `apollo-ws-owner-${Date.now()}`;
  const rid = await visitorWithRoom(owner);
  const stranger = `apollo-ws-stranger-${Date.now()}`;
  await visitorWithRoom(stranger);
  for (const [token, code, upstreamError] of [
    ['no-such-token', 'INVALID_TOKEN', 'invalid-token'],
    [stranger, 'INVALID_ROOM', 'invalid-room'],
  ]) {
    const refused = subscribe({ token, rid });
    await refused.until(() => refused.completed);
    assert.equal(refused.events.length, 1);
    assert.equal(refused.events[0].__typename, 'LivechatError');
    assert.equal(refused.events[0].code, code);
    assert.equal(refused.events[0].upstreamError, upstreamError);
  }
  await wsClient.dispose();
});
