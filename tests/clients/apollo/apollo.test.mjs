// Apollo Client against a live livechat-graphql (SERVER_URL), with the documents users copy
// from queries/, the cache's possibleTypes from schema/, and automatic persisted queries.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core/index.js';
import { parse, print, visit } from 'graphql';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries/index.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SERVER = process.env.SERVER_URL;
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

// Every request the link sends, to see persisted queries at work.
const sent = [];
async function recordingFetch(url, init) {
  sent.push(JSON.parse(init.body));
  return fetch(url, init);
}

const client = new ApolloClient({
  link: createPersistedQueryLink({ sha256: (text) => createHash('sha256').update(text).digest('hex') }).concat(
    new HttpLink({ uri: `${SERVER}/graphql`, fetch: recordingFetch }),
  ),
  cache: new InMemoryCache({ possibleTypes }),
});

// The typed tree a renderer gets from `md`, rebuilt from `mdJson` (Rocket.Chat's raw AST).
const TYPE_NAMES = {
  PARAGRAPH: 'Paragraph', PLAIN_TEXT: 'PlainText', BOLD: 'Bold', ITALIC: 'Italic', STRIKE: 'Strike',
  SPOILER: 'Spoiler', SPOILER_BLOCK: 'SpoilerBlock', INLINE_CODE: 'InlineCode', CODE: 'CodeBlock',
  CODE_LINE: 'CodeLine', HEADING: 'Heading', QUOTE: 'Quote', LINK: 'Link', IMAGE: 'Image',
  MENTION_USER: 'UserMention', MENTION_CHANNEL: 'ChannelMention', EMOJI: 'Emoji', BIG_EMOJI: 'BigEmoji',
  COLOR: 'Color', TASKS: 'TaskList', TASK: 'Task', ORDERED_LIST: 'OrderedList',
  UNORDERED_LIST: 'UnorderedList', LIST_ITEM: 'ListItem', LINE_BREAK: 'LineBreak',
  HORIZONTAL_RULE: 'HorizontalRule', KATEX: 'Katex', INLINE_KATEX: 'InlineKatex', TIMESTAMP: 'Timestamp',
  TABLE: 'Table', TABLE_ROW: 'TableRow', TABLE_CELL: 'TableCell',
};
function typed(node) {
  const out = { __typename: TYPE_NAMES[node.type], type: node.type };
  const list = (value) => (Array.isArray(value) ? value : [value]).map(typed);
  switch (node.type) {
    case 'PLAIN_TEXT': case 'KATEX': case 'INLINE_KATEX': return { ...out, text: node.value };
    case 'INLINE_CODE': case 'CODE_LINE': case 'MENTION_USER': case 'MENTION_CHANNEL':
      return { ...out, text: node.value.value };
    case 'LINK': case 'IMAGE': return { ...out, src: node.value.src.value, label: list(node.value.label) };
    case 'EMOJI': return {
      ...out, shortCode: node.shortCode ?? null, unicode: node.unicode ?? null,
      emoticon: node.value && node.value.value !== node.shortCode ? node.value.value : null,
    };
    default: return { ...out, children: list(node.value) };
  }
}

// Apollo returns the fields the fragment selects, in the fragment's order: compare as sets.
function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sorted(value[key])]));
  }
  return value;
}

test('a conversation through Apollo Client', async () => {
  const token = `apollo-${Date.now()}`;
  const visitor = await client.mutate({
    mutation: operation('registerLivechatVisitor'),
    variables: { input: { token, name: 'Ann' } },
  });
  assert.equal(visitor.data.registerLivechatVisitor.__typename, 'RegisterLivechatVisitorSuccess');

  const room = await client.mutate({ mutation: operation('openLivechatRoom'), variables: { input: { token } } });
  const rid = room.data.openLivechatRoom.room.id;

  const text = 'Hello **world** :smile: see https://rocket.chat and _this_ ~~too~~';
  const sentMessage = await client.mutate({
    mutation: operation('sendLivechatMessage'),
    variables: { input: { token, rid, msg: text } },
  });
  const message = sentMessage.data.sendLivechatMessage.message;
  assert.equal(message.msg, text);

  // The md tree arrives whole: exactly what mdJson converts to.
  assert.deepEqual(sorted(message.md.map(strip)), sorted(message.mdJson.map(typed)));
  assert.equal(message.md[0].children[1].__typename, 'Bold');

  // The cache normalised the Message by its id (possibleTypes let it read the unions).
  const cached = client.cache.extract();
  assert.ok(cached[`Message:${message.id}`], 'the Message is normalised by id');
  assert.equal(cached[`Message:${message.id}`].msg, text);

  // A Rocket.Chat refusal comes back as data, not as an error.
  const refused = await client.mutate({
    mutation: operation('sendLivechatMessage'),
    variables: { input: { token: 'nobody', rid, msg: 'hi' } },
  });
  assert.deepEqual(
    { ...refused.data.sendLivechatMessage },
    { __typename: 'LivechatError', code: 'INVALID_TOKEN', upstreamError: 'invalid-token', reason: refused.data.sendLivechatMessage.reason },
  );

  // Automatic persisted queries: first a hash alone, then, told it is unknown, hash and text.
  const first = sent[0];
  assert.ok(first.extensions.persistedQuery.sha256Hash && !first.query, 'first try is the hash alone');
  assert.ok(sent[1].query && sent[1].extensions.persistedQuery, 'then the text with its hash');

  // A history read: the same Message comes back from the server, merged into the cache.
  const history = await client.query({ query: operation('livechatMessages'), variables: { token, rid } });
  assert.equal(history.data.livechatMessages.messages[0].id, message.id);
});

// Drop Apollo's __typename-less extras (none) and keep what the fragment selected.
function strip(node) {
  if (Array.isArray(node)) return node.map(strip);
  if (node && typeof node === 'object') {
    const out = {};
    for (const [key, value] of Object.entries(node)) {
      if (value === null && ['fallback', 'language', 'level', 'number', 'align', 'checked'].includes(key)) continue;
      out[key] = strip(value);
    }
    return out;
  }
  return node;
}

// History pages merged into one cached list: `before` is not part of the field's cache key, and
// a page asked with `before` is appended to what is there (newest first).
function pagingCache() {
  return new InMemoryCache({
    possibleTypes,
    typePolicies: {
      Query: {
        fields: {
          livechatMessages: {
            keyArgs: ['token', 'rid'],
            merge(existing, incoming, { args }) {
              const pages = [existing, incoming].every((page) => page?.__typename === 'LivechatMessagesSuccess');
              if (!args?.before || !pages) return incoming;
              return { ...incoming, messages: [...existing.messages, ...incoming.messages] };
            },
          },
        },
      },
    },
  });
}

test('an edit updates the cached message by id; pages back merge into one list', async () => {
  const paging = new ApolloClient({ link: new HttpLink({ uri: `${SERVER}/graphql` }), cache: pagingCache() });
  const token = `apollo-pages-${Date.now()}`;
  await paging.mutate({ mutation: operation('registerLivechatVisitor'), variables: { input: { token } } });
  const room = await paging.mutate({ mutation: operation('openLivechatRoom'), variables: { input: { token } } });
  const rid = room.data.openLivechatRoom.room.id;
  const ids = [];
  for (const msg of ['one', 'two', 'three']) {
    const sent = await paging.mutate({ mutation: operation('sendLivechatMessage'), variables: { input: { token, rid, msg } } });
    ids.push(sent.data.sendLivechatMessage.message.id);
  }

  const history = operation('livechatMessages');
  const firstPage = await paging.query({ query: history, variables: { token, rid, limit: 2 } });
  const page = firstPage.data.livechatMessages;
  assert.deepEqual(page.messages.map((m) => m.msg), ['three', 'two']);
  assert.equal(page.hasMore, true);

  // The field is cached already (its key leaves `before` out): ask the server, as fetchMore does.
  const older = await paging.query({
    query: history,
    variables: { token, rid, limit: 2, before: page.messages.at(-1).ts },
    fetchPolicy: 'network-only',
  });
  assert.equal(older.data.livechatMessages.hasMore, false);
  const merged = paging.readQuery({ query: history, variables: { token, rid, limit: 2 } });
  assert.deepEqual(merged.livechatMessages.messages.map((m) => m.msg), ['three', 'two', 'one']);

  // The edit's answer carries the same Message id: the cache updates the message in place,
  // and the merged history shows the new text with no refetch.
  const edited = await paging.mutate({
    mutation: operation('updateLivechatMessage'),
    variables: { input: { token, rid, id: ids[1], msg: 'two, **edited**' } },
  });
  assert.equal(edited.data.updateLivechatMessage.__typename, 'UpdateLivechatMessageSuccess');
  assert.equal(paging.cache.extract()[`Message:${ids[1]}`].msg, 'two, **edited**');
  const after = paging.readQuery({ query: history, variables: { token, rid, limit: 2 } });
  const two = after.livechatMessages.messages[1];
  assert.equal(two.msg, 'two, **edited**');
  assert.ok(two.editedAt);
  assert.equal(two.md[0].children[1].__typename, 'Bold');
});

// ---- before and around the chat ----

test('a widget asks the config first, then registers with custom fields', async () => {
  const token = `apollo-config-${Date.now()}`;
  const first = await client.query({ query: operation('livechatConfig'), variables: { token } });
  assert.equal(first.data.livechatConfig.__typename, 'LivechatConfigSuccess');
  const config = first.data.livechatConfig.config;
  assert.equal(config.enabled, true);
  assert.equal(config.settings.registrationForm, true);
  assert.equal(config.visitor, null); // nobody has this token yet
  assert.deepEqual(config.departments.map((department) => department.name), ['Sales', 'Support']);
  assert.equal(config.raw.theme.title, config.theme.title); // Rocket.Chat's answer, whole

  const registered = await client.mutate({
    mutation: operation('registerLivechatVisitor'),
    variables: { input: { token, name: 'Ann', email: ' Ann@Example.com', department: 'Sales' } },
  });
  assert.equal(registered.data.registerLivechatVisitor.visitor.email, 'ann@example.com');

  const fields = await client.mutate({
    mutation: operation('setLivechatCustomFields'),
    variables: { input: { token, fields: [{ key: 'plan', value: 'gold' }, { key: 'order', value: 'A-1' }] } },
  });
  assert.deepEqual(
    fields.data.setLivechatCustomFields.fields.map(({ key, value, overwrite }) => [key, value, overwrite]),
    [['plan', 'gold', true], ['order', 'A-1', true]],
  );
  const refused = await client.mutate({
    mutation: operation('setLivechatCustomFields'),
    variables: { input: { token, fields: [{ key: 'plan', value: 'platinum' }] } },
  });
  assert.equal(refused.data.setLivechatCustomFields.__typename, 'LivechatError');
  assert.equal(refused.data.setLivechatCustomFields.code, 'INVALID_CUSTOM_FIELD');
  assert.equal(refused.data.setLivechatCustomFields.upstreamError, 'Invalid value for plan field');

  // The config now knows the visitor; the cache holds them by id.
  const again = await client.query({
    query: operation('livechatConfig'), variables: { token }, fetchPolicy: 'network-only',
  });
  const visitor = again.data.livechatConfig.config.visitor;
  assert.equal(visitor.name, 'Ann');
  assert.equal(visitor.id, registered.data.registerLivechatVisitor.visitor.id);
  assert.equal(again.data.livechatConfig.config.raw.guest.department, 'dep-sales');
});
