/**
 * The shipped operations (queries/*.graphql), each typed by what GraphQL Code Generator made of
 * the same file (`npm run codegen`): a document and its types cannot drift apart, since both are
 * read from queries/ at build time.
 */

import { gql, type TypedDocumentNode } from "@apollo/client/core";

import closeRoom from "../../queries/closeLivechatRoom.graphql";
import deleteMessage from "../../queries/deleteLivechatMessage.graphql";
import livechatAgent from "../../queries/livechatAgent.graphql";
import livechatConfig from "../../queries/livechatConfig.graphql";
import livechatVisitor from "../../queries/livechatVisitor.graphql";
import messages from "../../queries/livechatMessages.graphql";
import openRoom from "../../queries/openLivechatRoom.graphql";
import rateRoom from "../../queries/rateLivechatRoom.graphql";
import registerVisitor from "../../queries/registerLivechatVisitor.graphql";
import removeVisitor from "../../queries/removeLivechatVisitor.graphql";
import requestTranscript from "../../queries/requestLivechatTranscript.graphql";
import roomEvents from "../../queries/livechatRoomEvents.graphql";
import sendMessage from "../../queries/sendLivechatMessage.graphql";
import sendOfflineMessage from "../../queries/sendLivechatOfflineMessage.graphql";
import setCustomFields from "../../queries/setLivechatCustomFields.graphql";
import setTyping from "../../queries/setLivechatTyping.graphql";
import setVisitorStatus from "../../queries/setLivechatVisitorStatus.graphql";
import transferRoom from "../../queries/transferLivechatRoom.graphql";
import uploadFile from "../../queries/uploadLivechatFile.graphql";
import updateMessage from "../../queries/updateLivechatMessage.graphql";
import type * as Op from "./generated/operations.js";

function typed<Result, Variables>(text: string): TypedDocumentNode<Result, Variables> {
  return gql(text) as TypedDocumentNode<Result, Variables>;
}

export const RegisterVisitor = typed<
  Op.RegisterLivechatVisitorMutation,
  Op.RegisterLivechatVisitorMutationVariables
>(registerVisitor);
export const OpenRoom = typed<Op.OpenLivechatRoomMutation, Op.OpenLivechatRoomMutationVariables>(
  openRoom,
);
export const Messages = typed<Op.LivechatMessagesQuery, Op.LivechatMessagesQueryVariables>(
  messages,
);
export const SendMessage = typed<
  Op.SendLivechatMessageMutation,
  Op.SendLivechatMessageMutationVariables
>(sendMessage);
export const UpdateMessage = typed<
  Op.UpdateLivechatMessageMutation,
  Op.UpdateLivechatMessageMutationVariables
>(updateMessage);
export const DeleteMessage = typed<
  Op.DeleteLivechatMessageMutation,
  Op.DeleteLivechatMessageMutationVariables
>(deleteMessage);
export const CloseRoom = typed<Op.CloseLivechatRoomMutation, Op.CloseLivechatRoomMutationVariables>(
  closeRoom,
);
export const RoomEvents = typed<
  Op.LivechatRoomEventsSubscription,
  Op.LivechatRoomEventsSubscriptionVariables
>(roomEvents);

export type Message = Op.MessageFieldsFragment;
export type Room = Extract<
  Op.OpenLivechatRoomMutation["openLivechatRoom"],
  { room: unknown }
>["room"];
export type Visitor = Extract<
  Op.RegisterLivechatVisitorMutation["registerLivechatVisitor"],
  { visitor: unknown }
>["visitor"];
export type RoomEvent = Op.LivechatRoomEventsSubscription["livechatRoomEvents"];
export type LivechatErrorFields = Op.LivechatErrorFieldsFragment;

export const LivechatConfig = typed<Op.LivechatConfigQuery, Op.LivechatConfigQueryVariables>(
  livechatConfig,
);
export const LivechatVisitor = typed<Op.LivechatVisitorQuery, Op.LivechatVisitorQueryVariables>(
  livechatVisitor,
);
export const SetCustomFields = typed<
  Op.SetLivechatCustomFieldsMutation,
  Op.SetLivechatCustomFieldsMutationVariables
>(setCustomFields);
export const SendOfflineMessage = typed<
  Op.SendLivechatOfflineMessageMutation,
  Op.SendLivechatOfflineMessageMutationVariables
>(sendOfflineMessage);
export const RequestTranscript = typed<
  Op.RequestLivechatTranscriptMutation,
  Op.RequestLivechatTranscriptMutationVariables
>(requestTranscript);
export const RateRoom = typed<Op.RateLivechatRoomMutation, Op.RateLivechatRoomMutationVariables>(
  rateRoom,
);

export type Config = Extract<
  Op.LivechatConfigQuery["livechatConfig"],
  { config: unknown }
>["config"];
export const SetVisitorStatus = typed<
  Op.SetLivechatVisitorStatusMutation,
  Op.SetLivechatVisitorStatusMutationVariables
>(setVisitorStatus);
export const TransferRoom = typed<
  Op.TransferLivechatRoomMutation,
  Op.TransferLivechatRoomMutationVariables
>(transferRoom);
export const RemoveVisitor = typed<
  Op.RemoveLivechatVisitorMutation,
  Op.RemoveLivechatVisitorMutationVariables
>(removeVisitor);

export const LivechatAgent = typed<Op.LivechatAgentQuery, Op.LivechatAgentQueryVariables>(
  livechatAgent,
);
export const SetTyping = typed<Op.SetLivechatTypingMutation, Op.SetLivechatTypingMutationVariables>(
  setTyping,
);
export type Agent = Extract<Op.LivechatAgentQuery["livechatAgent"], { agent: unknown }>["agent"];
export const UploadFile = typed<
  Op.UploadLivechatFileMutation,
  Op.UploadLivechatFileMutationVariables
>(uploadFile);
