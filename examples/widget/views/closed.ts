/** After the chat is closed: a line, and a way to start again. */

import { h } from "./dom.js";

export function closedView(startAgain: () => void): HTMLElement {
  const again = h("button", { type: "button", "data-action": "new-chat" }, "Start a new chat");
  again.addEventListener("click", startAgain);
  return h(
    "section",
    { class: "closed", "data-view": "closed" },
    h("p", {}, "This chat is closed. Thank you!"),
    again,
  );
}
