/**
 * The agent's side of the chat, as Rocket.Chat's widget shows it: the agent's card (from the
 * config or `livechatAgent` on load, then `LivechatAgentChanged` / `LivechatAgentStatusChanged`),
 * "… is typing" (`LivechatTyping`), the queue position (`LivechatQueuePosition`); and the
 * visitor's own typing, sent with `setLivechatTyping` throttled as Rocket.Chat's widget does
 * (at most every 4.5 s while keys are pressed, stopped after 5 s without one and on send).
 */

import type { Connection } from "./client.js";
import { LivechatAgent, type RoomEvent, SetTyping } from "./documents.js";
import { TypingSender } from "./typing.js";
import { h } from "./views/dom.js";

/** What the card shows of an agent (the config's, `livechatAgent`'s or an event's). */
interface AgentFields {
  readonly username: string;
  readonly name?: string | null;
  readonly status?: string | null;
}

export class AgentPanel {
  private agent: AgentFields | undefined;
  private readonly typers = new Set<string>();

  constructor(
    private readonly card: HTMLElement,
    private readonly typing: HTMLElement,
    private readonly queue: HTMLElement,
  ) {
    this.render();
  }

  /** The room's agent on load: the config's when it has one, else `livechatAgent`. */
  async load(connection: Connection, token: string, rid: string, known?: AgentFields | null) {
    if (known) {
      this.show(known);
      return;
    }
    const { data } = await connection.apollo.query({
      query: LivechatAgent,
      variables: { token, rid },
      fetchPolicy: "no-cache",
    });
    const answer = data.livechatAgent;
    // No agent yet (queued, or none routed) answers an error: the card stays empty.
    if (answer.__typename === "LivechatAgentSuccess" && !answer.hidden && answer.agent) {
      this.show(answer.agent);
    }
  }

  /** A room event of the agent's kind; false when the event is someone else's. */
  handle(event: RoomEvent): boolean {
    switch (event.__typename) {
      case "LivechatAgentChanged":
        this.show(event.hidden ? undefined : (event.agent ?? undefined));
        return true;
      case "LivechatAgentStatusChanged":
        if (this.agent) this.show({ ...this.agent, status: event.status });
        return true;
      case "LivechatTyping":
        if (event.typing) this.typers.add(event.username);
        else this.typers.delete(event.username);
        this.renderTyping();
        return true;
      case "LivechatQueuePosition":
        this.queue.hidden = false;
        this.queue.textContent =
          `You are number ${event.position} in the queue` +
          (event.estimatedWaitTimeSeconds
            ? `, about ${Math.ceil(event.estimatedWaitTimeSeconds / 60)} min`
            : "") +
          ".";
        return true;
      default:
        return false;
    }
  }

  /** A message from someone arrived: they are no longer typing (as Rocket.Chat's widget). */
  messageFrom(username: string): void {
    if (this.typers.delete(username)) this.renderTyping();
  }

  private show(agent: AgentFields | undefined): void {
    this.agent = agent;
    if (agent) this.queue.hidden = true; // taken: the queue is over
    this.render();
  }

  private render(): void {
    const agent = this.agent;
    this.card.replaceChildren();
    this.card.hidden = agent === undefined;
    if (!agent) return;
    this.card.dataset.username = agent.username;
    this.card.dataset.status = agent.status ?? "";
    this.card.append(
      h("span", { class: `status ${agent.status ?? "offline"}`, title: agent.status ?? "" }),
      h("span", { class: "name" }, agent.name ?? agent.username),
    );
  }

  private renderTyping(): void {
    const usernames = [...this.typers];
    this.typing.dataset.username = usernames.join(",");
    // The card's name for its agent, as Rocket.Chat's widget shows it; else the username.
    const agent = this.agent;
    const names = usernames.map((username) =>
      agent?.username === username ? (agent.name ?? username) : username,
    );
    this.typing.textContent =
      names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
  }
}

/** The visitor's typing in room `rid`, sent with `setLivechatTyping`. */
export function typingSender(connection: Connection, token: string, rid: string): TypingSender {
  return new TypingSender((typing) =>
    connection.apollo.mutate({ mutation: SetTyping, variables: { input: { token, rid, typing } } }),
  );
}
