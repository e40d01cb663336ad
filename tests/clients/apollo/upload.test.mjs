// apollo-upload-client against a live livechat-graphql (SERVER_URL): a visitor sends a screenshot
// with uploadLivechatFile (the GraphQL multipart request spec, with the CSRF preflight header), the
// file message arrives on the room's subscription (Apollo's multipart HTTP subscriptions), and the
// image is downloaded from its attachment's link with the visitor's cookies.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { ApolloClient, HttpLink, InMemoryCache, gql, split } from '@apollo/client/core/index.js';
import { getMainDefinition } from '@apollo/client/utilities/index.js';
import createUploadLink from 'apollo-upload-client/createUploadLink.mjs';
import { parse, print, visit } from 'graphql';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SERVER = process.env.SERVER_URL;
const possibleTypes = JSON.parse(readFileSync(join(ROOT, 'schema/possibleTypes.json'), 'utf8'));

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

// Uploads through apollo-upload-client's link; subscriptions through HttpLink's multipart support.
const client = new ApolloClient({
  link: split(
    ({ query }) => getMainDefinition(query).operation === 'subscription',
    new HttpLink({ uri: `${SERVER}/graphql` }),
    createUploadLink({ uri: `${SERVER}/graphql`, headers: { 'Apollo-Require-Preflight': 'true' } }),
  ),
  cache: new InMemoryCache({ possibleTypes }),
});

// The events of one subscription, awaited one at a time.
function events(observable) {
  const queue = [];
  const waiting = [];
  const subscription = observable.subscribe({
    next: (value) => (waiting.length ? waiting.shift()(value) : queue.push(value)),
    error: (error) => { throw error; },
  });
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve))),
    close: () => subscription.unsubscribe(),
  };
}

test('a screenshot uploaded with apollo-upload-client arrives on the subscription', async () => {
  const token = `upload-${Date.now()}`;
  await client.mutate({ mutation: operation('registerLivechatVisitor'), variables: { input: { token, name: 'Ann' } } });
  const room = await client.mutate({ mutation: operation('openLivechatRoom'), variables: { input: { token } } });
  const rid = room.data.openLivechatRoom.room.id;

  const live = events(client.subscribe({ query: operation('livechatRoomEvents'), variables: { token, rid } }));
  // The subscription is live once a message sent now comes back on it (upstream, it is live once
  // the facade has subscribed to Rocket.Chat's stream): say hello until one is heard.
  let heard = false;
  const greeting = (async () => {
    for (let n = 0; !heard; n += 1) {
      await client.mutate({ mutation: operation('sendLivechatMessage'), variables: { input: { token, rid, msg: `hello ${n}` } } });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  while (!(await live.next()).data.livechatRoomEvents.message?.msg.startsWith('hello'));
  heard = true;
  await greeting;

  const bytes = readFileSync(join(ROOT, 'tests/fixtures/files/screenshot.png'));
  const file = new File([bytes], 'screenshot.png', { type: 'image/png' });
  const uploaded = await client.mutate({
    mutation: operation('uploadLivechatFile'),
    variables: { input: { token, rid, file, description: 'the error', msg: 'see this' } },
  });
  const result = uploaded.data.uploadLivechatFile;
  assert.equal(result.__typename, 'UploadLivechatFileSuccess');
  const message = result.message;
  assert.equal(message.msg, 'see this');
  assert.deepEqual({ ...message.file, id: null }, { __typename: 'MessageFile', id: null, name: 'screenshot.png', type: 'image/png', size: bytes.length });
  const [attachment] = message.attachments;
  assert.deepEqual({ ...attachment.imageDimensions }, { __typename: 'ImageDimensions', width: 80, height: 60 });
  assert.equal(attachment.description, 'the error');
  assert.ok(attachment.imagePreview.length > 100, 'a base64 JPEG preview');

  // The same message, pushed to the room's subscribers (after any greeting still on its way).
  let event;
  do event = (await live.next()).data.livechatRoomEvents;
  while (event.message?.msg.startsWith('hello'));
  assert.equal(event.__typename, 'LivechatMessageEvent');
  assert.equal(event.message.id, message.id);
  assert.equal(event.message.attachments[0].imageUrl, attachment.imageUrl);
  live.close();

  // The image, for this visitor only.
  const cookie = `rc_rid=${rid}; rc_token=${token}`;
  const download = await fetch(`${SERVER}${attachment.imageUrl}`, { headers: { cookie } });
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await download.arrayBuffer()), bytes);
  const stranger = await fetch(`${SERVER}${attachment.imageUrl}`);
  assert.equal(stranger.status, 403);
});
