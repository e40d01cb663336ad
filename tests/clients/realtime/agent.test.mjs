// The other side of the conversation: an agent driven through Rocket.Chat's agent API on the
// in-process server (ROCKETCHAT_URL: REST login, chat.sendMessage, users.setStatus,
// livechat/room.closeByUser; DDP login and typing with @rocket.chat/ddp-client's DDPSDK), seen
// by a visitor two ways: Apollo Client subscribed over GraphQLWsLink to the GraphQL API under
// test (SERVER_URL: the in-process server itself, or the facade in front of it), and Rocket.Chat's
// own widget library (LivechatClientImpl) on the in-process server's DDP.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { ApolloClient, HttpLink, InMemoryCache, gql, split } from '@apollo/client/core/index.js';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions/index.js';
import { getMainDefinition } from '@apollo/client/utilities/index.js';
import ddp from '@rocket.chat/ddp-client';
import { parse, print, visit } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

globalThis.WebSocket = WebSocket; // the widget library uses the global, as in a browser
const { DDPSDK, LivechatClientImpl } = ddp;
const SERVER = process.env.SERVER_URL;
const ROCKETCHAT = process.env.ROCKETCHAT_URL;
const AGENT = { user: process.env.AGENT_USER, password: process.env.AGENT_PASSWORD };

const ROOT = new URL('../../../', import.meta.url).pathname;
const possibleTypes = JSON.parse(readFileSync(join(ROOT, 'schema/possibleTypes.json'), 'utf8'));
// An operation file with the fragments it spreads (and only those), as a bundler would.
const fragments = new Map(
  readdirSync(join(ROOT, 'queries/fragments'))
    .flatMap((name) => parse(readFileSync(join(ROOT, 'queries/fragments', name), 'utf8')).definitions)
    .map((definition) => [definition.name.value, definition]),
);
function operation(name) {
  const document = parse(readFileSync(join(ROOT, 'queries', `${name}.graphql`), 'utf8'));
  const needed = new Map();
  const pending = [document];
  while (pending.length) {
    visit(pending.pop(), {
      FragmentSpread(node) {
        if (!needed.has(node.name.value)) {
          needed.set(node.name.value, fragments.get(node.name.value));
          pending.push(fragments.get(node.name.value));
        }
      },
    });
  }
  return gql(print({ ...document, definitions: [...document.definitions, ...needed.values()] }));
}

async function until(condition, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// The agent: REST with X-Auth-Token/X-User-Id, DDP logged in with the same token.
async function agent() {
  const login = await fetch(`${ROCKETCHAT}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(AGENT),
  }).then((response) => response.json());
  assert.equal(login.status, 'success');
  const { authToken, userId } = login.data;
  const call = async (path, body) => {
    const response = await fetch(`${ROCKETCHAT}/api/v1/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': authToken, 'x-user-id': userId },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    assert.equal(answer.success, true, JSON.stringify(answer));
    return answer;
  };
  const sdk = await DDPSDK.createAndConnect(ROCKETCHAT.replace(/^http/, 'ws'));
  const resumed = await sdk.account.loginWithToken(authToken);
  assert.equal(resumed.id, userId);
  const typing = (rid, on) =>
    sdk.client.callAsync('stream-notify-room', `${rid}/user-activity`, AGENT.user, on ? ['user-typing'] : [], {});
  return { call, typing, sdk, userId };
}

test('Apollo Client sees the agent type, reply, stop typing, go away and close', async () => {
  const wsClient = createClient({ url: `${SERVER.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket });
  const client = new ApolloClient({
    link: split(
      ({ query }) => {
        const definition = getMainDefinition(query);
        return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
      },
      new GraphQLWsLink(wsClient),
      new HttpLink({ uri: `${SERVER}/graphql` }),
    ),
    cache: new InMemoryCache({
      possibleTypes,
      typePolicies: { Subscription: { fields: { livechatRoomEvents: { merge: false } } } },
    }),
  });
  const token = `apollo-agent-${Date.now()}`;
  await client.mutate({
    mutation: operation('registerLivechatVisitor'),
    variables: { input: { token, name: 'Ann Visitor' } },
  });
  const opened = await client.mutate({
    mutation: operation('openLivechatRoom'),
    variables: { input: { token } },
  });
  const rid = opened.data.openLivechatRoom.room.id;

  const events = [];
  const subscription = client
    .subscribe({ query: operation('livechatRoomEvents'), variables: { token, rid } })
    .subscribe({ next: ({ data }) => events.push(data.livechatRoomEvents) });
  // graphql-transport-ws has no per-operation acknowledgement: probe until the stream is live
  // (a probe sent before that is never delivered), then keep only what follows.
  const SEND = operation('sendLivechatMessage');
  for (let live = false; !live;) {
    await client.mutate({ mutation: SEND, variables: { input: { token, rid, msg: 'hello?' } } });
    live = await until(() => events.length > 0, 'a probe', 500).then(() => true, () => false);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  events.splice(0, events.length, events.at(-1));

  const ann = await agent();
  // The visitor's own typing is told to the agent, and not echoed to the visitor.
  const typed = await client.mutate({
    mutation: operation('setLivechatTyping'),
    variables: { input: { token, rid, typing: true } },
  });
  assert.equal(typed.data.setLivechatTyping.__typename, 'SetLivechatTypingSuccess');

  await ann.typing(rid, true);
  await until(() => events.length === 2, 'typing on');
  await ann.call('chat.sendMessage', { message: { rid, msg: 'Hi, **how** can I help?' } });
  await until(() => events.length === 3, 'the reply');
  await ann.typing(rid, false);
  await until(() => events.length === 4, 'typing off');
  await ann.call('users.setStatus', { status: 'away' });
  await until(() => events.length === 5, 'the status');
  await ann.call('livechat/room.closeByUser', { rid, comment: 'Solved, bye!' });
  await until(() => events.length === 6, 'the close');

  assert.deepEqual(events.slice(1).map((event) => event.__typename), [
    'LivechatTyping', 'LivechatMessageEvent', 'LivechatTyping', 'LivechatAgentStatusChanged', 'LivechatMessageEvent',
  ]);
  assert.deepEqual({ ...events[1] }, { __typename: 'LivechatTyping', rid, username: AGENT.user, typing: true });
  const reply = events[2].message;
  assert.equal(reply.msg, 'Hi, **how** can I help?');
  assert.equal(reply.u.username, AGENT.user);
  assert.equal(reply.md[0].children[1].__typename, 'Bold');
  assert.equal(events[3].typing, false);
  assert.equal(events[4].status, 'away');
  const close = events[5].message;
  assert.equal(close.t, 'livechat-close');
  assert.equal(close.msg, 'Solved, bye!');
  assert.equal(close.u.username, AGENT.user);

  // agent.info works on the closed room: the agent with their status now.
  const info = await client.query({
    query: operation('livechatAgent'),
    variables: { token, rid },
    fetchPolicy: 'network-only',
  });
  assert.equal(info.data.livechatAgent.agent.username, AGENT.user);
  assert.equal(info.data.livechatAgent.agent.status, 'away');
  await ann.call('users.setStatus', { status: 'online' });
  subscription.unsubscribe();
  await wsClient.dispose();
  ann.sdk.connection.close();
});

test("Rocket.Chat's widget library sees the agent, and the agent sees the visitor type", async () => {
  const token = `widget-agent-${Date.now()}`;
  const sdk = LivechatClientImpl.create(ROCKETCHAT.replace(/^http/, 'ws'));
  await sdk.connection.connect();
  const granted = await sdk.grantVisitor({ visitor: { token, name: 'Widget Visitor' } });
  const room = await sdk.room();
  assert.ok(room.servedBy, 'an online agent serves the new room');

  const received = [];
  const activity = [];
  const statuses = [];
  sdk.onMessage((message) => received.push(message));
  sdk.onUserActivity((username, activities) => activity.push([username, activities]));
  await sdk.subscribeRoom(room._id);
  sdk.onAgentStatusChange(room._id, (status) => statuses.push(status));
  const streams = () => [...sdk.client.subscriptions.values()];
  await until(() => streams().length === 4 && streams().every((sub) => sub.isReady), 'ready');

  // agent.info, as the widget calls it when a room has servedBy.
  const served = await sdk.agent(room._id);
  assert.equal(served.username, AGENT.user);
  assert.equal(served._id, room.servedBy._id);

  const ann = await agent();
  const heard = [];
  const watching = ann.sdk.stream('notify-room', [`${room._id}/user-activity`, {}], (...args) => heard.push(args));
  await watching.ready();

  await ann.typing(room._id, true);
  await until(() => activity.length === 1, 'typing on');
  assert.deepEqual(activity[0], [AGENT.user, ['user-typing']]);
  const { message } = await ann.call('chat.sendMessage', { message: { rid: room._id, msg: 'Hello from the agent' } });
  await until(() => received.length === 1, "the agent's message");
  assert.equal(received[0]._id, message._id);
  assert.equal(received[0].u.username, AGENT.user);
  assert.equal(typeof received[0].ts.$date, 'number');

  await ann.call('users.setStatus', { status: 'busy' });
  await until(() => statuses.length === 1, 'the status');
  assert.deepEqual(statuses, ['busy']);
  await ann.call('users.setStatus', { status: 'online' });

  // The visitor types: the agent hears it with the visitor's username; the visitor does not.
  await sdk.notifyVisitorActivity(room._id, granted.visitor.username, ['user-typing']);
  await until(() => heard.length === 1, 'the visitor typing');
  assert.equal(heard[0][0], granted.visitor.username);
  assert.deepEqual(heard[0][1], ['user-typing']);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(activity.length, 1, "the visitor's own typing is not echoed");

  await ann.call('livechat/room.closeByUser', { rid: room._id, comment: '' });
  await until(() => received.length === 2, 'the close');
  assert.equal(received[1].t, 'livechat-close');
  sdk.connection.close();
  ann.sdk.connection.close();
});
