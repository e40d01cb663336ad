/** One message of the list: author, time, the text rendered from `md`, and for the visitor's own
 * messages, edit and delete. */

import type { Message } from "../documents.js";
import { renderMarkdown } from "../markdown.js";
import { h } from "./dom.js";

export interface MessageActions {
  readonly edit: (message: Message) => void;
  readonly delete: (message: Message) => void;
}

const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

export function messageElement(
  message: Message,
  own: boolean,
  actions: MessageActions,
): HTMLLIElement {
  const ts = new Date(message.ts);
  if (message.t) {
    // A system message (the room's close, later an agent joining): a line, not a bubble.
    return h(
      "li",
      { class: "message system", "data-message-id": message.id, "data-type": message.t },
      renderMarkdown(message.md, { msg: message.msg }),
    );
  }
  const body = h("div", { class: "body" });
  body.append(renderMarkdown(message.md, { msg: message.msg }));
  for (const attachment of message.attachments ?? []) body.append(attachmentElement(attachment));
  const item = h(
    "li",
    {
      class: own ? "message own" : "message",
      "data-message-id": message.id,
      "data-author": message.u.username,
      "data-own": own,
    },
    h(
      "div",
      { class: "meta" },
      h("span", { class: "author" }, message.u.name ?? message.u.username),
      h("time", { datetime: ts.toISOString(), title: ts.toLocaleString() }, TIME.format(ts)),
      message.editedAt ? h("span", { class: "edited", "data-edited": true }, "edited") : undefined,
    ),
    body,
  );
  if (own) {
    const edit = h("button", { type: "button", "data-action": "edit" }, "Edit");
    const remove = h("button", { type: "button", "data-action": "delete" }, "Delete");
    edit.addEventListener("click", () => actions.edit(message));
    remove.addEventListener("click", () => actions.delete(message));
    item.append(h("div", { class: "actions" }, edit, remove));
  }
  return item;
}

type Attachment = NonNullable<Message["attachments"]>[number];

/** Only the server's own download paths (and http(s)) become URLs here. */
function safeUrl(path: string | null | undefined): string | undefined {
  if (!path) return undefined;
  const url = new URL(path, location.href);
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
}

/** A file message's attachment, as Rocket.Chat's widget shows it: an image with its
 * dimensions (so the list does not jump when it loads), else a download link. */
function attachmentElement(attachment: Attachment): HTMLElement {
  const title = attachment.title ?? "file";
  const link = safeUrl(attachment.titleLink);
  const image = safeUrl(attachment.imageUrl);
  const figure = h("figure", { class: "attachment", "data-attachment": true });
  if (image) {
    const size = attachment.imageDimensions;
    const img = h("img", {
      src: image,
      alt: attachment.description ?? title,
      width: size ? String(size.width) : undefined,
      height: size ? String(size.height) : undefined,
      loading: "lazy",
    });
    figure.append(
      link ? h("a", { href: link, target: "_blank", rel: "noopener noreferrer" }, img) : img,
    );
  }
  figure.append(
    h(
      "figcaption",
      {},
      link
        ? h(
            "a",
            { href: link, download: title, rel: "noopener noreferrer", "data-download": true },
            title,
          )
        : title,
    ),
  );
  if (attachment.description)
    figure.append(h("p", { class: "description" }, attachment.description));
  return figure;
}
