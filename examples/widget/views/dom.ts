/** A small `createElement`: the views build DOM with it and never parse HTML. */

type Attributes = Record<string, string | boolean | undefined>;
type Child = Node | string | undefined | false;

export function h<Tag extends keyof HTMLElementTagNameMap>(
  tag: Tag,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[Tag] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) element.setAttribute(name, "");
    else if (typeof value === "string") element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== undefined && child !== false) element.append(child);
  }
  return element;
}

/** The message of a failure, in an element screen readers announce. */
export function showError(alert: HTMLElement, error: unknown): void {
  alert.textContent = error instanceof Error ? error.message : String(error);
}
