// What the store offers beyond the Backend interface: the device agent side and API tokens.
// The record types live in src/model/access.ts; re-exported here for existing importers.
import type { CheckInRequest, CheckInResponse, CommandResultReport, EnrollRequest, EnrollResponse } from '../model/protocol.js';
import type { Actor, ApiRole, ApiTokenInfo } from '../model/access.js';

export { DEFAULT_RELEASE_SECONDS, MAX_RELEASE_SECONDS } from '../model/access.js';
export type { Actor, ApiRole, ApiTokenInfo, NotifyDelivery, OutboxEvent } from '../model/access.js';

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

