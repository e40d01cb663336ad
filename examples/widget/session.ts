/**
 * The visitor's side of the conversation that outlives a page load, in localStorage: their token
 * (made here, as Rocket.Chat's widget makes it), what they registered with, and the room they
 * have open. On load the server's word wins: the config answer's `visitor` and `room`.
 */

import { randomId } from "./ids.js";

const PREFIX = "livechat-graphql:";

/** What the registration form asked (each part only when the config asks for it). */
export interface Registration {
  readonly name?: string | undefined;
  readonly email?: string | undefined;
  readonly department?: string | undefined;
  readonly customFields?: readonly { readonly key: string; readonly value: string }[];
}

export interface Session {
  readonly token: string;
  registration: Registration | undefined;
  visitorId: string | undefined;
  rid: string | undefined;
}

function read(storage: Storage, key: string): string | undefined {
  return storage.getItem(PREFIX + key) ?? undefined;
}

function write(storage: Storage, key: string, value: string | undefined): void {
  if (value === undefined) storage.removeItem(PREFIX + key);
  else storage.setItem(PREFIX + key, value);
}

/** The stored session, a new token the first time. */
export function loadSession(storage: Storage = localStorage): Session {
  let token = read(storage, "token");
  if (token === undefined) {
    token = randomId();
    write(storage, "token", token);
  }
  const registered = read(storage, "registration");
  return {
    token,
    registration: registered === undefined ? undefined : (JSON.parse(registered) as Registration),
    visitorId: read(storage, "visitor-id"),
    rid: read(storage, "rid"),
  };
}

/** Whether the visitor accepted the data processing consent (when the config asks for it). */
export function consented(storage: Storage = localStorage): boolean {
  return read(storage, "consent") === "given";
}

export function giveConsent(storage: Storage = localStorage): void {
  write(storage, "consent", "given");
}

/** Forgets everything: the next load is a new visitor, with a new token. */
export function forgetSession(storage: Storage = localStorage): void {
  for (const key of ["token", "registration", "visitor-id", "rid", "consent"])
    write(storage, key, undefined);
}

export function saveSession(session: Session, storage: Storage = localStorage): void {
  write(storage, "registration", session.registration && JSON.stringify(session.registration));
  write(storage, "visitor-id", session.visitorId);
  write(storage, "rid", session.rid);
}
