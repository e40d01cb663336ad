/**
 * The chat: header with the agent's card and close, the message list (older pages load when it
 * is scrolled to the top), the typing line, and the composer (Enter sends, Shift+Enter is a new
 * line; editing one's own message reuses it).
 *
 * `[data-agent]`, `[data-typing]` and the queue notice are filled by `agents` (agent.ts) from the
 * room events room.ts hands on; the visitor's own typing goes out through `typing`.
 */

import { AgentPanel } from "../agent.js";
import type { TypingSender } from "../typing.js";

import type { Message } from "../documents.js";
import type { RoomSession } from "../room.js";
import { h, showError } from "./dom.js";
import { messageElement } from "./message.js";

/** How near the top (px) the list must be scrolled for the next older page to load. */
const TOP_MARGIN = 48;

export interface ChatCallbacks {
  /** The visitor closed the chat, or the room ended: what to show next. */
  readonly closed: () => void;
}

export class ChatView {
  readonly element: HTMLElement;
  private readonly list = h("ol", { class: "messages", "data-messages": true });
  private readonly composer = h("textarea", {
    name: "msg",
    rows: "2",
    placeholder: "Type your message…",
    "aria-label": "Message",
  });
  private readonly alert = h("p", { role: "alert", class: "error" });
  private readonly tools = h("div", { class: "tools" });
  private readonly editing = h("div", { class: "editing", hidden: true });
  private readonly elements = new Map<string, { message: Message; element: HTMLLIElement }>();
  private editingId: string | undefined;
  readonly agents: AgentPanel;

  constructor(
    private readonly room: RoomSession,
    private readonly visitorId: string,
    private readonly callbacks: ChatCallbacks,
    private readonly typing?: TypingSender,
    uploads = false,
  ) {
    const card = h("div", { class: "agent", "data-agent": true });
    const typingLine = h("div", { class: "typing", "data-typing": true, "aria-live": "polite" });
    const queue = h("p", { class: "queue", "data-queue": true, role: "status" });
    this.agents = new AgentPanel(card, typingLine, queue);
    const close = h("button", { type: "button", "data-action": "close" }, "Close chat");
    const send = h("button", { type: "submit" }, "Send");
    const cancel = h("button", { type: "button", "data-action": "cancel-edit" }, "Cancel");
    this.editing.append("Editing your message ", cancel);
    const attach = uploads ? this.fileInput() : undefined;
    const form = h("form", { class: "composer" }, this.editing, this.composer, attach, send);
    this.element = h(
      "section",
      { class: "chat", "data-view": "chat", "data-rid": room.room.id },
      h("header", {}, h("h2", {}, "Chat"), card, close),
      queue,
      this.list,
      typingLine,
      this.alert,
      form,
    );
    close.before(this.tools);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
    this.composer.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.submit();
      }
      if (event.key === "Escape") this.stopEditing();
    });
    this.composer.addEventListener("input", () => {
      if (this.editingId === undefined && this.composer.value.trim()) this.typing?.keystroke();
    });
    cancel.addEventListener("click", () => this.stopEditing());
    close.addEventListener("click", () => {
      close.disabled = true;
      this.room
        .close()
        .then(() => this.callbacks.closed())
        .catch((error: unknown) => {
          close.disabled = false;
          showError(this.alert, error);
        });
    });
    this.list.addEventListener("scroll", () => {
      if (this.list.scrollTop < TOP_MARGIN) this.loadOlder();
    });
    room.store.subscribe(() => this.render());
  }

  /** After the first page: show the newest, and fill the list if it does not scroll yet. */
  settle(): void {
    this.list.scrollTop = this.list.scrollHeight;
    if (this.list.scrollHeight <= this.list.clientHeight) this.loadOlder();
  }

  /** The file picker beside Send (when the config's `fileUpload` is on): each file chosen is
   * uploaded and shows as a message, an image with its preview. */
  private fileInput(): HTMLLabelElement {
    const input = h("input", { type: "file", name: "file", "aria-label": "Attach a file" });
    input.addEventListener("change", () => {
      const files = [...(input.files ?? [])];
      input.value = "";
      this.alert.textContent = "";
      void (async () => {
        for (const file of files) {
          try {
            await this.room.upload(file);
          } catch (error: unknown) {
            showError(this.alert, error);
          }
        }
      })();
    });
    return h("label", { class: "attach", title: "Attach a file" }, "File", input);
  }

  /** A control of the config's (the department switch) in the header, before close. */
  addTool(tool: HTMLElement): void {
    this.tools.append(tool);
  }

  showError(error: unknown): void {
    showError(this.alert, error);
  }

  private loadOlder(): void {
    if (!this.room.store.hasMore) return;
    this.room
      .loadOlder()
      .then(() => {
        if (this.list.scrollHeight <= this.list.clientHeight) this.loadOlder();
      })
      .catch((error: unknown) => showError(this.alert, error));
  }

  private async submit(): Promise<void> {
    const text = this.composer.value.trim();
    if (!text) return;
    this.alert.textContent = "";
    if (this.editingId === undefined) this.typing?.stop();
    try {
      if (this.editingId !== undefined) await this.room.edit(this.editingId, text);
      else await this.room.send(text);
      this.composer.value = "";
      this.stopEditing();
    } catch (error: unknown) {
      showError(this.alert, error);
    }
  }

  private startEditing(message: Message): void {
    this.editingId = message.id;
    this.editing.hidden = false;
    this.composer.value = message.msg;
    this.composer.focus();
  }

  private stopEditing(): void {
    if (this.editingId === undefined) return;
    this.editingId = undefined;
    this.editing.hidden = true;
    this.composer.value = "";
  }

  private own(message: Message): boolean {
    return message.token === this.room.token || message.u.id === this.visitorId;
  }

  /** Brings the list in line with the store: each message once, in time order, kept in place
   * when older ones arrive above and followed to the bottom when new ones arrive there. */
  private render(): void {
    const list = this.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    const anchor = list.firstElementChild;
    const anchorTop = anchor instanceof HTMLElement ? anchor.offsetTop : 0;
    const messages = this.room.store.sorted();
    const wanted = new Set(messages.map((message) => message.id));
    for (const [id, { element }] of this.elements) {
      if (!wanted.has(id)) {
        element.remove();
        this.elements.delete(id);
        if (this.editingId === id) this.stopEditing();
      }
    }
    let previous: Element | null = null;
    for (const message of messages) {
      let held = this.elements.get(message.id);
      if (held === undefined || held.message !== message) {
        const element = messageElement(message, this.own(message), {
          edit: (target) => this.startEditing(target),
          delete: (target) => {
            this.room.delete(target.id).catch((error: unknown) => showError(this.alert, error));
          },
        });
        held?.element.replaceWith(element);
        held = { message, element };
        this.elements.set(message.id, held);
      }
      const expected: Element | null = previous
        ? previous.nextElementSibling
        : list.firstElementChild;
      if (expected !== held.element) {
        if (previous) previous.after(held.element);
        else list.prepend(held.element);
      }
      previous = held.element;
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
    else if (anchor instanceof HTMLElement && anchor.isConnected) {
      list.scrollTop += anchor.offsetTop - anchorTop;
    }
  }
}
