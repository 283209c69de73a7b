// AMAPI's Pub/Sub notifications as Cloud Pub/Sub pushes them to an HTTPS endpoint:
//   {"message": {"data": <base64 JSON>, "attributes": {"notificationType": ...}, "messageId",
//    "publishTime"}, "subscription": "projects/P/subscriptions/S"}
// ENROLLMENT and STATUS_REPORT carry a Device (read with posture.ts readDevice), COMMAND an
// Operation (commands.ts commandOutcome). The push body comes from the network, so it is checked
// like any request body (400 naming the field). That the push really comes from Google is for the
// endpoint to prove (Pub/Sub's OIDC token on the request), not for this parser; it does check the
// subscription is the one configured, so a push meant for another subscription is refused.
import { BackendError } from '../../errors.js';

export const NOTIFICATION_TYPES = ['ENROLLMENT', 'STATUS_REPORT', 'COMMAND', 'USAGE_LOGS', 'ENTERPRISE_UPGRADE', 'TEST'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** Decoded `data` beyond this is refused: a device body is far smaller, and JSON.parse of a flood is not free. */
export const MAX_NOTIFICATION_DATA = 1024 * 1024;

export interface AmapiNotification {
  type: NotificationType;
  messageId: string;
  publishTime?: string;
  subscription: string;
  /** The parsed JSON payload (a Device, an Operation, ...); undefined for TEST and an empty data. */
  payload?: unknown;
}

/**
 * One push request body. `expectedSubscription` (projects/P/subscriptions/S) is the one emmctl
 * was configured with. Unknown notification types are refused (400) rather than guessed at, so
 * Pub/Sub redelivers them to a server that knows them.
 */
export function readPush(body: unknown, expectedSubscription: string): AmapiNotification {
  const b = object(body, 'body');
  const subscription = b.subscription;
  if (typeof subscription !== 'string' || !/^projects\/[^/]+\/subscriptions\/[^/]+$/.test(subscription) || subscription.length > 512) {
    throw invalid('body.subscription must be projects/{project}/subscriptions/{subscription}');
  }
  if (subscription !== expectedSubscription) throw new BackendError('forbidden', 'the push is for another Pub/Sub subscription than the one this server is configured with');
  const m = object(b.message, 'body.message');
  const messageId = m.messageId ?? m.message_id;
  if (typeof messageId !== 'string' || !/^[0-9A-Za-z_-]{1,128}$/.test(messageId)) throw invalid('body.message.messageId must be the message id (a string of at most 128 letters, digits, "_" or "-")');
  const attributes = m.attributes === undefined ? {} : object(m.attributes, 'body.message.attributes');
  const type = attributes.notificationType;
  if (typeof type !== 'string' || !(NOTIFICATION_TYPES as readonly string[]).includes(type)) {
    throw invalid(`body.message.attributes.notificationType must be one of ${NOTIFICATION_TYPES.join(', ')}`);
  }
  const out: AmapiNotification = { type: type as NotificationType, messageId, subscription };
  const publishTime = m.publishTime ?? m.publish_time;
  if (publishTime !== undefined) {
    if (typeof publishTime !== 'string' || publishTime.length > 64 || Number.isNaN(Date.parse(publishTime))) throw invalid('body.message.publishTime must be an RFC 3339 timestamp');
    out.publishTime = new Date(Date.parse(publishTime)).toISOString();
  }
  const data = m.data;
  if (data === undefined || data === '') return out;
  if (typeof data !== 'string' || data.length > Math.ceil(MAX_NOTIFICATION_DATA / 3) * 4 + 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 === 1) {
    throw invalid(`body.message.data must be base64 of at most ${MAX_NOTIFICATION_DATA} bytes`);
  }
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length > MAX_NOTIFICATION_DATA) throw invalid(`body.message.data must be base64 of at most ${MAX_NOTIFICATION_DATA} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid('body.message.data is not UTF-8 text');
  }
  if (type === 'TEST') return out;
  try {
    out.payload = JSON.parse(text);
  } catch {
    throw invalid(`body.message.data is not JSON (a ${type} notification carries a JSON resource)`);
  }
  return out;
}

function object(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(`${where} must be an object`);
  return v as Record<string, unknown>;
}

function invalid(message: string): BackendError {
  return new BackendError('invalid', message);
}
