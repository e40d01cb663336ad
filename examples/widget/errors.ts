/** What the API answers when Rocket.Chat says no, as an exception the views can show. */

import type { LivechatErrorFields } from "./documents.js";

export class LivechatFailure extends Error {
  readonly code: string;
  readonly upstreamError: string;

  constructor(error: LivechatErrorFields) {
    super(error.reason);
    this.name = "LivechatFailure";
    this.code = error.code;
    this.upstreamError = error.upstreamError;
  }
}

/** The success member of a result union, or the `LivechatError` member thrown. */
export function success<Result extends { __typename: string }, Name extends Result["__typename"]>(
  result: Result | null | undefined,
  typename: Name,
): Extract<Result, { __typename: Name }> {
  if (result == null) throw new Error("the API answered nothing");
  if (result.__typename === "LivechatError") {
    throw new LivechatFailure(result as unknown as LivechatErrorFields);
  }
  if (result.__typename !== typename) throw new Error(`unexpected ${result.__typename}`);
  return result as Extract<Result, { __typename: Name }>;
}
