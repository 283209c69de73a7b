// The Backend interface: the seam between admin commands and where the fleet lives.
// Every admin command uses only this; every driver (embedded SQLite, HTTP client for
// `emmctl server`, later real EMM APIs) implements it and passes test/contract/.
import type {
  AuditRecord,
  CommandStatus,
  CommandType,
  Device,
  DeviceCommand,
  DeviceCompliance,
  EnrollmentToken,
  Page,
  StoredResource,
} from '../model/fleet.js';
import type { Ownership, Platform, ResourceDocument, ResourceKind } from '../model/policy.generated.js';
import type { ApiRole, ApiTokenInfo } from '../store/api.js';

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
}

/** Which store a backend is: a saved plan applies only to the one it was made for. */
export interface BackendIdentity {
  kind: string;
  /** Absolute data dir, or the server URL. */
  location: string;
  /** Random id created with the store (meta table), the same however the store is reached. */
  storeId: string;
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
}

export interface CreatedEnrollmentToken {
  token: EnrollmentToken;
  /** The secret the device presents. Shown once; stored only as a hash. */
  secret: string;
}

export interface Backend {
  /** `embedded` or `http`; shown in messages. */
  readonly kind: string;
  /** Where it points: a data dir or a URL. */
  readonly location: string;
  /** Something the user should know before reading from it (e.g. a store that does not exist yet), shown as a warning. */
  readonly notice?: string;

  identity(): Promise<BackendIdentity>;
  /** The store's seal over a saved plan's digest (a keyed hash only the store can make). */
  sealPlan(digest: string): Promise<string>;
  listResources(kind?: ResourceKind): Promise<StoredResource[]>;
  /** Applies every change or none. A version mismatch throws BackendError('conflict'). */
  applyChanges(changes: ResourceChange[], opts?: ApplyOptions): Promise<AppliedChange[]>;

  createEnrollmentToken(input: { profile: string; expiresInSeconds?: number; maxUses?: number }): Promise<CreatedEnrollmentToken>;
  listEnrollmentTokens(): Promise<EnrollmentToken[]>;
  revokeEnrollmentToken(id: string): Promise<EnrollmentToken>;
  preregisterDevices(rows: PreregisteredDevice[]): Promise<{ created: number; updated: number }>;

  listDevices(query: DeviceQuery): Promise<Page<Device>>;
  /** Throws BackendError('not_found'). */
  getDevice(id: string): Promise<DeviceDetail>;
  listCompliance(query: ComplianceQuery): Promise<Page<DeviceCompliance>>;
  /**
   * Opens an enrolled device to re-enrollment for a while (default 24h): the next enrollment with
   * its serial takes the record over. Throws 'conflict' for a device that is not enrolled.
   */
  releaseDevice(id: string, opts?: { expiresInSeconds?: number }): Promise<Device>;

  enqueueCommands(request: EnqueueRequest): Promise<EnqueueResult>;
  listCommands(query: CommandQuery): Promise<Page<DeviceCommand>>;
  getCommand(id: string): Promise<DeviceCommand>;
  cancelCommand(id: string): Promise<DeviceCommand>;

  listAudit(query: AuditQuery): Promise<Page<AuditRecord>>;

  /** How many notification channels deliver `notify` steps (0 when none; the embedded store never notifies). */
  notifyChannels?(): Promise<number>;

  close(): Promise<void>;
}

/**
 * API tokens of an emmctl store (server tokens), for drivers that have them: the embedded store
 * directly, `emmctl server` through its admin routes. Other backends have their own credentials.
 */
export interface ApiTokenAdmin {
  /** The secret comes back once; only its hash is stored. */
  createApiToken(input: { name: string; role: ApiRole; expiresInSeconds?: number }): Promise<{ token: ApiTokenInfo; secret: string }>;
  listApiTokens(): Promise<ApiTokenInfo[]>;
  revokeApiToken(id: string): Promise<ApiTokenInfo>;
}

export function hasApiTokens(backend: Backend): backend is Backend & ApiTokenAdmin {
  const b = backend as Partial<ApiTokenAdmin>;
  return typeof b.createApiToken === 'function' && typeof b.listApiTokens === 'function' && typeof b.revokeApiToken === 'function';
}

/** Walks every page of a paged listing, one page in memory at a time. */
export async function* allPages<T, Q extends { cursor?: string }>(
  list: (query: Q) => Promise<Page<T>>,
  query: Q,
): AsyncGenerator<T> {
  let cursor = query.cursor;
  do {
    const page = await list({ ...query, cursor });
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor);
}
