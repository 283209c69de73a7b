// The requests and answers of the fleet's admin operations, shared by the service (which
// answers them), the Backend interface (which carries them to a driver) and the server.
import type { CommandStatus, CommandType, Device, DeviceCommand, DeviceCompliance, EnrollmentToken } from './fleet.js';
import type { Ownership, Platform, ResourceDocument, ResourceKind } from './policy.generated.js';

/**
 * A create or update sends the document as written (`${env:NAME}` references in place) and, in
 * `secrets`, the resolved value for each reference by its dotted path. The backend keeps both and
 * only ever gives the values to devices (src/model/secrets.ts).
 */
export type ResourceChange =
  | { op: 'create'; kind: ResourceKind; name: string; document: ResourceDocument; secrets?: Record<string, string> }
  | { op: 'update'; kind: ResourceKind; name: string; document: ResourceDocument; expectedVersion: number; secrets?: Record<string, string> }
  | { op: 'delete'; kind: ResourceKind; name: string; expectedVersion: number };

export interface ApplyOptions {
  prune?: boolean;
  /** Same key + same change set → the first result, never a second apply (the HTTP driver sends one per logical apply). */
  idempotencyKey?: string;
  /** One line per change as it starts, for drivers that apply change by change (progress on a terminal). */
  onProgress?: (line: string) => void;
}

export interface AppliedChange {
  op: ResourceChange['op'];
  kind: ResourceKind;
  name: string;
  /** Version after the change; null for deletions. */
  version: number | null;
}

/**
 * A device filter as typed on the command line: `platform=android`, `os<14`, `label.team=sales`,
 * `compliance!=compliant`, `group=corp-android`, `owner=*@example.com`, `state=enrolled`.
 * Parsed by parseDeviceFilter (src/model/filter.ts).
 */
export interface DeviceFilter {
  field: string;
  op: '=' | '!=' | '<' | '<=' | '>' | '>=';
  value: string;
}

export interface DeviceQuery {
  filters?: DeviceFilter[];
  /** Field to sort by (name, platform, owner, osVersion, lastCheckIn, enrolledAt, state, id); `-` prefix for descending. Compliance status is not a sort key: it is evaluated, not stored. */
  sort?: string;
  /** Page size (the driver may cap it). */
  limit?: number;
  cursor?: string;
}

export interface ComplianceQuery extends DeviceQuery {
  /** What-if: evaluate at this instant instead of now (ISO-8601 with zone, or `+3d` from the backend's now); read-only. */
  at?: string;
}

export interface CommandQuery {
  deviceId?: string;
  status?: CommandStatus;
  type?: CommandType;
  limit?: number;
  cursor?: string;
}

export interface AuditQuery {
  /** ISO-8601 instant; records at or after it. */
  since?: string;
  actor?: string;
  limit?: number;
  cursor?: string;
  /** 'asc' (default): oldest first, like a log. 'desc': newest first, for "the last N". */
  order?: 'asc' | 'desc';
}

export interface EnqueueRequest {
  deviceIds: string[];
  type: CommandType;
  reason?: string;
  /** Same key + same request → same result, never a second queueing. */
  idempotencyKey: string;
}

export interface EnqueueResult {
  results: Array<{
    deviceId: string;
    /** queued: a new command; pending: the same command type was already pending (not queued again); skipped: the device cannot take it (wiped, not enrolled). */
    outcome: 'queued' | 'pending' | 'skipped';
    command?: DeviceCommand;
    message?: string;
  }>;
}

export interface EffectiveConfiguration {
  /** Hash of the merged settings; the agent reports it back as applied. */
  version: string;
  settings: Record<string, unknown>;
  /** Which policy each top-level setting came from. */
  sources: Record<string, string>;
}

export interface DeviceDetail extends Device {
  groups: string[];
  compliance: DeviceCompliance;
  effectiveConfiguration: EffectiveConfiguration;
  commands: DeviceCommand[];
}

export interface PreregisteredDevice {
  serial: string;
  platform: Platform;
  ownership?: Ownership;
  owner?: string;
  name?: string;
  labels?: Record<string, string>;
  /** Windows Autopilot hardware hash (base64): only the intune backend uses it (Autopilot pre-registration). */
  hardwareHash?: string;
}

export interface CreatedEnrollmentToken {
  token: EnrollmentToken;
  /** The secret the device presents. Shown once; stored only as a hash. */
  secret: string;
  /** What a device scans or opens to enroll, when the backend has its own form (Intune's Android QR payload). */
  enrollmentUrl?: string;
  /**
   * On a server with the Android channel, for a profile that takes Android devices: Google's
   * enrollment token. `qrCode` is the provisioning payload (it holds the token value: shown once,
   * never stored by emmctl), `tokenName` enterprises/E/enrollmentTokens/T.
   */
  android?: { qrCode: string; tokenName: string; expiresAt: string };
}
