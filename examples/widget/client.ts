/**
 * Apollo Client on the API alone: queries and mutations over HTTP (`/graphql`), the room's events
 * over graphql-ws (`GraphQLWsLink`), chosen per operation by a split link; the HTTP side is
 * apollo-upload-client's link, which sends an operation with a `File` in its variables as a
 * GraphQL multipart request (with `Apollo-Require-Preflight`, which the server asks of a
 * multipart request so that a cross-site form cannot post one) and any other as JSON. The cache knows the
 * schema's unions and interfaces from schema/possibleTypes.json, so fragments on `MarkdownNode`
 * and `LivechatError` match the members the server answers.
 *
 * graphql-ws reconnects by itself and subscribes again; what the room said while the socket was
 * down is not replayed, so `onReconnect` tells the room to read its history again and merge.
 */

import { ApolloClient, InMemoryCache, split } from "@apollo/client/core";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import createUploadLink from "apollo-upload-client/createUploadLink.mjs";
import { createClient } from "graphql-ws";

import possibleTypes from "../../schema/possibleTypes.json";

export interface Connection {
  readonly apollo: ApolloClient<unknown>;
  /** Calls `listener` after each reconnection of the WebSocket (not the first connection). */
  onReconnect(listener: () => void): () => void;
  dispose(): Promise<void>;
}

/** A client of the API at `endpoint` (the page's own `/graphql` by default). */
export function connect(endpoint: URL): Connection {
  const listeners = new Set<() => void>();
  let connections = 0;
  const socketUrl = new URL(endpoint);
  socketUrl.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  const sockets = createClient({
    url: socketUrl.href,
    lazy: true,
    // A visitor may leave a tab open for hours: keep trying, backing off as graphql-ws does.
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    on: {
      connected: () => {
        connections += 1;
        if (connections > 1) for (const listener of listeners) listener();
      },
    },
  });
  const link = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    new GraphQLWsLink(sockets),
    createUploadLink({ uri: endpoint.href, headers: { "Apollo-Require-Preflight": "true" } }),
  );
  const apollo = new ApolloClient({
    link,
    cache: new InMemoryCache({ possibleTypes }),
    // The room's store (store.ts) owns the message list; every read asks the server.
    defaultOptions: { query: { fetchPolicy: "network-only" } },
  });
  return {
    apollo,
    onReconnect(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async dispose() {
      apollo.stop();
      await sockets.dispose();
    },
  };
}
