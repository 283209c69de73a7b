// What the store offers beyond the Backend interface: the device agent side and API tokens.
// The embedded driver (src/backends/embedded) adapts the admin side to Backend; the server
// (src/server) serves both sides over HTTP. Implemented by FleetStore (src/store/fleet-store.ts).
import type { CheckInRequest, CheckInResponse, CommandResultReport, EnrollRequest, EnrollResponse } from '../agent/protocol.js';

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

export interface AgentApi {
  /** Throws BackendError('unauthorized') for an unknown, expired, revoked or used-up token; 'invalid' for a platform the profile does not allow. */
  enrollDevice(request: EnrollRequest, source: string): EnrollResponse;
  /** The device id for a credential, or undefined (unknown, or revoked after wipe). */
  authenticateDevice(credential: string): string | undefined;
  checkIn(deviceId: string, request: CheckInRequest): CheckInResponse;
  /** `source` is the device's address, recorded in the audit log (default `agent`). */
  reportCommandResult(deviceId: string, commandId: string, report: CommandResultReport, source?: string): void;
}

export interface ApiTokenApi {
  /** Returns the secret once; only its hash is stored. */
  createApiToken(input: { name: string; role: ApiRole; expiresInSeconds?: number }, actor: Actor): { token: ApiTokenInfo; secret: string };
  authenticateApiToken(secret: string): ApiTokenInfo | undefined;
  listApiTokens(): ApiTokenInfo[];
  revokeApiToken(id: string, actor: Actor): ApiTokenInfo;
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
