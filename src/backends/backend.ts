// The Backend interface: the seam between admin commands and where the fleet lives.
// Every admin command uses only this; every driver (embedded SQLite, HTTP client for
// `emmctl server`, later real EMM APIs) implements it and passes test/contract/.
// The request and answer types live in src/model/requests.ts; re-exported for the drivers.
import type { AuditRecord, Device, DeviceCommand, DeviceCompliance, EnrollmentToken, Page, StoredResource } from '../model/fleet.js';
import type { ResourceDocument, ResourceKind } from '../model/policy.generated.js';
import type { ApiRole, ApiTokenInfo } from '../model/access.js';
import type {
  AppliedChange,
  ApplyOptions,
  AuditQuery,
  CommandQuery,
  ComplianceQuery,
  CreatedEnrollmentToken,
  DeviceDetail,
  DeviceQuery,
  EnqueueRequest,
  EnqueueResult,
  PreregisteredDevice,
  ResourceChange,
} from '../model/requests.js';

export type {
  AppliedChange,
  ApplyOptions,
  AuditQuery,
  CommandQuery,
  ComplianceQuery,
  CreatedEnrollmentToken,
  DeviceDetail,
  DeviceFilter,
  DeviceQuery,
  EffectiveConfiguration,
  EnqueueRequest,
  EnqueueResult,
  PreregisteredDevice,
  ResourceChange,
} from '../model/requests.js';

/** Which store a backend is: a saved plan applies only to the one it was made for. */
export interface BackendIdentity {
  kind: string;
  /** Absolute data dir, or the server URL. */
  location: string;
  /** Random id created with the store (meta table), the same however the store is reached. */
  storeId: string;
}

export interface Backend {
  /** `embedded` or `http`; shown in messages. */
  readonly kind: string;
  /** Where it points: a data dir or a URL. */
  readonly location: string;
  /** Something the user should know before reading from it (e.g. a store that does not exist yet), shown as a warning. */
  readonly notice?: string;
  /** How queued commands reach devices, said after queueing (default: at the device's next check-in). */
  readonly commandDelivery?: string;

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

  /**
   * What the backend cannot carry of these documents (fields it has no place for, rules it
   * cannot express), said at plan time; drivers that hold every field have none.
   */
  planWarnings?(documents: readonly ResourceDocument[]): Promise<string[]>;

  /**
   * For backends that hold objects emmctl did not make (`export --adopt`): what could be taken
   * over as documents and what not (why); with `apply`, takes them over (marks them as emmctl's).
   */
  adopt?(opts: { apply: boolean }): Promise<{ adopted: Array<{ kind: ResourceKind; name: string; from: string }>; skipped: Array<{ what: string; why: string }> }>;

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

/**
 * Walks every page of a paged listing, one page in memory at a time. `prefetch`: ask for the next
 * page while the caller works through this one (two pages in memory at most), so the server and
 * the printing overlap; only for a caller that reads every page (else a page would be fetched for
 * nothing).
 */
export async function* allPages<T, Q extends { cursor?: string }>(
  list: (query: Q) => Promise<Page<T>>,
  query: Q,
  opts: { prefetch?: boolean } = {},
): AsyncGenerator<T> {
  let page = await list({ ...query, cursor: query.cursor });
  for (;;) {
    const cursor = page.nextCursor;
    if (!cursor) {
      yield* page.items;
      return;
    }
    if (!opts.prefetch) {
      yield* page.items;
      page = await list({ ...query, cursor });
      continue;
    }
    const next = list({ ...query, cursor });
    // A caller that stops early (an error while printing) leaves it unread: not an unhandled rejection.
    next.catch(() => {});
    yield* page.items;
    page = await next;
  }
}
