/**
 * The visitor's status, as Rocket.Chat's widget reports it (`lib/userPresence.js`): `online` at
 * the first activity (mouse, key, focus) while a chat is open, `away` after five minutes without
 * any, `online` again at the next. Each change is one `setLivechatVisitorStatus`.
 */

import type { Connection } from "./client.js";
import { SetVisitorStatus } from "./documents.js";

const IDLE_MS = 300_000;
const ACTIVITY = ["mousemove", "mousedown", "keydown", "touchstart", "focus"] as const;

/** Starts reporting for `token`; the answer stops it (when the chat ends). */
export function trackPresence(connection: Connection, token: string): () => void {
  let status: "online" | "away" | undefined;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const report = (next: "online" | "away") => {
    if (status === next) return;
    status = next;
    void connection.apollo
      .mutate({ mutation: SetVisitorStatus, variables: { input: { token, status: next } } })
      .catch(() => {
        status = undefined; // try again at the next activity
      });
  };
  const active = () => {
    report("online");
    clearTimeout(idle);
    idle = setTimeout(() => report("away"), IDLE_MS);
  };
  for (const name of ACTIVITY) window.addEventListener(name, active, { passive: true });
  return () => {
    clearTimeout(idle);
    for (const name of ACTIVITY) window.removeEventListener(name, active);
  };
}
