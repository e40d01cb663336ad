/**
 * The widget, in Rocket.Chat's widget's order: a visitor token (session.ts), the livechat config
 * for it (config.ts); then Livechat off → a notice; consent forced and not given → the consent;
 * nobody online → the offline form; the registration form when the config asks for one; else
 * the chat, in the visitor's open room or a new one. After the chat: the transcript request, the
 * survey, and (with forced consent) the removal of the visitor's data. All through the GraphQL
 * API at the page's own `/graphql` (client.ts).
 */

import { typingSender } from "./agent.js";
import { connect } from "./client.js";
import { type Config, loadConfig, loadVisitor, wantsRegistration } from "./config.js";
import {
  OpenRoom,
  RateRoom,
  RegisterVisitor,
  RemoveVisitor,
  RequestTranscript,
  SendOfflineMessage,
  SetCustomFields,
  TransferRoom,
} from "./documents.js";
import { LivechatFailure, success } from "./errors.js";
import { trackPresence } from "./presence.js";
import { RoomSession } from "./room.js";
import {
  type Registration,
  type Session,
  consented,
  forgetSession,
  giveConsent,
  loadSession,
  saveSession,
} from "./session.js";
import { applyTheme } from "./theme.js";
import { ChatView } from "./views/chat.js";
import { closedView } from "./views/closed.js";
import { consentView, removeDataButton } from "./views/consent.js";
import { departmentSwitch } from "./views/department.js";
import { h } from "./views/dom.js";
import { type OfflineMessage, offlineView } from "./views/offline.js";
import { registrationView } from "./views/registration.js";
import { type SurveyAnswer, surveyView } from "./views/survey.js";
import { transcriptView } from "./views/transcript.js";

const root = document.querySelector<HTMLElement>("[data-widget]") ?? document.body;
const connection = connect(new URL("../graphql", location.href));
const session: Session = loadSession();
let config: Config;
let visitorEmail: string | undefined;

/** `view` under the theme's title: the chat's own header carries it, other views get a bar. */
function show(view: HTMLElement): void {
  const title = applyTheme(root, config);
  const heading = view.matches("[data-view=chat]") ? view.querySelector("header h2") : null;
  if (heading === null) {
    root.replaceChildren(h("header", { class: "title", "data-title": true }, title), view);
  } else {
    heading.textContent = title;
    heading.setAttribute("data-title", "");
    root.replaceChildren(view);
  }
}

async function register(registration: Registration): Promise<void> {
  const { customFields = [], ...visitor } = registration;
  const { data } = await connection.apollo.mutate({
    mutation: RegisterVisitor,
    variables: { input: { token: session.token, ...visitor } },
  });
  const registered = success(data?.registerLivechatVisitor, "RegisterLivechatVisitorSuccess");
  if (customFields.length > 0) {
    // As Rocket.Chat's widget: the fields once the visitor exists.
    const { data: set } = await connection.apollo.mutate({
      mutation: SetCustomFields,
      variables: {
        input: {
          token: session.token,
          fields: customFields.map((f) => ({ ...f, overwrite: true })),
        },
      },
    });
    success(set?.setLivechatCustomFields, "SetLivechatCustomFieldsSuccess");
  }
  session.registration = registration;
  session.visitorId = registered.visitor.id;
  visitorEmail = registered.visitor.email ?? undefined;
  saveSession(session);
  await openChat();
}

async function sendOffline(message: OfflineMessage): Promise<void> {
  const { data } = await connection.apollo.mutate({
    mutation: SendOfflineMessage,
    variables: {
      input: { ...message, department: message.department ?? null, host: location.origin },
    },
  });
  success(data?.sendLivechatOfflineMessage, "SendLivechatOfflineMessageSuccess");
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
  const stopPresence = trackPresence(connection, session.token);
  const closed = () => {
    if (ended) return; // the close's answer and its event both say so
    ended = true;
    stopPresence();
    session.rid = undefined;
    saveSession(session);
    show(afterChat(room.id));
  };
  const roomSession = new RoomSession(connection, session.token, room, {
    onFeedError: (error) => chat.showError(error),
    onClosed: closed,
    onOtherEvent: (event) => chat.agents.handle(event),
    onMessage: (message) => {
      if (message.u.username) chat.agents.messageFrom(message.u.username);
    },
  });
  const typing = typingSender(connection, session.token, room.id);
  const uploads = config.settings?.fileUpload === true;
  const chat = new ChatView(roomSession, room.visitorId, { closed }, typing, uploads);
  const rid = room.id;
  const switcher = departmentSwitch(
    config,
    async (department) => {
      const { data } = await connection.apollo.mutate({
        mutation: TransferRoom,
        variables: { input: { token: session.token, rid, department } },
      });
      success(data?.transferLivechatRoom, "TransferLivechatRoomSuccess");
      config = await loadConfig(connection, session.token); // as Rocket.Chat's widget
    },
    (error) => chat.showError(error),
  );
  if (switcher !== undefined) chat.addTool(switcher);
  show(chat.element);
  const known = config.room?.id === room.id ? config.agent : undefined;
  chat.agents
    .load(connection, session.token, room.id, known)
    .catch((error: unknown) => chat.showError(error));
  await roomSession.start();
  chat.settle();
}

/** The closed view of room `rid`: transcript (when on), survey, a new chat. */
function afterChat(rid: string): HTMLElement {
  const token = session.token;
  const transcript =
    config.settings?.transcript === true
      ? transcriptView(config.messages?.transcriptMessage ?? "", visitorEmail, async (email) => {
          const { data } = await connection.apollo.mutate({
            mutation: RequestTranscript,
            variables: { input: { token, rid, email } },
          });
          return success(data?.requestLivechatTranscript, "RequestLivechatTranscriptSuccess")
            .message;
        })
      : undefined;
  const survey =
    config.survey && config.survey.items.length > 0
      ? surveyView(config.survey, async (answers: SurveyAnswer[]) => {
          const { data } = await connection.apollo.mutate({
            mutation: RateRoom,
            variables: { input: { token, rid, answers } },
          });
          success(data?.rateLivechatRoom, "RateLivechatRoomSuccess");
        })
      : undefined;
  const removeData =
    config.settings?.forceAcceptDataProcessingConsent === true
      ? removeDataButton(async () => {
          const { data } = await connection.apollo.mutate({
            mutation: RemoveVisitor,
            variables: { input: { token } },
          });
          success(data?.removeLivechatVisitor, "RemoveLivechatVisitorSuccess");
          forgetSession(); // a new visitor from here on, as after Rocket.Chat's store reset
          location.reload();
        })
      : undefined;
  return closedView(
    {
      message: config.messages?.conversationFinishedMessage ?? undefined,
      transcript,
      survey,
      removeData,
    },
    () => void start().catch(fail), // the config again: who is online may have changed
  );
}

function fail(error: unknown): void {
  const alert = document.createElement("p");
  alert.setAttribute("role", "alert");
  alert.className = "error";
  alert.textContent = error instanceof Error ? error.message : String(error);
  root.append(alert);
}

async function start(): Promise<void> {
  config = await loadConfig(connection, session.token);
  if (!config.enabled) {
    show(
      h(
        "section",
        { class: "notice", "data-view": "disabled" },
        h("p", {}, "Livechat is not available."),
      ),
    );
    return;
  }
  // The server's word on who this is and which room is open, over what localStorage kept.
  const visitor =
    config.visitor ??
    (session.registration ? await loadVisitor(connection, session.token) : undefined);
  if (visitor === undefined || visitor === null) session.registration = undefined;
  else {
    session.visitorId = visitor.id;
    visitorEmail = visitor.email ?? undefined;
    session.registration ??= { name: visitor.name ?? undefined, email: visitorEmail };
  }
  session.rid = config.room?.open === true ? config.room.id : undefined;
  saveSession(session);

  if (config.settings?.forceAcceptDataProcessingConsent === true && !consented()) {
    show(
      consentView(config, () => {
        giveConsent();
        void start().catch(fail);
      }),
    );
  } else if (!config.online) show(offlineView(config, sendOffline));
  else if (session.registration !== undefined) await openChat();
  else if (wantsRegistration(config)) show(registrationView(config, register));
  else await register({}); // no form asked: the visitor is their token alone
}

start().catch(fail);
