/** Form controls the config's forms share: a labelled input, and a department picker. */

import { h } from "./dom.js";

export function field(
  label: string,
  input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement,
): HTMLLabelElement {
  return h("label", {}, label, input);
}

/** A select of `departments` (by id), with an empty first choice: "any department". */
export function departmentPicker(
  departments: readonly { readonly id: string; readonly name: string }[],
): HTMLSelectElement | undefined {
  if (departments.length === 0) return undefined;
  const select = h("select", { name: "department" }, h("option", { value: "" }, "Any"));
  for (const department of departments) {
    select.append(h("option", { value: department.id }, department.name));
  }
  return select;
}

/** The value of a control that may be absent, trimmed; undefined when empty. */
export function valueOf(
  control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | undefined,
): string | undefined {
  const value = control?.value.trim();
  return value === undefined || value === "" ? undefined : value;
}
