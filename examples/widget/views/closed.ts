/**
 * After the chat is closed: the config's closing line, the transcript request (when on), the
 * satisfaction survey, and a way to start again.
 */

import { h } from "./dom.js";

export interface ClosedParts {
  readonly message: string | undefined;
  readonly transcript: HTMLElement | undefined;
  readonly survey: HTMLElement | undefined;
  readonly removeData: HTMLElement | undefined;
}

export function closedView(parts: ClosedParts, startAgain: () => void): HTMLElement {
  const again = h("button", { type: "button", "data-action": "new-chat" }, "Start a new chat");
  again.addEventListener("click", startAgain);
  return h(
    "section",
    { class: "closed", "data-view": "closed" },
    h("p", {}, parts.message || "This chat is closed. Thank you!"),
    parts.transcript,
    parts.survey,
    again,
    parts.removeData,
  );
}
