/**
 * The widget: a visitor token (session.ts), registration, then the chat in a room of theirs,
 * all through the GraphQL API at the page's own `/graphql` (client.ts).
 *
 * The steps follow Rocket.Chat's widget. Its first step, reading the livechat config (online or
 * offline, registration form or not, custom fields), belongs to the config area's
 * `livechatConfig`: it will run at the top of `start()` and choose between the offline form,
 * the registration form and the chat. Until then registration is always asked, once per token.
 */

import { connect } from "./client.js";
import { OpenRoom, RegisterVisitor } from "./documents.js";
import { LivechatFailure, success } from "./errors.js";
import { RoomSession } from "./room.js";
import { type Registration, type Session, loadSession, saveSession } from "./session.js";
import { ChatView } from "./views/chat.js";
import { closedView } from "./views/closed.js";
import { registrationView } from "./views/registration.js";

const root = document.querySelector<HTMLElement>("[data-widget]") ?? document.body;
const connection = connect(new URL("../graphql", location.href));
const session: Session = loadSession();

function show(view: HTMLElement): void {
  root.replaceChildren(view);
}

async function register(registration: Registration): Promise<void> {
  const { data } = await connection.apollo.mutate({
    mutation: RegisterVisitor,
    variables: { input: { token: session.token, ...registration } },
  });
  const { visitor } = success(data?.registerLivechatVisitor, "RegisterLivechatVisitorSuccess");
  session.registration = registration;
  session.visitorId = visitor.id;
  saveSession(session);
  await openChat();
}

/** The stored room when it is still open, else a new one. */
async function openChat(): Promise<void> {
  const open = async (rid: string | undefined) => {
    const { data } = await connection.apollo.mutate({
      mutation: OpenRoom,
      variables: { input: { token: session.token, rid: rid ?? null } },
    });
    return success(data?.openLivechatRoom, "OpenLivechatRoomSuccess").room;
  };
  let room;
  try {
    room = await open(session.rid);
  } catch (error) {
    if (!(error instanceof LivechatFailure) || session.rid === undefined) throw error;
    room = await open(undefined); // the stored room was closed or is gone
  }
  if (!room.open) room = await open(undefined);
  session.rid = room.id;
  session.visitorId = room.visitorId;
  saveSession(session);

  let ended = false;
  const closed = () => {
    if (ended) return; // the close's answer and its event both say so
    ended = true;
    session.rid = undefined;
    saveSession(session);
    show(closedView(() => void openChat().catch(fail)));
  };
  const roomSession = new RoomSession(connection, session.token, room, {
    onFeedError: (error) => chat.showError(error),
    onClosed: closed,
  });
  const chat = new ChatView(roomSession, room.visitorId, { closed });
  show(chat.element);
  await roomSession.start();
  chat.settle();
}

function fail(error: unknown): void {
  const alert = document.createElement("p");
  alert.setAttribute("role", "alert");
  alert.className = "error";
  alert.textContent = error instanceof Error ? error.message : String(error);
  root.append(alert);
}

async function start(): Promise<void> {
  if (session.registration === undefined) show(registrationView(register));
  else await openChat();
}

start().catch(fail);
