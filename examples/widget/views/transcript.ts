/** The transcript request after a chat (when the config's `settings.transcript` is on). */

import { h, showError } from "./dom.js";

export function transcriptView(
  text: string,
  email: string | undefined,
  request: (email: string) => Promise<string>,
): HTMLElement {
  const input = h("input", { name: "transcript-email", type: "email", required: true });
  input.value = email ?? "";
  const button = h("button", { type: "submit" }, "Send me the transcript");
  const alert = h("p", { role: "alert", class: "error" });
  const form = h(
    "form",
    { class: "transcript", "data-transcript": true },
    h("label", {}, text || "Email for the transcript", input),
    alert,
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    alert.textContent = "";
    request(input.value.trim())
      .then((answer) => form.replaceChildren(h("p", { "data-transcript-sent": true }, answer)))
      .catch((error: unknown) => {
        button.disabled = false;
        showError(alert, error);
      });
  });
  return form;
}
