/**
 * When nobody is online: Rocket.Chat's "leave a message" form (name, email, message, and a
 * department among those shown on the offline form), or its "unavailable" line when the offline
 * form is switched off. After sending, the config's success message replaces the form.
 */

import type { Config } from "../config.js";
import { h, showError } from "./dom.js";
import { departmentPicker, field, valueOf } from "./fields.js";

export interface OfflineMessage {
  readonly name: string;
  readonly email: string;
  readonly message: string;
  readonly department: string | undefined;
}

export function offlineView(
  config: Config,
  send: (message: OfflineMessage) => Promise<void>,
): HTMLElement {
  const texts = config.messages;
  if (config.settings?.displayOfflineForm === false) {
    return h(
      "section",
      { class: "notice", "data-view": "unavailable" },
      h("p", {}, texts?.offlineUnavailableMessage || "We are not online right now."),
    );
  }
  const name = h("input", { name: "name", required: true, autocomplete: "name" });
  const email = h("input", { name: "email", type: "email", required: true, autocomplete: "email" });
  const message = h("textarea", { name: "message", required: true, rows: "4" });
  const department = departmentPicker(config.departments.filter((d) => d.showOnOfflineForm));
  const button = h("button", { type: "submit" }, "Send");
  const alert = h("p", { role: "alert", class: "error" });
  const form = h(
    "form",
    { class: "form", "data-view": "offline" },
    h("p", {}, texts?.offlineMessage || "We are not online right now. Leave us a message."),
    field("Name", name),
    field("Email", email),
    department && field("Department", department),
    field("Message", message),
    alert,
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    alert.textContent = "";
    send({
      name: name.value.trim(),
      email: email.value.trim(),
      message: message.value.trim(),
      department: valueOf(department),
    })
      .then(() => {
        form.replaceChildren(
          h(
            "p",
            { "data-sent": true },
            texts?.offlineSuccessMessage || "Thank you, your message was sent.",
          ),
        );
      })
      .catch((error: unknown) => {
        button.disabled = false;
        showError(alert, error);
      });
  });
  return form;
}
