#!/usr/bin/env node
// A hand-written GraphQL facade for one Rocket.Chat endpoint, POST /api/v1/livechat/message:
// GraphQL Yoga serving the project's own schema SDL, graphql-jit execution (@envelop/graphql-jit),
// undici's keep-alive Pool to the upstream, Node's cluster for --forks 2. The side-by-side
// benchmark's hand-written Node.js peer; see README.md.
//
//   node server.mjs --schema <project>/schema/schema.graphql --upstream http://127.0.0.1:14001 \
//                   [--host 127.0.0.1] [--port 4000] [--forks 1|2] [--no-jit]
//
// Only Mutation.sendLivechatMessage is resolved; every other field of the schema answers null.

import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

// graphql-js reads NODE_ENV once, when it loads (its dev-mode instanceof checks): set it first,
// then load it and what uses it.
process.env.NODE_ENV ??= 'production';
const { GraphQLScalarType, Kind, valueFromASTUntyped } = await import('graphql');
const { createSchema, createYoga } = await import('graphql-yoga');
const { useGraphQlJit } = await import('@envelop/graphql-jit');
const { Pool } = await import('undici');

const { values: options } = parseArgs({
  options: {
    schema: { type: 'string' },
    upstream: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '4000' },
    forks: { type: 'string', default: '1' },
    'no-jit': { type: 'boolean', default: false },
  },
});
if (!options.schema || !options.upstream) {
  console.error('usage: node server.mjs --schema SDL_PATH --upstream URL [--host H] [--port P] [--forks N] [--no-jit]');
  process.exit(2);
}
const forks = Number(options.forks);
if (!Number.isInteger(forks) || forks < 1) {
  console.error(`--forks must be a whole number >= 1, not ${options.forks}`);
  process.exit(2);
}

// --------------------------------------------------------------------------- upstream

const upstream = new URL(options.upstream);
const SEND_PATH = `${upstream.pathname.replace(/\/+$/, '')}/api/v1/livechat/message`;
const JSON_HEADERS = { 'content-type': 'application/json' };
let pool; // one per process, made in serve()

/** POST a JSON body upstream; Rocket.Chat's answer, parsed, and its status. */
async function post(path, payload) {
  const { statusCode, body } = await pool.request({
    path, method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(payload),
  });
  let answer;
  try {
    answer = await body.json();
  } catch {
    throw new Error(`upstream answered ${statusCode} with a body that is not JSON`);
  }
  return { statusCode, answer };
}

// --------------------------------------------------------------------------- Rocket.Chat -> schema

// Rocket.Chat's error id -> LivechatErrorCode (the schema's enum docs name them).
const ERROR_CODES = {
  'invalid-params': 'INVALID_PARAMS',
  'error-invalid-message': 'INVALID_PARAMS',
  'invalid-token': 'INVALID_TOKEN',
  'invalid-room': 'INVALID_ROOM',
  'room-closed': 'ROOM_CLOSED',
  'message-length-exceeds-character-limit': 'MESSAGE_TOO_LONG',
  'error-message-size-exceeded': 'MESSAGE_TOO_LONG',
  'invalid-message': 'INVALID_MESSAGE',
  'error-not-allowed': 'NOT_ALLOWED',
  'error-action-not-allowed': 'NOT_ALLOWED',
  'error-not-allowed-to-close-conversation': 'NOT_ALLOWED',
  'not-allowed': 'NOT_ALLOWED',
};

/** `{success: false, error, errorType}` as LivechatError: the id is errorType when it names one
 * (6.x's Meteor errors read "Reason [id]" in `error`), else `error` (7.x's plain errors). */
function livechatError(answer) {
  const { errorType } = answer;
  const id = typeof errorType === 'string' && errorType && errorType !== 'Meteor.Error'
    ? errorType : String(answer.error);
  const text = String(answer.message ?? answer.error ?? '');
  return {
    __typename: 'LivechatError',
    code: ERROR_CODES[id] ?? 'OTHER',
    reason: text.replace(` [${id}]`, '') || id,
    upstreamError: id,
  };
}

const user = (raw) => ({ id: String(raw._id), username: String(raw.username), name: raw.name ?? null });
const stringOrNull = (value) => (typeof value === 'string' ? value : null);
const int32 = (value) => (Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 ? value : null);
const objects = (value) => (Array.isArray(value) ? value.filter(isObject) : []);

/** An uploaded file (`file`, `files[]`), as app/graphql/attachments.py's MessageFile. */
const messageFile = (raw) => ({
  id: String(raw._id ?? ''), name: String(raw.name ?? ''), type: stringOrNull(raw.type), size: int32(raw.size),
});

/** An attachment, Rocket.Chat's snake_case keys typed, as app/graphql/attachments.py does. */
function attachment(raw) {
  const dimensions = isObject(raw.image_dimensions) ? raw.image_dimensions : {};
  const [width, height] = [int32(dimensions.width), int32(dimensions.height)];
  return {
    type: stringOrNull(raw.type), title: stringOrNull(raw.title), titleLink: stringOrNull(raw.title_link),
    titleLinkDownload: typeof raw.title_link_download === 'boolean' ? raw.title_link_download : null,
    description: stringOrNull(raw.description), text: stringOrNull(raw.text),
    imageUrl: stringOrNull(raw.image_url), imageType: stringOrNull(raw.image_type), imageSize: int32(raw.image_size),
    imageDimensions: width !== null && height !== null ? { width, height } : null,
    imagePreview: stringOrNull(raw.image_preview),
    audioUrl: stringOrNull(raw.audio_url), audioType: stringOrNull(raw.audio_type), audioSize: int32(raw.audio_size),
    videoUrl: stringOrNull(raw.video_url), videoType: stringOrNull(raw.video_type), videoSize: int32(raw.video_size),
    raw,
  };
}

/** Rocket.Chat's message document in the schema's shape; `md` is typed lazily (Message.md). */
function message(raw) {
  return {
    id: String(raw._id),
    rid: String(raw.rid),
    msg: String(raw.msg ?? ''),
    token: raw.token ?? null,
    alias: raw.alias ?? null,
    ts: raw.ts,
    u: user(raw.u),
    updatedAt: raw._updatedAt ?? raw.ts,
    urls: (raw.urls ?? []).map((url) => ({ url: String(url.url ?? ''), meta: url.meta ?? null })),
    mentions: (raw.mentions ?? []).map((mention) => ({
      id: String(mention._id ?? ''), username: mention.username ?? null,
      name: mention.name ?? null, type: mention.type ?? null,
    })),
    channels: (raw.channels ?? []).map((channel) => ({
      id: String(channel._id ?? ''), name: channel.name ?? null,
    })),
    mdJson: Array.isArray(raw.md) ? raw.md : [],
    t: raw.t ?? null,
    editedAt: raw.editedAt || null,
    editedBy: raw.editedBy ? user(raw.editedBy) : null,
    file: isObject(raw.file) ? messageFile(raw.file) : null,
    files: objects(raw.files).map(messageFile),
    attachments: objects(raw.attachments).map(attachment),
  };
}

// The md tree (@rocket.chat/message-parser's AST) as MarkdownNode union members, named and shaped
// as the schema has them; a node that does not fit becomes UnknownMarkdownNode with its raw JSON.
const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

function nodes(value) {
  if (isObject(value)) return [node(value)]; // a LINK's label may be one node
  if (!Array.isArray(value)) throw new TypeError('not a node list');
  return value.map(node);
}

function plainText(value) {
  if (isObject(value) && typeof value.value === 'string') return value.value;
  throw new TypeError('not a PLAIN_TEXT node');
}

function string(value) {
  if (typeof value === 'string') return value;
  throw new TypeError('not a string');
}

function integer(value) {
  if (Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  throw new TypeError('not an integer');
}

const fallback = (n) =>
  Array.isArray(n.fallback) && n.fallback.every(Number.isInteger) ? n.fallback : null;

function emoticon(n) {
  const { value } = n;
  if (isObject(value) && value.value !== n.shortCode) {
    return typeof value.value === 'string' ? value.value : null;
  }
  return null;
}

function color(n) {
  const { r, g, b, a } = n.value;
  if (![r, g, b, a].every(Number.isInteger)) throw new TypeError('not a colour');
  return { __typename: 'Color', type: n.type, r, g, b, a };
}

const withChildren = (typename) => (n) => ({ __typename: typename, type: n.type, children: nodes(n.value) });
const withText = (typename) => (n) => ({ __typename: typename, type: n.type, text: plainText(n.value) });

const BUILDERS = {
  PARAGRAPH: withChildren('Paragraph'),
  PLAIN_TEXT: (n) => ({ __typename: 'PlainText', type: n.type, text: string(n.value) }),
  BOLD: withChildren('Bold'),
  ITALIC: withChildren('Italic'),
  STRIKE: withChildren('Strike'),
  SPOILER: withChildren('Spoiler'),
  SPOILER_BLOCK: withChildren('SpoilerBlock'),
  INLINE_CODE: withText('InlineCode'),
  CODE: (n) => ({
    __typename: 'CodeBlock', type: n.type, language: n.language ?? null, children: nodes(n.value),
  }),
  CODE_LINE: withText('CodeLine'),
  HEADING: (n) => ({
    __typename: 'Heading', type: n.type, level: integer(n.level), children: nodes(n.value),
  }),
  QUOTE: withChildren('Quote'),
  LINK: (n) => ({
    __typename: 'Link', type: n.type, src: plainText(n.value.src), label: nodes(n.value.label),
  }),
  IMAGE: (n) => ({
    __typename: 'Image', type: n.type, src: plainText(n.value.src), label: nodes(n.value.label),
  }),
  MENTION_USER: withText('UserMention'),
  MENTION_CHANNEL: withText('ChannelMention'),
  EMOJI: (n) => ({
    __typename: 'Emoji', type: n.type, shortCode: n.shortCode ?? null,
    unicode: n.unicode ?? null, emoticon: emoticon(n),
  }),
  BIG_EMOJI: withChildren('BigEmoji'),
  COLOR: color,
  TASKS: withChildren('TaskList'),
  TASK: (n) => {
    if (!('status' in n)) throw new TypeError('a TASK without status');
    return { __typename: 'Task', type: n.type, checked: Boolean(n.status), children: nodes(n.value) };
  },
  ORDERED_LIST: withChildren('OrderedList'),
  UNORDERED_LIST: withChildren('UnorderedList'),
  LIST_ITEM: (n) => ({
    __typename: 'ListItem', type: n.type, number: n.number ?? null, children: nodes(n.value),
  }),
  LINE_BREAK: (n) => ({ __typename: 'LineBreak', type: n.type }),
  HORIZONTAL_RULE: (n) => ({ __typename: 'HorizontalRule', type: n.type, fallback: fallback(n) }),
  KATEX: (n) => ({ __typename: 'Katex', type: n.type, text: string(n.value) }),
  INLINE_KATEX: (n) => ({ __typename: 'InlineKatex', type: n.type, text: string(n.value) }),
  TIMESTAMP: (n) => ({
    __typename: 'Timestamp', type: n.type, timestamp: string(n.value.timestamp),
    format: string(n.value.format), fallback: fallback(n),
  }),
  TABLE: (n) => ({
    __typename: 'Table', type: n.type, header: nodes(n.value.header), rows: nodes(n.value.rows),
    fallback: fallback(n),
  }),
  TABLE_ROW: withChildren('TableRow'),
  TABLE_CELL: (n) => ({
    __typename: 'TableCell', type: n.type, align: n.align ?? null, children: nodes(n.value),
  }),
};

function node(raw) {
  const type = isObject(raw) ? raw.type : undefined;
  const build = typeof type === 'string' && Object.hasOwn(BUILDERS, type) ? BUILDERS[type] : undefined;
  if (build) {
    try {
      return build(raw);
    } catch {
      // malformed: kept raw below
    }
  }
  return { __typename: 'UnknownMarkdownNode', type: typeof type === 'string' ? type : '', raw };
}

// --------------------------------------------------------------------------- schema

/** ISO-8601 with milliseconds and "Z" (JavaScript's toISOString, as Rocket.Chat writes it). */
const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  serialize(value) {
    const moment = value instanceof Date ? value
      : new Date(isObject(value) && '$date' in value ? value.$date : value);
    if (Number.isNaN(moment.getTime())) throw new TypeError(`not a date: ${value}`);
    return moment.toISOString();
  },
  parseValue(value) {
    const moment = new Date(value);
    if (typeof value !== 'string' || Number.isNaN(moment.getTime())) throw new TypeError('not a date');
    return moment;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new TypeError('not a date');
    return this.parseValue(ast.value);
  },
});

const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

const byTypename = { __resolveType: (value) => value.__typename };

const resolvers = {
  DateTime,
  JSON: JSONScalar,
  SendLivechatMessageResult: byTypename,
  MarkdownNode: byTypename,
  Message: {
    md: (parent) => parent.mdJson.map(node),
  },
  Mutation: {
    async sendLivechatMessage(_root, { input }) {
      const payload = { token: input.token, rid: input.rid, msg: input.msg };
      if (input.id != null) payload._id = input.id;
      if (input.agent != null) {
        payload.agent = { agentId: input.agent.agentId, username: input.agent.username };
      }
      const { statusCode, answer } = await post(SEND_PATH, payload);
      if (isObject(answer) && (answer.success === true || answer.success === 'true')
          && isObject(answer.message)) {
        return { __typename: 'SendLivechatMessageSuccess', message: message(answer.message) };
      }
      if (isObject(answer) && answer.success !== true && 'error' in answer) {
        return livechatError(answer);
      }
      throw new Error(`upstream answered ${statusCode} without a message`); // masked
    },
  },
};

// --------------------------------------------------------------------------- graphql-jit, where it fits

// graphql-jit compiles a document up front, every possible type at every depth of it, and that
// grows exponentially with the depth of a union selection: the shipped 10-level MarkdownNode
// fragment compiles in 16 ms cut at depth 1, 0.2 s at 2, 1.9 s at 3, fails at 4 after 24 s
// ("Invalid string length"), and at 10 runs for minutes until the process dies. So a document is
// JIT-compiled only when its selection, fragments expanded, has at most JIT_FIELD_LIMIT fields
// (@envelop/graphql-jit's `enableIf`); the others run on Yoga's default executor (graphql-js's
// algorithm, @graphql-tools/executor). Decided once per parsed document (Yoga caches parses).
const JIT_FIELD_LIMIT = 2000;
const jitFits = new WeakMap();

function expandedFields(document, limit) {
  const fragments = new Map();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  let count = 0;
  const walk = (selectionSet) => {
    for (const selection of selectionSet.selections) {
      if (count > limit) return;
      if (selection.kind === Kind.FIELD) {
        count += 1;
        if (selection.selectionSet) walk(selection.selectionSet);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) walk(definition.selectionSet);
  }
  return count;
}

function jitFor({ document }) {
  let fits = jitFits.get(document);
  if (fits === undefined) {
    fits = expandedFields(document, JIT_FIELD_LIMIT) <= JIT_FIELD_LIMIT;
    jitFits.set(document, fits);
  }
  return fits;
}

// --------------------------------------------------------------------------- server

function serve() {
  pool = new Pool(upstream.origin, {
    connections: 100, // as the project's facade (upstream_max_connections)
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const schema = createSchema({ typeDefs: readFileSync(options.schema, 'utf8'), resolvers });
  const yoga = createYoga({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    logging: false,
    maskedErrors: true,
    cors: false,
    multipart: false,
    plugins: options['no-jit'] ? [] : [useGraphQlJit({}, { enableIf: jitFor })],
  });
  const server = createServer(yoga);
  server.listen(Number(options.port), options.host);
  const stop = () => {
    server.close();
    server.closeAllConnections();
    pool.destroy().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (forks > 1 && cluster.isPrimary) {
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  };
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} exited (${signal ?? code}): stopping`);
      process.exitCode = 1;
      stop();
    }
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < forks; i += 1) cluster.fork();
} else {
  serve();
}
