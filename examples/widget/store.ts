/**
 * The room's messages, one per id, in time order: live events, pages of history and the answers
 * to the visitor's own mutations all land here, in any order and any number of times, and the
 * list shows each message once, in its latest version. That is what makes a reconnect safe: the
 * history read after it overlaps what the events already brought, and merging drops nothing
 * and doubles nothing.
 */

import type { Message } from "./documents.js";

function time(message: Message): number {
  return Date.parse(message.ts);
}

function version(message: Message): number {
  return Date.parse(message.editedAt ?? message.updatedAt ?? message.ts);
}

export class MessageStore {
  private readonly byId = new Map<string, Message>();
  private readonly listeners = new Set<() => void>();
  /** Whether the server holds messages older than the oldest here. */
  hasMore = true;

  /** Adds or replaces a message; an older version than the one held is ignored. */
  upsert(message: Message): void {
    const held = this.byId.get(message.id);
    if (held !== undefined && version(held) > version(message)) return;
    this.byId.set(message.id, message);
    this.changed();
  }

  remove(id: string): void {
    if (this.byId.delete(id)) this.changed();
  }

  /**
   * A page of history, newest first as the API answers it. A page read from the newest end
   * (`newest`) is the truth for the span it covers: a message held in that span but absent from
   * the page was deleted while nobody was listening. (Older than that span, a deletion missed
   * while offline stays unseen until the page is read again: one page is what a reconnect costs.)
   */
  mergePage(page: readonly Message[], hasMore: boolean, newest: boolean): void {
    if (newest) {
      const oldest = page.length ? Math.min(...page.map(time)) : Number.NEGATIVE_INFINITY;
      const ids = new Set(page.map((message) => message.id));
      for (const [id, message] of this.byId) {
        if ((!hasMore || time(message) >= oldest) && !ids.has(id)) this.byId.delete(id);
      }
      if (this.byId.size === 0 || !hasMore) this.hasMore = hasMore;
    } else {
      this.hasMore = hasMore;
    }
    for (const message of page) {
      const held = this.byId.get(message.id);
      if (held === undefined || version(held) <= version(message)) {
        this.byId.set(message.id, message);
      }
    }
    this.changed();
  }

  get(id: string): Message | undefined {
    return this.byId.get(id);
  }

  /** Oldest first, as the list shows them. */
  sorted(): Message[] {
    return [...this.byId.values()].sort((a, b) => time(a) - time(b) || (a.id < b.id ? -1 : 1));
  }

  /** The `before` of the next older page. */
  oldestTs(): string | undefined {
    return this.sorted()[0]?.ts;
  }

  clear(): void {
    this.byId.clear();
    this.hasMore = true;
    this.changed();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
