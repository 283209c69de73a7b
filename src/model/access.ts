// Who acts on the fleet and the records about API tokens and notifications: shared by the
// service, the store, the server and the backends, so they live at the bottom layer.

export type ApiRole = 'admin' | 'operator' | 'viewer';

/** How long `devices release` keeps a device open to re-enrollment, by default and at most. */
export const DEFAULT_RELEASE_SECONDS = 86_400;
export const MAX_RELEASE_SECONDS = 30 * 86_400;

/** Who is acting, recorded in the audit log. */
export interface Actor {
  /** `local:<os user>`, a token name, or `device:<id>`. */
  name: string;
  /** `local`, or the client address. */
  source: string;
  role?: ApiRole;
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: ApiRole;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revoked: boolean;
}

/** An event waiting in the notification outbox (see docs/api.md, "Notification webhooks"). */
export interface OutboxEvent {
  seq: number;
  id: string;
  deviceId: string;
  /** The JSON body to deliver, exactly as posted. */
  body: string;
}

/** How one channel took one event, for the audit log. */
export interface NotifyDelivery {
  channel: string;
  ok: boolean;
  attempts: number;
  /** HTTP status of the last attempt, if a response came. */
  status?: number;
  error?: string;
}
