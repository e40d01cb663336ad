/**
 * The form before the chat, as the config asks for it: name and email (each when its setting is
 * on), a department among those shown on registration, and the visitor's custom fields (each
 * checked against its regexp here, as the server checks it again).
 */

import type { Config, CustomFieldDefinition } from "../config.js";
import { customFields } from "../config.js";
import type { Registration } from "../session.js";
import { h, showError } from "./dom.js";
import { departmentPicker, field, valueOf } from "./fields.js";

export function registrationView(
  config: Config,
  submit: (registration: Registration) => Promise<void>,
): HTMLElement {
  const settings = config.settings;
  const name =
    settings?.nameFieldRegistrationForm !== false
      ? h("input", { name: "name", required: true, autocomplete: "name" })
      : undefined;
  const email =
    settings?.emailFieldRegistrationForm !== false
      ? h("input", { name: "email", type: "email", required: true, autocomplete: "email" })
      : undefined;
  const department = departmentPicker(config.departments.filter((d) => d.showOnRegistration));
  const extras = customFields(config).map((definition) => ({
    definition,
    input: customInput(definition),
  }));
  const button = h("button", { type: "submit" }, "Start chat");
  const alert = h("p", { role: "alert", class: "error" });
  const form = h(
    "form",
    { class: "form registration", "data-view": "registration" },
    h("h2", {}, "Need help? Chat with us"),
    config.messages?.registrationFormMessage
      ? h("p", {}, config.messages.registrationFormMessage)
      : undefined,
    name && field("Name", name),
    email && field("Email", email),
    department && field("Department", department),
    ...extras.map(({ definition, input }) => field(definition.label, input)),
    alert,
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    alert.textContent = "";
    submit({
      name: valueOf(name),
      email: valueOf(email),
      department: valueOf(department),
      customFields: extras.flatMap(({ definition, input }) => {
        const value = valueOf(input);
        return value === undefined ? [] : [{ key: definition.key, value }];
      }),
    })
      .catch((error: unknown) => showError(alert, error))
      .finally(() => {
        button.disabled = false;
      });
  });
  return form;
}

function customInput(definition: CustomFieldDefinition): HTMLInputElement {
  const input = h("input", {
    name: `custom-${definition.key}`,
    required: definition.required,
    "data-custom-field": definition.key,
  });
  // Rocket.Chat's regexps are unanchored searches; `pattern` would match the whole value.
  let regexp: RegExp | undefined;
  try {
    regexp = definition.regexp === "" ? undefined : new RegExp(definition.regexp);
  } catch {
    regexp = undefined; // a server-side syntax JavaScript lacks: the server checks it alone
  }
  if (regexp !== undefined) {
    input.addEventListener("input", () => {
      const bad = input.value !== "" && !regexp.test(input.value);
      input.setCustomValidity(bad ? `Invalid value for ${definition.label}` : "");
    });
  }
  return input;
}
