// @concord/core/protocol: the wire formats shared by the relay and the client.
// Named exports only; wire.ts (the byte reader and writer) stays internal.
export { type CodecOptions, DEFAULT_MAX_FRAME_BYTES } from './wire.js'
export {
  type CloseAction, type CloseCodeInfo, type CloseCodeName,
  CLOSE, CLOSE_CODES, closeCodeInfo, closeCodeForError,
} from './close-codes.js'
export { encodeEvent, decodeEvent } from './events.js'
export { type RejectAction, type RejectCodeInfo, type RejectCode, REJECT_CODES, rejectCodeInfo } from './reject-codes.js'
export {
  type Right, type Grant, type AuthInfo,
  type HelloMessage, type AuthMessage, type SubscribeMessage, type UnsubscribeMessage, type PushMessage, type PingMessage,
  type ClientMessage,
  type WelcomeMessage, type AuthorizedMessage, type SequencedEvent, type EventsMessage, type CaughtUpMessage,
  type AckMessage, type RejectMessage, type ValidatedMessage, type ErrorMessage, type PongMessage,
  type ServerMessage, type SequencedBody,
  PROTOCOL_VERSION, SUPPORTED_VERSIONS, MAX_SUBSCRIBE_ACTORS, RIGHTS, CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES,
  grantCovers, rightsFor,
  encodeClientMessage, decodeClientMessage, encodeServerMessage, decodeServerMessage, encodeEventsFrame, encodeEventBody, encodeEventsFrameOfBodies,
} from './native.js'
export {
  type YSyncStep1, type YSyncStep2, type YUpdate, type YAwareness, type YAuthPermissionDenied, type YQueryAwareness,
  type YMessage, type AwarenessEntry,
  Y_MESSAGE_TYPES, Y_SYNC_TYPES, Y_AUTH_TYPES,
  encodeYMessage, decodeYMessage, encodeAwarenessUpdate, decodeAwarenessUpdate, isAwarenessRemoval,
} from './ywebsocket.js'
