/**
 * Rocket.Chat's GDPR step: when the config forces data processing consent, its text and an
 * "I agree" before anything else; and, after a chat, the way to have one's data removed.
 */

import type { Config } from "../config.js";
import { h, showError } from "./dom.js";

export function consentView(config: Config, agree: () => void): HTMLElement {
  const button = h("button", { type: "button", "data-action": "consent" }, "I agree");
  button.addEventListener("click", agree);
  return h(
    "section",
    { class: "notice", "data-view": "consent" },
    h("p", {}, config.messages?.dataProcessingConsentText || "We process your data to answer you."),
    button,
  );
}

/** "Remove my data": `remove` deletes the visitor (refused while a room of theirs is open). */
export function removeDataButton(remove: () => Promise<void>): HTMLElement {
  const button = h("button", { type: "button", "data-action": "remove-data" }, "Remove my data");
  const alert = h("p", { role: "alert", class: "error" });
  button.addEventListener("click", () => {
    button.disabled = true;
    alert.textContent = "";
    remove().catch((error: unknown) => {
      button.disabled = false;
      showError(alert, error);
    });
  });
  return h("div", { class: "remove-data" }, button, alert);
}
