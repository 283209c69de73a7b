// The device agent protocol: what a device sends and receives over /v1/agent/*.
// Shared by the store (which answers), the server (which carries it over HTTP) and the
// fleet simulator (which speaks it as real devices would).
import type { CommandType, Posture } from './fleet.js';
import type { Ownership, Platform } from './policy.generated.js';

export interface EnrollRequest {
  /** The enrollment token secret. */
  token: string;
  platform: Platform;
  serial: string;
  name?: string;
  model?: string;
  owner?: string;
  /** Defaults to the profile's ownership. */
  ownership?: Ownership;
  osVersion: string;
}

export interface EnrollResponse {
  deviceId: string;
  /** Per-device credential for every later agent call (Authorization: Device <credential>). Shown once. */
  credential: string;
  checkInIntervalSeconds: number;
}

export interface CheckInRequest {
  posture: Posture;
}

export interface PendingCommand {
  id: string;
  type: CommandType;
  reason?: string;
  createdAt: string;
}

export interface CheckInResponse {
  deviceId: string;
  configuration: { version: string; settings: Record<string, unknown> };
  /** Commands now marked sent; the device reports each result. */
  commands: PendingCommand[];
  checkInIntervalSeconds: number;
}

export interface CommandResultReport {
  status: 'acknowledged' | 'failed';
  detail?: string;
}
