/**
 * One open room: its history, its live events, and what the visitor does in it. Every change
 * goes through the store (store.ts), whichever way it arrives.
 *
 * The message events are handled here; the agent's (joined, status, typing, queue position) go
 * to `onOtherEvent`, which the chat hands to its agent panel (agent.ts).
 */

import type { ObservableSubscription } from "@apollo/client/core";

import type { Connection } from "./client.js";
import {
  CloseRoom,
  DeleteMessage,
  type Message,
  Messages,
  type Room,
  type RoomEvent,
  RoomEvents,
  SendMessage,
  UpdateMessage,
  UploadFile,
} from "./documents.js";
import { LivechatFailure, success } from "./errors.js";
import { randomId } from "./ids.js";
import { MessageStore } from "./store.js";

export const PAGE_SIZE = 20;

export interface RoomHandlers {
  /** A room event that is not about messages (see the module's docstring). */
  readonly onOtherEvent?: (event: RoomEvent) => void;
  /** The live feed failed for good (the token was refused, the server went away for good). */
  readonly onFeedError?: (error: Error) => void;
  /** A message arrived live (the agent's reply ends their typing). */
  readonly onMessage?: (message: Message) => void;
  /** The room was closed: by this visitor, in another tab, or by the agent. */
  readonly onClosed?: () => void;
}

export class RoomSession {
  readonly store = new MessageStore();
  private feed: ObservableSubscription | undefined;
  private stopReconnects: (() => void) | undefined;
  private loadingOlder: Promise<void> | undefined;

  constructor(
    private readonly connection: Connection,
    readonly token: string,
    readonly room: Room,
    private readonly handlers: RoomHandlers = {},
  ) {}

  /** Subscribe first, then read the newest page: nothing said in between is missed. */
  async start(): Promise<void> {
    this.setFileCookies();
    this.listen();
    this.stopReconnects = this.connection.onReconnect(() => void this.refresh());
    await this.refresh();
  }

  /** The newest page, merged into what is held (after a reconnect: what the socket missed). */
  async refresh(): Promise<void> {
    const page = await this.page(undefined);
    this.store.mergePage(page.messages, page.hasMore, true);
    this.noticeClose(page.messages);
  }

  /** The page before the oldest message held; one load at a time. */
  loadOlder(): Promise<void> {
    if (!this.store.hasMore) return Promise.resolve();
    this.loadingOlder ??= (async () => {
      try {
        const page = await this.page(this.store.oldestTs());
        this.store.mergePage(page.messages, page.hasMore, false);
      } finally {
        this.loadingOlder = undefined;
      }
    })();
    return this.loadingOlder;
  }

  /** Sends with an id made here, so the answer and the live event are one message. */
  async send(msg: string): Promise<void> {
    const { data } = await this.connection.apollo.mutate({
      mutation: SendMessage,
      variables: { input: { token: this.token, rid: this.room.id, msg, id: randomId() } },
    });
    this.store.upsert(success(data?.sendLivechatMessage, "SendLivechatMessageSuccess").message);
  }

  /** Uploads `file` (a multipart request, through apollo-upload-client): it becomes a message. */
  async upload(file: File): Promise<void> {
    const { data } = await this.connection.apollo.mutate({
      mutation: UploadFile,
      variables: { input: { token: this.token, rid: this.room.id, file } },
    });
    this.store.upsert(success(data?.uploadLivechatFile, "UploadLivechatFileSuccess").message);
  }

  async edit(id: string, msg: string): Promise<void> {
    const { data } = await this.connection.apollo.mutate({
      mutation: UpdateMessage,
      variables: { input: { token: this.token, rid: this.room.id, id, msg } },
    });
    this.store.upsert(success(data?.updateLivechatMessage, "UpdateLivechatMessageSuccess").message);
  }

  async delete(id: string): Promise<void> {
    const { data } = await this.connection.apollo.mutate({
      mutation: DeleteMessage,
      variables: { input: { token: this.token, rid: this.room.id, id } },
    });
    this.store.remove(success(data?.deleteLivechatMessage, "DeleteLivechatMessageSuccess").id);
  }

  async close(): Promise<void> {
    const { data } = await this.connection.apollo.mutate({
      mutation: CloseRoom,
      variables: { input: { token: this.token, rid: this.room.id } },
    });
    success(data?.closeLivechatRoom, "CloseLivechatRoomSuccess");
    this.stop();
  }

  stop(): void {
    this.feed?.unsubscribe();
    this.feed = undefined;
    this.stopReconnects?.();
  }

  /** As Rocket.Chat's widget: the room and token as cookies, which `/file-upload/` downloads
   * (an `<img>`, a link) carry, since they cannot send the visitor-token header. */
  private setFileCookies(): void {
    const attributes = "; path=/; SameSite=Lax";
    document.cookie = `rc_rid=${encodeURIComponent(this.room.id)}${attributes}`;
    document.cookie = `rc_token=${encodeURIComponent(this.token)}${attributes}`;
  }

  private listen(): void {
    this.feed = this.connection.apollo
      .subscribe({
        query: RoomEvents,
        variables: { token: this.token, rid: this.room.id },
        fetchPolicy: "no-cache",
      })
      .subscribe({
        next: ({ data }) => {
          if (data) this.onEvent(data.livechatRoomEvents);
        },
        error: (error: unknown) => {
          this.feedFailed(error instanceof Error ? error : new Error(String(error)));
        },
      });
  }

  private onEvent(event: RoomEvent): void {
    switch (event.__typename) {
      case "LivechatMessageEvent":
        this.store.upsert(event.message);
        this.handlers.onMessage?.(event.message);
        this.noticeClose([event.message]);
        break;
      case "LivechatMessageDeleted":
        this.store.remove(event.id);
        break;
      case "LivechatError":
        this.feedFailed(new LivechatFailure(event));
        break;
      default:
        // The agent, typing and queue events.
        this.handlers.onOtherEvent?.(event);
    }
  }

  /** The subscription was refused or ended in error: most often because the room closed
   * between the history read and the subscribe, and history now holds its close message. */
  private feedFailed(failure: Error): void {
    const report = () => {
      if (this.feed !== undefined) this.handlers.onFeedError?.(failure);
    };
    this.refresh().then(report, report);
  }

  /** The room's close message, from its event or from history (when the room was closed
   * before the subscription started, the subscription only answers an error). */
  private noticeClose(messages: readonly Message[]): void {
    if (this.feed !== undefined && messages.some((message) => message.t === "livechat-close")) {
      this.stop();
      this.handlers.onClosed?.();
    }
  }

  private async page(before: string | undefined) {
    const { data } = await this.connection.apollo.query({
      query: Messages,
      variables: { token: this.token, rid: this.room.id, limit: PAGE_SIZE, before: before ?? null },
    });
    return success(data.livechatMessages, "LivechatMessagesSuccess");
  }
}
