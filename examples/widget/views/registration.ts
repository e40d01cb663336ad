/**
 * The form before the chat: name and email, as Rocket.Chat's widget asks when registration is on.
 *
 * The config area's `livechatConfig` will decide whether this form shows at all, which
 * department picker and custom fields it adds (rendered after the email field, and sent in
 * `RegisterLivechatVisitorInput`), and when nobody is online, the offline form instead.
 */

import type { Registration } from "../session.js";
import { h, showError } from "./dom.js";

export function registrationView(
  submit: (registration: Registration) => Promise<void>,
): HTMLElement {
  const name = h("input", { name: "name", required: true, autocomplete: "name" });
  const email = h("input", { name: "email", type: "email", required: true, autocomplete: "email" });
  const button = h("button", { type: "submit" }, "Start chat");
  const alert = h("p", { role: "alert", class: "error" });
  const form = h(
    "form",
    { class: "registration", "data-view": "registration" },
    h("h2", {}, "Need help? Chat with us"),
    h("label", {}, "Name", name),
    h("label", {}, "Email", email),
    alert,
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    alert.textContent = "";
    submit({ name: name.value.trim(), email: email.value.trim() })
      .catch((error: unknown) => showError(alert, error))
      .finally(() => {
        button.disabled = false;
      });
  });
  return form;
}
