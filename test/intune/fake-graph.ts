// A fake Microsoft Graph (v1.0 and beta) and Microsoft identity platform login endpoint on
// 127.0.0.1, for testing the intune backend without a tenant. It speaks the documented wire
// format — OData JSON with @odata.context/@odata.type/@odata.nextLink, JSON $batch, Graph's
// error body (with Intune's JSON-in-a-string message), 429 + Retry-After — and checks EVERY
// request body against Graph's published metadata (graph-schema.ts): a body real Graph would
// refuse is refused here with a 400 and recorded in `schemaProblems`, so a suite can assert that
// nothing it sent was invalid. Without ../shared/vendor-specs the fake still works, unchecked.
//
// Faults are injected through `faults` (throttling, 503/504, a new group that Intune cannot see
// yet, a failing Nth write, a lost response) and the per-app write limit of Intune's
// configuration APIs (100 writes per 20 s) is enforced. Time comes from `options.clock`, so a test
// can drive windows and delays without sleeping.
//
// Where it departs from real Graph is listed at the end of this file.
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, createPublicKey, randomBytes, randomUUID, verify as verifySignature, X509Certificate, constants as cryptoConstants } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../../src/agent/fleet.js';
import { checkActionBody, checkBody, hasAction, hasType, propertyNames, specsAvailable, SPECS_DIR, v1Model, type GraphVersion, type SchemaProblem } from './graph-schema.js';
import { parseRule, evaluateRule, RuleError, type RuleNode } from './membership-rule.js';
import { FilterError, matches, parseExpand, parseFilter, unsupported, type ExpandItem, type FilterNode, type FilterSupport } from './odata.js';
import { ENTRA_RULE_ONLY, seedDevice, type Posture, type SeedDeviceSpec } from './seed.js';

const V1_METADATA_FILE = join(SPECS_DIR, 'graph-v1.0-metadata.xml');

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
/** The id Intune uses for the virtual "all devices" group in assignment ids. */
export const ALL_DEVICES_GROUP_ID = 'adadadad-808e-44e2-905a-0b7873a8a531';
export const ALL_USERS_GROUP_ID = 'acacacac-9df4-4c7d-9d50-4ef0226f57a9';

/** Application permissions (app roles) the fake grants by default: all emmctl needs. */
export const ALL_PERMISSIONS = [
  'Group.ReadWrite.All',
  'GroupMember.ReadWrite.All',
  'Device.Read.All',
  'DeviceManagementConfiguration.ReadWrite.All',
  'DeviceManagementManagedDevices.ReadWrite.All',
  'DeviceManagementManagedDevices.PrivilegedOperations.All',
  'DeviceManagementServiceConfig.ReadWrite.All',
] as const;

export interface FakeGraphOptions {
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** Serve https with a throwaway self-signed certificate (MSAL accepts only https authorities); `caFile` names it for NODE_EXTRA_CA_CERTS. */
  tls?: boolean;
  /** Register a client certificate (made with openssl) for client_assertion logins: `clientCertificate`. */
  certificate?: boolean;
  /** Seeded managed devices: a count (mixed platforms, ownership and compliance) or explicit specs. */
  devices?: number | Array<Partial<SeedDeviceSpec>>;
  seed?: number;
  /** Page size of every collection (Graph pages server-side; $top lowers it). Default 100. */
  pageSize?: number;
  /** Intune's configuration write limit per app and tenant; false turns it off. Default 100 per 20 000 ms. */
  writeLimit?: { writes: number; windowMs: number } | false;
  /** Milliseconds since the epoch; every timestamp, token expiry, delay and window uses it. */
  clock?: () => number;
  /** Check bodies against the vendor specs; default: when they are present. */
  schemaChecks?: boolean;
  tokenLifetimeSeconds?: number;
  /** App roles granted to the client; default ALL_PERMISSIONS. */
  permissions?: readonly string[];
  /** Reads of a device after which a device action moves on (pending → done). Default 2. */
  actionReadsToDone?: number;
  /** Reads of an imported Autopilot identity after which its import completes. Default 1. */
  importReadsToDone?: number;
}

export interface LoggedRequest {
  at: number;
  method: string;
  /** Path after the version (`/deviceManagement/managedDevices`), or the login path. */
  path: string;
  /** Path with query, as sent. */
  url: string;
  version?: GraphVersion;
  host: 'graph' | 'login';
  inBatch: boolean;
  status: number;
  body?: unknown;
  clientRequestId?: string;
}

export interface SchemaProblemRecord {
  method: string;
  path: string;
  version: GraphVersion;
  type: string;
  problems: SchemaProblem[];
}

export interface FaultMatch {
  method?: string;
  /** A path (after the version) prefix, or a pattern tested against it. */
  path?: string | RegExp;
  /** Only requests inside a $batch (true), only outside (false); default both. */
  inBatch?: boolean;
}

export interface Fault {
  /** Requests this fault has hit so far. */
  readonly hits: number;
  clear(): void;
}

export interface FakeFaults {
  /** 429 + Retry-After: the next `count` matching requests, or a `fraction` of them (seeded), until cleared. */
  throttle(opts: { count?: number; fraction?: number; seed?: number; retryAfterSeconds?: number; match?: FaultMatch }): Fault;
  /** 503 or 504 for the next `count` matching requests. */
  unavailable(opts: { count: number; status?: 503 | 504; retryAfterSeconds?: number; match?: FaultMatch }): Fault;
  /**
   * The `nth` matching write from now (1 = the next one) fails with `status` (default 500).
   * `applied: true` makes it a lost response: the write happens, the client is told it failed
   * (504). `drop: true` closes the connection instead of answering (outside a $batch; inside one
   * the inner response is a 504), so the client cannot know what happened; with or without `applied`.
   */
  failWrite(opts: { nth?: number; status?: number; code?: string; message?: string; applied?: boolean; drop?: boolean; match?: FaultMatch }): Fault;
  /**
   * Groups created from now on stay invisible (404 on read, absent from lists, and refused as
   * assignment targets) for `requests` further requests to the fake, or for `ms` of the clock.
   */
  groupVisibility(opts: { requests?: number; ms?: number }): Fault;
  /** A device action ends in `state` instead of done (for the named device, or any). */
  failAction(opts: { action: string; deviceId?: string; state?: 'failed' | 'notSupported' }): Fault;
  clear(): void;
}

export interface FakeGraph {
  /** Graph root, without version: `${graphUrl}/v1.0/...`. */
  graphUrl: string;
  /** Login root: the authority is `${loginUrl}/${tenantId}`. */
  loginUrl: string;
  authority: string;
  tenantId: string;
  clientId: string;
  secret: string;
  /** The self-signed CA of the https servers (tls: true), for NODE_EXTRA_CA_CERTS. */
  caFile?: string;
  clientCertificate?: { pemFile: string; certFile: string; keyFile: string; thumbprint: string; thumbprintSha256: string };
  state: FakeTenant;
  requests: LoggedRequest[];
  schemaProblems: SchemaProblemRecord[];
  faults: FakeFaults;
  /** Whether bodies are being checked against the vendor specs. */
  schemaChecks: boolean;
  /** Tokens issued by the login endpoint so far. */
  tokensIssued: number;
  /** More seeded devices (enrolled now), continuing the seed's sequence; returns their managed records. */
  addDevices(specs: Array<Partial<SeedDeviceSpec>>): Array<Record<string, unknown>>;
  /** A valid access token (as if the client had logged in), for raw requests in tests. */
  issueToken(permissions?: readonly string[]): string;
  /** Every token issued so far is expired from now on. */
  expireTokens(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Tenant state.

export interface StoredGroup {
  record: Record<string, unknown>;
  members: Set<string>;
  rule?: RuleNode;
  /** Invisible to reads and assignments until this request count / clock time. */
  visibleAfterRequest?: number;
  visibleAt?: number;
}

export interface StoredPolicy {
  kind: 'configuration' | 'compliance';
  record: Record<string, unknown>;
  assignments: Array<Record<string, unknown>>;
  rules: Array<{ id: string; ruleName: string | null; scheduledActionConfigurations: Array<Record<string, unknown>> }>;
}

export interface StoredDevice {
  managed: Record<string, unknown>;
  entra: Record<string, unknown>;
  posture: Posture;
  /** Reads left before each pending action is done, by action name. */
  pendingActions: Map<string, number>;
  /** When each (compliance policy) non-compliance episode began. */
  noncompliantSince: Map<string, number>;
}

export class FakeTenant {
  groups = new Map<string, StoredGroup>();
  policies = new Map<string, StoredPolicy>();
  devices = new Map<string, StoredDevice>();
  /** Entra device object id → managed device id. */
  entraIndex = new Map<string, string>();
  autopilot = new Map<string, { record: Record<string, unknown>; readsLeft: number }>();
  enrollmentProfiles = new Map<string, Record<string, unknown>>();
  /** Every device action received: a test asserts no duplicates from it. */
  actionLog: Array<{ deviceId: string; action: string; at: number; body: unknown; accepted: boolean }> = [];

  /** How many times `action` (or any action) reached Intune for a device, accepted or refused (throttled requests never reach it). */
  actionCount(deviceId: string, action?: string): number {
    return this.actionLog.filter((a) => a.deviceId === deviceId && (action === undefined || a.action === action)).length;
  }

  /**
   * Changes what a device reports (its posture, e.g. after an OS update, or its record), as if it
   * had checked in: compliance is re-evaluated on the next read.
   */
  updateDevice(id: string, change: { posture?: Partial<Posture>; managed?: Record<string, unknown> }): void {
    const d = this.devices.get(id);
    if (!d) throw new Error(`fake-graph: no managed device ${id}`);
    const p = change.posture ?? {};
    Object.assign(d.posture, p);
    // The posture also shows in the records Intune and Entra report.
    if (p.osVersion !== undefined) {
      d.managed.osVersion = p.osVersion;
      d.entra.operatingSystemVersion = p.osVersion;
      d.entra.deviceOSVersion = p.osVersion;
    }
    if (p.isEncrypted !== undefined) d.managed.isEncrypted = p.isEncrypted;
    if (p.jailBroken !== undefined) {
      d.managed.jailBroken = p.jailBroken ? 'True' : 'False';
      d.entra.isRooted = p.jailBroken;
    }
    if (p.androidSecurityPatchLevel !== undefined) d.managed.androidSecurityPatchLevel = p.androidSecurityPatchLevel;
    Object.assign(d.managed, change.managed ?? {});
  }

  /** Managed device records (copies), for assertions. */
  managedDevices(): Array<Record<string, unknown>> {
    return [...this.devices.values()].map((d) => structuredClone(d.managed));
  }

  configurations(): Array<Record<string, unknown>> {
    return [...this.policies.values()].filter((p) => p.kind === 'configuration').map((p) => structuredClone(p.record));
  }

  compliancePolicies(): Array<Record<string, unknown>> {
    return [...this.policies.values()].filter((p) => p.kind === 'compliance').map((p) => structuredClone(p.record));
  }

  groupRecords(): Array<Record<string, unknown>> {
    return [...this.groups.values()].map((g) => structuredClone(g.record));
  }

  assignmentsOf(policyId: string): Array<Record<string, unknown>> {
    return structuredClone(this.policies.get(policyId)?.assignments ?? []);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors and responses.

interface Resp {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
  /** Close the connection without answering (a lost response); status 0 in the log. */
  drop?: boolean;
}

/** A write whose response is lost: applied or not, answered with a 504 or not at all. */
interface LostWrite {
  applied: boolean;
  drop: boolean;
}

class GraphFail extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly opts: { intune?: boolean; headers?: Record<string, string>; details?: Array<{ code: string; message: string; target: string }>; innerCode?: boolean } = {},
  ) {
    super(message);
  }
}

interface Ctx {
  method: string;
  version: GraphVersion;
  /** Path after the version, decoded segments. */
  segments: string[];
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  hasBody: boolean;
  inBatch: boolean;
  requestId: string;
  clientRequestId: string;
  roles: ReadonlySet<string>;
}

const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

function intuneMessage(detail: string, ctx: Ctx, clockMs: number): string {
  // Intune's services put their own error document, serialized, into Graph's error.message.
  const doc = {
    _version: 3,
    Message: `${detail} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: ${ctx.requestId} - Url: https://fef.msub05.manage.microsoft.com/StatelessDeviceConfigurationFEService${ctx.path}?api-version=2024-10-01 - CustomApiErrorPhrase: `,
    CustomApiErrorPhrase: '',
    RetryAfter: null,
    ErrorSourceService: '',
    HttpHeaders: '{}',
  };
  void clockMs;
  return JSON.stringify(doc, null, 2).replace(/\n/g, '\r\n');
}

function graphDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

// ---------------------------------------------------------------------------------------------

interface CollectionSpec {
  filter: FilterSupport;
}

const FILTERS: Record<string, CollectionSpec> = {
  groups: { filter: { properties: { id: 'string', displayName: 'string', mailNickname: 'string', description: 'string', securityEnabled: 'boolean', mailEnabled: 'boolean', groupTypes: 'collection', membershipRule: 'string', createdDateTime: 'datetime' }, functions: ['startswith'], in: true } },
  devices: { filter: { properties: { id: 'string', deviceId: 'string', displayName: 'string', operatingSystem: 'string', accountEnabled: 'boolean', trustType: 'string' }, functions: ['startswith'], in: true } },
  managedDevices: {
    filter: {
      properties: {
        id: 'string', deviceName: 'string', operatingSystem: 'string', complianceState: 'string', managedDeviceOwnerType: 'string', serialNumber: 'string',
        userPrincipalName: 'string', userId: 'string', azureADDeviceId: 'string', lastSyncDateTime: 'datetime', enrolledDateTime: 'datetime',
        managementAgent: 'string', model: 'string', manufacturer: 'string', imei: 'string', deviceEnrollmentType: 'string', managementState: 'string', osVersion: 'string',
      },
      functions: ['startswith'],
    },
  },
  policies: { filter: { properties: { id: 'string', displayName: 'string', description: 'string', lastModifiedDateTime: 'datetime', createdDateTime: 'datetime' }, functions: ['startswith'] } },
  autopilot: { filter: { properties: { id: 'string', serialNumber: 'string', groupTag: 'string', importId: 'string' }, functions: ['startswith'] } },
  profiles: { filter: { properties: { id: 'string', displayName: 'string', enrollmentMode: 'string' }, functions: ['startswith'] } },
};

// The permission a route needs (any one of the list), keyed by area and read/write.
const PERMS: Record<string, { read: string[]; write: string[] }> = {
  groups: { read: ['Group.Read.All', 'Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'], write: ['Group.ReadWrite.All', 'Directory.ReadWrite.All'] },
  members: { read: ['GroupMember.Read.All', 'GroupMember.ReadWrite.All', 'Group.Read.All', 'Group.ReadWrite.All', 'Directory.Read.All'], write: ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'] },
  devices: { read: ['Device.Read.All', 'Device.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'], write: ['Device.ReadWrite.All', 'Directory.ReadWrite.All'] },
  config: { read: ['DeviceManagementConfiguration.Read.All', 'DeviceManagementConfiguration.ReadWrite.All'], write: ['DeviceManagementConfiguration.ReadWrite.All'] },
  managed: { read: ['DeviceManagementManagedDevices.Read.All', 'DeviceManagementManagedDevices.ReadWrite.All'], write: ['DeviceManagementManagedDevices.ReadWrite.All'] },
  privileged: { read: ['DeviceManagementManagedDevices.PrivilegedOperations.All'], write: ['DeviceManagementManagedDevices.PrivilegedOperations.All'] },
  service: { read: ['DeviceManagementServiceConfig.Read.All', 'DeviceManagementServiceConfig.ReadWrite.All'], write: ['DeviceManagementServiceConfig.ReadWrite.All'] },
};

const DEVICE_ACTIONS = new Set(['remoteLock', 'rebootNow', 'wipe', 'retire', 'syncDevice', 'shutDown', 'locateDevice', 'resetPasscode']);

function platformOf(odataType: string): 'android' | 'ios' | 'macos' | 'windows' | undefined {
  const t = odataType.replace(/^#?microsoft\.graph\./, '');
  if (/^(android|aosp)/i.test(t)) return 'android';
  if (/^ios/i.test(t)) return 'ios';
  if (/^macOS/i.test(t)) return 'macos';
  if (/^windows/i.test(t)) return 'windows';
  return undefined;
}

function devicePlatform(d: StoredDevice): 'android' | 'ios' | 'macos' | 'windows' {
  const os = String(d.managed.operatingSystem);
  return os === 'Android' ? 'android' : os === 'iOS' || os === 'iPadOS' ? 'ios' : os === 'macOS' ? 'macos' : 'windows';
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0), pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function matchesFault(m: FaultMatch | undefined, ctx: { method: string; path: string; inBatch: boolean }): boolean {
  if (!m) return true;
  if (m.method && m.method.toUpperCase() !== ctx.method) return false;
  if (m.inBatch !== undefined && m.inBatch !== ctx.inBatch) return false;
  if (m.path instanceof RegExp) return m.path.test(ctx.path);
  if (typeof m.path === 'string') return ctx.path.startsWith(m.path);
  return true;
}

function makeCert(dir: string, name: string, subject: string, san?: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`), key = join(dir, `${name}.key`);
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', subject, '-keyout', key, '-out', cert];
  if (san) args.push('-addext', `subjectAltName=${san}`);
  try {
    execFileSync('openssl', args, { stdio: 'ignore' });
  } catch (e) {
    throw new Error(`fake-graph: openssl is needed for tls/certificate (${(e as Error).message})`);
  }
  return { cert, key };
}

function b64url(buf: Buffer | string): string {
  return Buffer.from(buf).toString('base64url');
}

export async function startFakeGraph(options: FakeGraphOptions = {}): Promise<FakeGraph> {
  const clock = options.clock ?? Date.now;
  const tenantId = options.tenantId ?? randomUUID();
  const clientId = options.clientId ?? randomUUID();
  const secret = options.clientSecret ?? `fake~${randomBytes(18).toString('base64url')}`;
  const pageSizeDefault = options.pageSize ?? 100;
  const writeLimit = options.writeLimit === undefined ? { writes: 100, windowMs: 20_000 } : options.writeLimit;
  const schemaChecks = options.schemaChecks ?? specsAvailable();
  if (schemaChecks && !specsAvailable()) throw new Error('fake-graph: schemaChecks needs ../shared/vendor-specs');
  const lifetime = options.tokenLifetimeSeconds ?? 3599;
  const granted = new Set(options.permissions ?? ALL_PERMISSIONS);
  const actionReadsToDone = options.actionReadsToDone ?? 2;
  const importReadsToDone = options.importReadsToDone ?? 1;
  const tokenKey = randomBytes(32);
  const tokens = new Map<string, { exp: number; roles: Set<string> }>();
  const tenant = new FakeTenant();
  const requests: LoggedRequest[] = [];
  const schemaProblems: SchemaProblemRecord[] = [];
  const writeTimes: number[] = [];
  let requestCount = 0;
  let tokensIssued = 0;
  const tmp = mkdtempSync(join(tmpdir(), 'fake-graph-'));

  // --- faults ---------------------------------------------------------------------------------
  interface ActiveFault {
    kind: 'throttle' | 'unavailable' | 'failWrite' | 'groupVisibility' | 'failAction';
    hits: number;
    cleared: boolean;
    apply: (ctx: { method: string; path: string; inBatch: boolean; write: boolean }) => GraphFail | LostWrite | undefined;
    opts: Record<string, unknown>;
  }
  const active: ActiveFault[] = [];
  const handle = (f: ActiveFault): Fault => {
    active.push(f);
    return {
      get hits() {
        return f.hits;
      },
      clear() {
        f.cleared = true;
      },
    };
  };
  const throttleFail = (retryAfter: number) =>
    new GraphFail(429, 'TooManyRequests', 'Please retry again later.', { headers: { 'Retry-After': String(retryAfter) }, innerCode: true });
  const faults: FakeFaults = {
    throttle({ count, fraction, seed = 1, retryAfterSeconds = 1, match }) {
      const rand = mulberry32(seed);
      let left = count ?? Infinity;
      const f: ActiveFault = {
        kind: 'throttle', hits: 0, cleared: false, opts: {},
        apply(ctx) {
          if (left <= 0 || !matchesFault(match, ctx)) return undefined;
          if (fraction !== undefined && rand() >= fraction) return undefined;
          left--;
          f.hits++;
          return throttleFail(retryAfterSeconds);
        },
      };
      return handle(f);
    },
    unavailable({ count, status = 503, retryAfterSeconds, match }) {
      let left = count;
      const f: ActiveFault = {
        kind: 'unavailable', hits: 0, cleared: false, opts: {},
        apply(ctx) {
          if (left <= 0 || !matchesFault(match, ctx)) return undefined;
          left--;
          f.hits++;
          const headers: Record<string, string> = retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) };
          return status === 503
            ? new GraphFail(503, 'ServiceUnavailable', 'The service is currently unavailable. Please try again later.', { headers })
            : new GraphFail(504, 'GatewayTimeout', 'The gateway did not receive a response from the service in time.', { headers });
        },
      };
      return handle(f);
    },
    failWrite({ nth = 1, status = 500, code, message, applied = false, drop = false, match }) {
      let seen = 0;
      const f: ActiveFault = {
        kind: 'failWrite', hits: 0, cleared: false, opts: {},
        apply(ctx) {
          if (!ctx.write || !matchesFault(match, ctx) || seen >= nth) return undefined;
          seen++;
          if (seen !== nth) return undefined;
          f.hits++;
          if (applied || drop) return { applied, drop };
          return new GraphFail(status, code ?? (status >= 500 ? 'InternalServerError' : 'BadRequest'), message ?? 'An internal server error has occurred', { intune: ctx.path.startsWith('/deviceManagement') });
        },
      };
      return handle(f);
    },
    groupVisibility({ requests: afterRequests, ms }) {
      const f: ActiveFault = { kind: 'groupVisibility', hits: 0, cleared: false, opts: { afterRequests, ms }, apply: () => undefined };
      return handle(f);
    },
    failAction({ action, deviceId, state = 'failed' }) {
      const f: ActiveFault = { kind: 'failAction', hits: 0, cleared: false, opts: { action, deviceId, state }, apply: () => undefined };
      return handle(f);
    },
    clear() {
      for (const f of active) f.cleared = true;
    },
  };
  const liveFaults = (kind: ActiveFault['kind']) => active.filter((f) => !f.cleared && f.kind === kind);

  // --- seed ---------------------------------------------------------------------------------------
  const seed = options.seed ?? 1;
  let seeded = 0;
  const addDevices = (list: Array<Partial<SeedDeviceSpec>>): Array<Record<string, unknown>> =>
    list.map((spec) => {
      const d = seedDevice(seed, seeded++, spec, clock());
      tenant.devices.set(String(d.managed.id), { ...d, pendingActions: new Map(), noncompliantSince: new Map() });
      tenant.entraIndex.set(String(d.entra.id), String(d.managed.id));
      return structuredClone(d.managed);
    });
  addDevices(typeof options.devices === 'number' ? Array.from({ length: options.devices }, () => ({})) : (options.devices ?? []));

  // --- certificates -------------------------------------------------------------------------------
  let serverCert: { cert: string; key: string } | undefined;
  if (options.tls) serverCert = makeCert(tmp, 'server', '/CN=127.0.0.1', 'IP:127.0.0.1,DNS:localhost');
  let clientCertificate: FakeGraph['clientCertificate'];
  let clientCertPublic: ReturnType<typeof createPublicKey> | undefined;
  if (options.certificate) {
    const c = makeCert(tmp, 'client', `/CN=emmctl-test-${clientId.slice(0, 8)}`);
    const certPem = readFileSync(c.cert, 'utf8');
    const x = new X509Certificate(certPem);
    const pemFile = join(tmp, 'client-combined.pem');
    writeFileSync(pemFile, `${readFileSync(c.key, 'utf8')}${certPem}`, { mode: 0o600 });
    clientCertificate = {
      pemFile,
      certFile: c.cert,
      keyFile: c.key,
      thumbprint: createHash('sha1').update(x.raw).digest('hex').toUpperCase(),
      thumbprintSha256: createHash('sha256').update(x.raw).digest('hex').toUpperCase(),
    };
    clientCertPublic = x.publicKey;
  }

  // --- tokens ------------------------------------------------------------------------------------
  const issueToken = (roles: readonly string[] = [...granted]): string => {
    const now = Math.floor(clock() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));
    const payload = b64url(JSON.stringify({ aud: 'https://graph.microsoft.com', iss: `https://sts.windows.net/${tenantId}/`, iat: now, nbf: now, exp: now + lifetime, appid: clientId, tid: tenantId, roles, oid: randomUUID(), jti: randomUUID() }));
    const sig = b64url(createHmac('sha256', tokenKey).update(`${header}.${payload}`).digest());
    const token = `${header}.${payload}.${sig}`;
    tokens.set(token, { exp: (now + lifetime) * 1000, roles: new Set(roles) });
    return token;
  };

  // --- servers -----------------------------------------------------------------------------------
  const listen = async (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> => {
    const server = serverCert
      ? createHttpsServer({ cert: readFileSync(serverCert.cert), key: readFileSync(serverCert.key) }, handler)
      : createHttpServer(handler);
    await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
    const port = (server.address() as AddressInfo).port;
    return { server, url: `${serverCert ? 'https' : 'http'}://127.0.0.1:${port}` };
  };

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolveBody, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 8 * 1024 * 1024) {
          reject(new Error('body too large'));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const send = (res: ServerResponse, r: Resp): void => {
    const headers = { ...r.headers };
    let payload: string | undefined;
    if (r.body !== undefined) {
      payload = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      headers['Content-Type'] ??= JSON_TYPE;
    }
    res.writeHead(r.status, headers);
    res.end(payload);
  };

  let graphUrl = '';
  let loginUrl = '';

  // ---------------------------------------------------------------------------------------------
  // Login (Microsoft identity platform v2.0).

  const aadError = (status: number, error: string, code: number, description: string): Resp => {
    const trace = randomUUID(), corr = randomUUID();
    const ts = new Date(clock()).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
    return {
      status,
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      body: {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${trace} Correlation ID: ${corr} Timestamp: ${ts}`,
        error_codes: [code],
        timestamp: ts,
        trace_id: trace,
        correlation_id: corr,
        error_uri: `${loginUrl}/error?code=${code}`,
      },
    };
  };

  const openIdConfig = (t: string) => ({
    token_endpoint: `${loginUrl}/${t}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${loginUrl}/${t}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${loginUrl}/${tenantId}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${graphUrl}/oidc/userinfo`,
    authorization_endpoint: `${loginUrl}/${t}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${loginUrl}/${t}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${loginUrl}/${t}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'tid', 'ver'],
    kerberos_endpoint: `${loginUrl}/${t}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: new URL(loginUrl).host,
    cloud_graph_host_name: new URL(graphUrl).host,
    msgraph_host: new URL(graphUrl).host,
    rbac_url: 'https://pas.windows.net',
  });

  const tenantKnown = (t: string) => t === tenantId || t === 'organizations' || t === 'common';

  const checkAssertion = (assertion: string, tokenEndpoint: string): Resp | undefined => {
    const parts = assertion.split('.');
    if (parts.length !== 3) return aadError(401, 'invalid_client', 50027, 'JWT token is invalid or malformed.');
    let header: Record<string, unknown>, claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return aadError(401, 'invalid_client', 50027, 'JWT token is invalid or malformed.');
    }
    if (!clientCertificate || !clientCertPublic) {
      return aadError(401, 'invalid_client', 700027, `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${String(header['x5t'] ?? header['x5t#S256'] ?? '')}']`);
    }
    const x5t = typeof header.x5t === 'string' ? Buffer.from(header.x5t, 'base64url').toString('hex').toUpperCase() : undefined;
    const x5t256 = typeof header['x5t#S256'] === 'string' ? Buffer.from(header['x5t#S256'], 'base64url').toString('hex').toUpperCase() : undefined;
    if (x5t !== clientCertificate.thumbprint && x5t256 !== clientCertificate.thumbprintSha256) {
      return aadError(401, 'invalid_client', 700027, `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${x5t ?? x5t256 ?? ''}']`);
    }
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const sig = Buffer.from(parts[2]!, 'base64url');
    let ok = false;
    if (header.alg === 'RS256') ok = verifySignature('sha256', data, clientCertPublic, sig);
    else if (header.alg === 'PS256') ok = verifySignature('sha256', data, { key: clientCertPublic, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_AUTO }, sig);
    if (!ok) return aadError(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
    const now = Math.floor(clock() / 1000);
    if (claims.aud !== tokenEndpoint) return aadError(401, 'invalid_client', 700212, `The audience '${String(claims.aud)}' of the client assertion is not the token endpoint '${tokenEndpoint}'.`);
    if (claims.iss !== clientId || claims.sub !== clientId) return aadError(401, 'invalid_client', 700023, `Client assertion issuer and subject must both be the client id '${clientId}'.`);
    if (typeof claims.exp !== 'number' || claims.exp < now - 300 || (typeof claims.nbf === 'number' && claims.nbf > now + 300)) {
      return aadError(401, 'invalid_client', 700024, 'Client assertion is not within its valid time range.');
    }
    return undefined;
  };

  const onLogin = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', loginUrl);
    const text = await readBody(req).catch(() => '');
    const method = req.method ?? 'GET';
    const segs = url.pathname.split('/').filter(Boolean);
    const log: LoggedRequest = { at: clock(), method, path: url.pathname, url: `${url.pathname}${url.search}`, host: 'login', inBatch: false, status: 0 };
    requests.push(log);
    let r: Resp;
    if (method === 'GET' && segs.length === 3 && segs[0] === 'common' && segs[1] === 'discovery' && segs[2] === 'instance') {
      const host = new URL(loginUrl).host;
      r = {
        status: 200,
        headers: {},
        body: {
          tenant_discovery_endpoint: `${loginUrl}/{tenant}/v2.0/.well-known/openid-configuration`,
          'api-version': '1.1',
          metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
        },
      };
    } else if (method === 'GET' && segs.length === 4 && segs[1] === 'v2.0' && segs[2] === '.well-known' && segs[3] === 'openid-configuration') {
      r = tenantKnown(segs[0]!)
        ? { status: 200, headers: {}, body: openIdConfig(segs[0]!) }
        : aadError(400, 'invalid_tenant', 90002, `Tenant '${segs[0]}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    } else if (method === 'GET' && segs.length === 4 && segs[1] === 'discovery' && segs[2] === 'v2.0' && segs[3] === 'keys') {
      r = { status: 200, headers: {}, body: { keys: [] } };
    } else if (method === 'POST' && segs.length === 4 && segs[1] === 'oauth2' && segs[2] === 'v2.0' && segs[3] === 'token') {
      r = token(segs[0]!, req.headers, text);
    } else {
      r = aadError(404, 'invalid_request', 900561, `The endpoint only accepts POST requests (or is not an endpoint): ${url.pathname}`);
    }
    log.status = r.status;
    send(res, r);
  };

  const token = (t: string, headers: IncomingMessage['headers'], text: string): Resp => {
    if (!String(headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return aadError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    }
    if (t !== tenantId) return aadError(400, 'invalid_tenant', 90002, `Tenant '${t}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    const form = new URLSearchParams(text);
    let id = form.get('client_id');
    let sec = form.get('client_secret');
    const basic = /^Basic\s+(.+)$/i.exec(String(headers.authorization ?? ''));
    if (basic) {
      const [u, p] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      id = decodeURIComponent(u ?? '');
      sec = decodeURIComponent(p ?? '');
    }
    const grant = form.get('grant_type');
    if (!grant) return aadError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    if (grant !== 'client_credentials') return aadError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant}'.`);
    if (!id) return aadError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    if (id !== clientId) {
      return aadError(400, 'unauthorized_client', 700016, `Application with identifier '${id}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    }
    const scope = form.get('scope') ?? '';
    const scopes = scope.split(' ').filter(Boolean);
    const allowedScopes = new Set([GRAPH_SCOPE, `${graphUrl}/.default`]);
    if (scopes.length === 0) return aadError(400, 'invalid_request', 90014, "The required field 'scope' is missing from the credential. Ensure that you have all the necessary parameters for the login request.");
    // MSAL adds the OIDC scopes to every request; for client credentials they are ignored.
    const resourceScopes = scopes.filter((s) => !['openid', 'profile', 'offline_access'].includes(s));
    if (resourceScopes.length !== 1 || !allowedScopes.has(resourceScopes[0]!)) {
      return aadError(400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    const assertion = form.get('client_assertion');
    if (assertion) {
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        return aadError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_assertion_type'.");
      }
      const bad = checkAssertion(assertion, `${loginUrl}/${t}/oauth2/v2.0/token`);
      if (bad) return bad;
    } else if (sec === null || sec === undefined || sec === '') {
      return aadError(401, 'invalid_client', 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
    } else if (sec !== secret) {
      return aadError(401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`);
    }
    tokensIssued++;
    return { status: 200, headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' }, body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: issueToken() } };
  };

  // ---------------------------------------------------------------------------------------------
  // Graph.

  const isGroupVisible = (g: StoredGroup): boolean => {
    if (g.visibleAfterRequest !== undefined && requestCount <= g.visibleAfterRequest) return false;
    if (g.visibleAt !== undefined && clock() < g.visibleAt) return false;
    return true;
  };

  const context = (ctx: Ctx, fragment: string): string => `${graphUrl}/${ctx.version}/$metadata#${fragment}`;

  /** Schema check of a body: failures become a 400 and a record in schemaProblems. */
  const schemaGate = (ctx: Ctx, type: string, problems: SchemaProblem[] | undefined): void => {
    if (!problems || problems.length === 0) return;
    schemaProblems.push({ method: ctx.method, path: ctx.path, version: ctx.version, type, problems });
    const first = problems[0]!;
    const msg = first.got.startsWith('unknown property')
      ? `The property '${first.path.split('.').pop()}' does not exist on type '${type}'. Make sure to only use property names that are defined by the type or mark the type as open type.`
      : `Invalid value for '${first.path || 'body'}': expected ${first.expected}, got ${first.got}.`;
    throw new GraphFail(400, 'BadRequest', msg, { details: problems.map((p) => ({ code: 'SchemaViolation', target: p.path, message: `expected ${p.expected}; got ${p.got}` })) });
  };

  const checkEntity = (ctx: Ctx, type: string, body: unknown, operation: 'create' | 'update'): void => {
    if (!schemaChecks) return;
    schemaGate(ctx, type, checkBody(ctx.version, type, body, { operation }));
  };

  const checkAction = (ctx: Ctx, bindingType: string, action: string, body: unknown, collection = false): void => {
    if (!schemaChecks) return;
    const problems = checkActionBody(ctx.version, bindingType, action, body, collection);
    if (problems === undefined) throw new GraphFail(400, 'BadRequest', `Resource not found for the segment '${action}'.`);
    schemaGate(ctx, `${bindingType}/${action}`, problems);
  };

  const requireRole = (ctx: Ctx, area: keyof typeof PERMS, write: boolean): void => {
    const need = write ? PERMS[area]!.write : PERMS[area]!.read;
    if (need.some((p) => ctx.roles.has(p))) return;
    if (area === 'groups' || area === 'members' || area === 'devices') {
      throw new GraphFail(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    }
    throw new GraphFail(403, 'Forbidden', `Application is not authorized to perform this operation. Application must have one of the following scopes: ${need.join(', ')}`, { intune: true });
  };

  const objBody = (ctx: Ctx): Record<string, unknown> => {
    if (!ctx.hasBody || ctx.body === null || typeof ctx.body !== 'object' || Array.isArray(ctx.body)) {
      throw new GraphFail(400, 'BadRequest', 'Empty Payload. JSON content expected.');
    }
    return ctx.body as Record<string, unknown>;
  };

  /** Stored properties of a body: no instance or property annotations except @odata.type. */
  const storable = (body: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) {
      if (k.includes('@') && k !== '@odata.type') continue;
      out[k] = structuredClone(v);
    }
    return out;
  };

  /** Every property of the type filled with the default Intune returns for it (false, 0, null, [], the first enum member). */
  const withDefaults = (version: GraphVersion, type: string, rec: Record<string, unknown>): Record<string, unknown> => {
    if (!schemaChecks) return rec;
    const names = propertyNames(version, type);
    if (!names) return rec;
    const v1 = v1Model();
    const out: Record<string, unknown> = {};
    for (const n of names) {
      if (n in rec) continue;
      let def: { type: string; collection: boolean } | undefined;
      for (let t: string | undefined = type.replace(/^#/, ''); t && !def; t = v1.types.get(t)?.baseType) def = v1.types.get(t)?.props.get(n);
      if (!def) out[n] = null;
      else if (def.collection) out[n] = [];
      else if (def.type === 'Edm.Boolean') out[n] = false;
      else if (/^Edm\.(Int|Byte|SByte|Double|Single|Decimal)/.test(def.type)) out[n] = 0;
      else if (v1.enums.has(def.type)) out[n] = [...v1.enums.get(def.type)!.members][0] ?? null;
      else out[n] = null;
    }
    return { ...out, ...rec };
  };

  /** A record as `version` returns it: v1.0 leaves out properties only beta has. */
  const project = (version: GraphVersion, type: string, rec: Record<string, unknown>): Record<string, unknown> => {
    if (!schemaChecks || version === 'beta') return structuredClone(rec);
    const names = propertyNames('v1.0', type);
    if (!names) return structuredClone(rec);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rec)) if (k === '@odata.type' || names.has(k)) out[k] = structuredClone(v);
    return out;
  };

  const visibleIn = (version: GraphVersion, type: string): boolean => !schemaChecks || hasType(version, type);

  const applySelect = (ctx: Ctx, type: string, rec: Record<string, unknown>): Record<string, unknown> => {
    const sel = ctx.query.get('$select');
    if (!sel) return rec;
    const fields = sel.split(',').map((s) => s.trim()).filter(Boolean);
    const known = schemaChecks ? propertyNames(ctx.version, type) : undefined;
    for (const f of fields) {
      if (known ? !known.has(f) : !(f in rec)) {
        if (known || f !== 'id') throw new GraphFail(400, 'BadRequest', `Could not find a property named '${f}' on type '${type.replace(/^#/, '')}'.`);
      }
    }
    const out: Record<string, unknown> = {};
    if ('@odata.type' in rec) out['@odata.type'] = rec['@odata.type'];
    for (const f of fields) if (f in rec) out[f] = rec[f];
    return out;
  };

  const filterOf = (ctx: Ctx, spec: CollectionSpec, resource: string): FilterNode | undefined => {
    const src = ctx.query.get('$filter');
    if (src === null) return undefined;
    let node: FilterNode;
    try {
      node = parseFilter(src);
    } catch (e) {
      throw new GraphFail(400, 'BadRequest', `Invalid filter clause: ${(e as FilterError).message}`);
    }
    const bad = unsupported(node, spec.filter);
    if (bad) {
      if (resource === 'Group' || resource === 'Device') {
        throw new GraphFail(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for property '${bad.property ?? ''}' of resource '${resource}'.`);
      }
      throw new GraphFail(400, 'BadRequest', `Invalid filter clause: ${bad.message}.`, { intune: true });
    }
    return node;
  };

  /** $orderby=prop [asc|desc] (one property; string comparisons ignore case, as Graph's do). */
  const ordered = (ctx: Ctx, items: Array<Record<string, unknown>>): Array<Record<string, unknown>> => {
    const src = ctx.query.get('$orderby');
    if (src === null) return items;
    const m = /^\s*([A-Za-z_]\w*)(?:\s+(asc|desc))?\s*$/.exec(src);
    if (!m) throw new GraphFail(400, 'BadRequest', `The fake Graph supports $orderby on one property only: '${src}'.`);
    const [, prop, dir] = m;
    if (items.length > 0 && !items.some((i) => prop! in i)) throw new GraphFail(400, 'BadRequest', `Could not find a property named '${prop}' to order by (select it, or order by a property of the type).`);
    const key = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
    const sorted = [...items].sort((a, b) => {
      const x = key(a[prop!]) as string | number, y = key(b[prop!]) as string | number;
      if (x === y) return 0;
      if (x === undefined || x === null) return -1;
      if (y === undefined || y === null) return 1;
      return x < y ? -1 : 1;
    });
    return dir === 'desc' ? sorted.reverse() : sorted;
  };

  /** $expand on a route that has no expandable navigation property here is refused, not ignored. */
  const noExpand = (ctx: Ctx, type: string, allowed: string[] = []): ExpandItem[] => {
    const items = expandOf(ctx);
    for (const e of items) if (!allowed.includes(e.name)) throw new GraphFail(400, 'BadRequest', `Could not find a navigation property named '${e.name}' on type '${type}' that can be expanded.`);
    return items;
  };

  /** A collection page: $top sets the page size; @odata.nextLink carries the other options plus $skiptoken. */
  const page = (ctx: Ctx, itemsIn: Array<Record<string, unknown>>, contextFragment: string, directory: boolean): Resp => {
    let items = itemsIn;
    let size = pageSizeDefault;
    const top = ctx.query.get('$top');
    if (top !== null) {
      const n = Number(top);
      if (!/^\d+$/.test(top) || n < 1 || (directory && n > 999)) {
        throw new GraphFail(400, directory ? 'Request_UnsupportedQuery' : 'BadRequest', directory ? `Invalid page size specified: '${top}'. Must be between 1 and 999 inclusive.` : `Invalid $top value '${top}'.`);
      }
      size = Math.min(n, directory ? 999 : 1000);
    }
    let offset = 0;
    const skipN = ctx.query.get('$skip');
    if (skipN !== null) {
      if (directory) throw new GraphFail(400, 'Request_BadRequest', "'$skip' is not supported by the service.");
      if (!/^\d+$/.test(skipN)) throw new GraphFail(400, 'BadRequest', `Invalid $skip value '${skipN}'.`);
      offset = Number(skipN);
    }
    const skip = ctx.query.get('$skiptoken');
    if (skip !== null) {
      const m = /^o(\d+)$/.exec(Buffer.from(skip, 'base64url').toString('utf8'));
      if (!m) throw new GraphFail(400, 'BadRequest', `Invalid $skiptoken value.`);
      offset = Number(m[1]);
    }
    items = ordered(ctx, items);
    const slice = items.slice(offset, offset + size);
    const body: Record<string, unknown> = { '@odata.context': context(ctx, contextFragment) };
    if (ctx.query.get('$count') === 'true') body['@odata.count'] = items.length;
    if (offset + size < items.length) {
      const q = new URLSearchParams(ctx.query);
      q.delete('$skip');
      q.set('$skiptoken', Buffer.from(`o${offset + size}`).toString('base64url'));
      body['@odata.nextLink'] = `${graphUrl}/${ctx.version}${ctx.path}?${q.toString().replace(/%24/g, '$')}`;
    }
    body.value = slice;
    return { status: 200, headers: {}, body };
  };

  const noContent = (): Resp => ({ status: 204, headers: {} });
  const ok = (body: unknown, status = 200): Resp => ({ status, headers: {}, body });

  // --- groups --------------------------------------------------------------------------------------

  const groupOr404 = (id: string): StoredGroup => {
    const g = tenant.groups.get(id);
    if (!g || !isGroupVisible(g)) {
      throw new GraphFail(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
    }
    return g;
  };

  const directoryRef = (url: unknown): string | undefined => {
    if (typeof url !== 'string') return undefined;
    const m = /\/(?:directoryObjects|devices|users|groups)\/([0-9a-fA-F-]{36})$/.exec(url) ?? /\/(?:directoryObjects|devices)\('([0-9a-fA-F-]{36})'\)$/.exec(url);
    return m?.[1];
  };

  const validateGroup = (rec: Record<string, unknown>, creating: boolean): RuleNode | undefined => {
    for (const req of ['displayName', 'mailEnabled', 'mailNickname', 'securityEnabled']) {
      if (creating && (rec[req] === undefined || rec[req] === null || rec[req] === '')) {
        throw new GraphFail(400, 'Request_BadRequest', `A value is required for property '${req}' of resource 'Group'.`);
      }
    }
    const nick = rec.mailNickname;
    if (typeof nick === 'string' && (nick.length > 64 || !/^[\x21-\x7e]+$/.test(nick) || /[@()\\[\]";:<>,]/.test(nick))) {
      throw new GraphFail(400, 'Request_BadRequest', "Invalid value specified for property 'mailNickname' of resource 'Group'.");
    }
    if (typeof rec.displayName === 'string' && rec.displayName.length > 256) {
      throw new GraphFail(400, 'Request_BadRequest', "Invalid value specified for property 'displayName' of resource 'Group'.");
    }
    const types = Array.isArray(rec.groupTypes) ? (rec.groupTypes as unknown[]) : [];
    const dynamic = types.includes('DynamicMembership');
    if (rec.mailEnabled === true && !types.includes('Unified')) {
      throw new GraphFail(400, 'Request_BadRequest', 'Only Microsoft 365 (Unified) groups can be mail-enabled when created through Graph.');
    }
    if (dynamic) {
      if (typeof rec.membershipRule !== 'string' || rec.membershipRule.trim() === '') {
        throw new GraphFail(400, 'Request_BadRequest', "A value is required for property 'membershipRule' of resource 'Group'.");
      }
      if (rec.membershipRuleProcessingState !== 'On' && rec.membershipRuleProcessingState !== 'Paused') {
        throw new GraphFail(400, 'Request_BadRequest', "Invalid value specified for property 'membershipRuleProcessingState' of resource 'Group'.");
      }
      try {
        return parseRule(rec.membershipRule);
      } catch (e) {
        throw new GraphFail(400, 'Request_BadRequest', `Invalid value specified for property 'membershipRule' of resource 'Group': ${(e as RuleError).message}.`);
      }
    }
    if (rec.membershipRule !== undefined && rec.membershipRule !== null) {
      throw new GraphFail(400, 'Request_BadRequest', "Property 'membershipRule' can be set only on groups whose groupTypes include 'DynamicMembership'.");
    }
    return undefined;
  };

  const groupMembers = (g: StoredGroup): string[] => {
    if (g.rule && g.record.membershipRuleProcessingState === 'On') {
      const out: string[] = [];
      for (const d of tenant.devices.values()) if (evaluateRule(g.rule, d.entra)) out.push(String(d.entra.id));
      return out;
    }
    return [...g.members];
  };

  const entraView = (d: StoredDevice): Record<string, unknown> => {
    const out: Record<string, unknown> = { '@odata.type': '#microsoft.graph.device' };
    for (const [k, v] of Object.entries(d.entra)) if (!ENTRA_RULE_ONLY.has(k)) out[k] = v;
    return out;
  };

  const groupView = (ctx: Ctx, g: StoredGroup, expand: ExpandItem[]): Record<string, unknown> => {
    const out = applySelect(ctx, 'microsoft.graph.group', structuredClone(g.record));
    const members = expand.find((e) => e.name === 'members');
    if (members) {
      out.members = groupMembers(g)
        .map((id) => tenant.devices.get(tenant.entraIndex.get(id)!))
        .filter((d): d is StoredDevice => !!d)
        .map((d) => {
          const view = entraView(d);
          if (!members.select) return view;
          const picked: Record<string, unknown> = { '@odata.type': view['@odata.type'] };
          for (const k of members.select) if (k in view) picked[k] = view[k];
          return picked;
        });
    }
    return out;
  };

  const groupsRoute = (ctx: Ctx, rest: string[]): Resp => {
    const write = WRITE_METHODS.has(ctx.method);
    if (rest.length === 0) {
      requireRole(ctx, 'groups', write);
      if (ctx.method === 'GET') {
        const f = filterOf(ctx, FILTERS.groups!, 'Group');
        const expand = noExpand(ctx, 'microsoft.graph.group', ['members']);
        const list = [...tenant.groups.values()].filter((g) => isGroupVisible(g)).filter((g) => !f || matches(f, g.record));
        return page(ctx, ordered(ctx, list.map((g) => groupView(ctx, g, expand))), 'groups', true);
      }
      if (ctx.method === 'POST') {
        const body = objBody(ctx);
        checkEntity(ctx, 'microsoft.graph.group', body, 'create');
        const rule = validateGroup(body, true);
        const binds = body['members@odata.bind'];
        const members = new Set<string>();
        if (binds !== undefined) {
          if (rule) throw new GraphFail(400, 'Request_BadRequest', 'Members cannot be added to a group whose membership is dynamic.');
          for (const u of Array.isArray(binds) ? binds : [binds]) {
            const id = directoryRef(u);
            if (!id || !tenant.entraIndex.has(id)) throw new GraphFail(400, 'Request_BadRequest', `Invalid object identifier '${String(u)}'.`);
            members.add(id);
          }
        }
        if (members.size > 20) throw new GraphFail(400, 'Request_BadRequest', 'A maximum of 20 members can be added in one request.');
        const now = new Date(clock()).toISOString();
        const rec: Record<string, unknown> = {
          id: randomUUID(),
          deletedDateTime: null,
          classification: null,
          createdDateTime: now,
          description: null,
          displayName: null,
          expirationDateTime: null,
          groupTypes: [],
          isAssignableToRole: null,
          mail: null,
          mailEnabled: false,
          mailNickname: null,
          membershipRule: null,
          membershipRuleProcessingState: null,
          onPremisesDomainName: null,
          onPremisesLastSyncDateTime: null,
          onPremisesSamAccountName: null,
          onPremisesSecurityIdentifier: null,
          onPremisesSyncEnabled: null,
          preferredDataLocation: null,
          preferredLanguage: null,
          proxyAddresses: [],
          renewedDateTime: now,
          resourceBehaviorOptions: [],
          resourceProvisioningOptions: [],
          securityEnabled: true,
          securityIdentifier: `S-1-12-1-${randomBytes(4).readUInt32BE()}-${randomBytes(4).readUInt32BE()}`,
          theme: null,
          visibility: null,
          onPremisesProvisioningErrors: [],
          serviceProvisioningErrors: [],
          ...storable(body),
        };
        delete rec['@odata.type'];
        const g: StoredGroup = { record: rec, members, rule };
        for (const f of liveFaults('groupVisibility')) {
          f.hits++;
          const o = f.opts as { afterRequests?: number; ms?: number };
          if (o.afterRequests !== undefined) g.visibleAfterRequest = requestCount + o.afterRequests;
          if (o.ms !== undefined) g.visibleAt = clock() + o.ms;
        }
        tenant.groups.set(String(rec.id), g);
        return { status: 201, headers: { Location: `${graphUrl}/v2/${tenantId}/directoryObjects/${rec.id}/Microsoft.DirectoryServices.Group` }, body: { '@odata.context': context(ctx, 'groups/$entity'), ...structuredClone(rec) } };
      }
      throw methodNotAllowed(ctx);
    }
    const g = groupOr404(rest[0]!);
    if (rest.length === 1) {
      requireRole(ctx, 'groups', write);
      if (ctx.method === 'GET') return ok({ '@odata.context': context(ctx, 'groups/$entity'), ...groupView(ctx, g, noExpand(ctx, 'microsoft.graph.group', ['members'])) });
      if (ctx.method === 'PATCH') {
        const body = objBody(ctx);
        checkEntity(ctx, 'microsoft.graph.group', body, 'update');
        const next = { ...g.record, ...storable(body) };
        const rule = validateGroup(next, false);
        g.record = next;
        g.rule = rule;
        return noContent();
      }
      if (ctx.method === 'DELETE') {
        tenant.groups.delete(rest[0]!);
        for (const p of tenant.policies.values()) p.assignments = p.assignments.filter((a) => (a.target as Record<string, unknown>)?.groupId !== rest[0]);
        return noContent();
      }
      throw methodNotAllowed(ctx);
    }
    if (rest[1] === 'members') {
      requireRole(ctx, 'members', write);
      // members, or members/microsoft.graph.device (an OData type cast: only the devices among them).
      const cast = rest[2];
      if ((rest.length === 2 || (rest.length === 3 && cast?.startsWith('microsoft.graph.'))) && ctx.method === 'GET') {
        if (cast !== undefined && cast !== 'microsoft.graph.device' && !(schemaChecks ? hasType('v1.0', cast) : /^microsoft\.graph\.(user|group|servicePrincipal|orgContact)$/.test(cast))) {
          throw new GraphFail(400, 'Request_BadRequest', `Invalid type cast '${cast}'.`);
        }
        noExpand(ctx, 'microsoft.graph.directoryObject');
        // The fake tenant's groups hold devices only: a cast to another type finds none.
        const list = cast && cast !== 'microsoft.graph.device' ? [] : groupMembers(g).map((id) => tenant.devices.get(tenant.entraIndex.get(id)!)).filter((d): d is StoredDevice => !!d).map(entraView);
        return page(ctx, list.map((r) => applySelect(ctx, 'microsoft.graph.device', r)), cast ? 'devices' : 'directoryObjects', true);
      }
      if (rest.length === 3 && rest[2] === '$ref' && ctx.method === 'POST') {
        const body = objBody(ctx);
        const extra = Object.keys(body).filter((k) => k !== '@odata.id');
        if (extra.length > 0 || typeof body['@odata.id'] !== 'string') {
          const problems = [{ path: extra[0] ?? '@odata.id', expected: 'only "@odata.id": "<directoryObject URL>"', got: extra[0] ? `unknown property "${extra[0]}"` : 'missing' }];
          if (schemaChecks) schemaGate(ctx, 'microsoft.graph.directoryObject/$ref', problems);
          throw new GraphFail(400, 'BadRequest', 'Invalid reference body.');
        }
        if (g.rule) throw new GraphFail(400, 'Request_BadRequest', 'Members cannot be added to a group whose membership is dynamic.');
        const id = directoryRef(body['@odata.id']);
        if (!id || !tenant.entraIndex.has(id)) throw new GraphFail(404, 'Request_ResourceNotFound', `Resource '${id ?? String(body['@odata.id'])}' does not exist or one of its queried reference-property objects are not present.`);
        if (g.members.has(id)) throw new GraphFail(400, 'Request_BadRequest', 'One or more added object references already exist for the following modified properties: \'members\'.');
        g.members.add(id);
        return noContent();
      }
      if (rest.length === 4 && rest[3] === '$ref' && ctx.method === 'DELETE') {
        if (!g.members.delete(rest[2]!)) throw new GraphFail(404, 'Request_ResourceNotFound', `Resource '${rest[2]}' does not exist or one of its queried reference-property objects are not present.`);
        return noContent();
      }
    }
    throw notFoundSegment(rest[1] ?? '');
  };

  const devicesRoute = (ctx: Ctx, rest: string[]): Resp => {
    requireRole(ctx, 'devices', WRITE_METHODS.has(ctx.method));
    if (ctx.method !== 'GET') throw methodNotAllowed(ctx);
    if (rest.length === 0) {
      const f = filterOf(ctx, FILTERS.devices!, 'Device');
      noExpand(ctx, 'microsoft.graph.device');
      const list = [...tenant.devices.values()].map(entraView).filter((r) => !f || matches(f, r));
      return page(ctx, list.map((r) => applySelect(ctx, 'microsoft.graph.device', r)), 'devices', true);
    }
    const mid = tenant.entraIndex.get(rest[0]!);
    const d = mid ? tenant.devices.get(mid) : undefined;
    if (!d || rest.length > 1) throw new GraphFail(404, 'Request_ResourceNotFound', `Resource '${rest[0]}' does not exist or one of its queried reference-property objects are not present.`);
    return ok({ '@odata.context': context(ctx, 'devices/$entity'), ...applySelect(ctx, 'microsoft.graph.device', entraView(d)) });
  };

  // --- deviceManagement policies ---------------------------------------------------------------

  const assignmentTargetProblem = (target: unknown): string | undefined => {
    if (!target || typeof target !== 'object') return 'target is required';
    const t = target as Record<string, unknown>;
    const type = String(t['@odata.type'] ?? '');
    if (type === '#microsoft.graph.groupAssignmentTarget' || type === '#microsoft.graph.exclusionGroupAssignmentTarget') {
      const g = typeof t.groupId === 'string' ? tenant.groups.get(t.groupId) : undefined;
      if (!g || !isGroupVisible(g)) return `The group '${String(t.groupId)}' was not found`;
      return undefined;
    }
    if (type === '#microsoft.graph.allDevicesAssignmentTarget' || type === '#microsoft.graph.allLicensedUsersAssignmentTarget') return undefined;
    return `Unsupported assignment target type '${type}'`;
  };

  const assignmentId = (policyId: string, target: Record<string, unknown>): string => {
    const type = String(target['@odata.type']);
    const gid = type.includes('allDevices') ? ALL_DEVICES_GROUP_ID : type.includes('allLicensedUsers') ? ALL_USERS_GROUP_ID : String(target.groupId);
    return `${policyId}_${gid}${type.includes('exclusion') ? '_excluded' : ''}`;
  };

  const makeAssignments = (ctx: Ctx, p: StoredPolicy, list: unknown): Array<Record<string, unknown>> => {
    if (!Array.isArray(list)) throw new GraphFail(400, 'BadRequest', "The parameter 'assignments' is required.", { intune: true });
    const out: Array<Record<string, unknown>> = [];
    const seen = new Set<string>();
    for (const a of list as Array<Record<string, unknown>>) {
      const problem = assignmentTargetProblem(a?.target);
      if (problem) throw new GraphFail(400, 'BadRequest', problem, { intune: true });
      const id = assignmentId(String(p.record.id), a.target as Record<string, unknown>);
      if (seen.has(id)) throw new GraphFail(400, 'BadRequest', `Duplicate assignment target '${id}'`, { intune: true });
      seen.add(id);
      const rec: Record<string, unknown> = { id, target: structuredClone(a.target) };
      if (p.kind === 'configuration' && ctx.version === 'beta') Object.assign(rec, { intent: 'apply', source: 'direct', sourceId: null });
      out.push(rec);
    }
    return out;
  };

  const blockActionProblem = (rules: unknown): string | undefined => {
    if (!Array.isArray(rules) || rules.length !== 1) return 'A compliance policy must have exactly one scheduledActionsForRule entry';
    const configs = (rules[0] as Record<string, unknown>)?.scheduledActionConfigurations;
    if (!Array.isArray(configs)) return 'scheduledActionConfigurations is required';
    const blocks = configs.filter((c) => (c as Record<string, unknown>)?.actionType === 'block').length;
    if (blocks !== 1) return `A compliance policy must have exactly one scheduled action of type 'block' (found ${blocks})`;
    return undefined;
  };

  const storeRules = (rules: unknown): StoredPolicy['rules'] =>
    (rules as Array<Record<string, unknown>>).map((r) => ({
      id: randomUUID(),
      ruleName: (r.ruleName as string | undefined) ?? null,
      scheduledActionConfigurations: ((r.scheduledActionConfigurations as Array<Record<string, unknown>>) ?? []).map((c) => ({
        id: randomUUID(),
        gracePeriodHours: 0,
        notificationTemplateId: '00000000-0000-0000-0000-000000000000',
        notificationMessageCCList: [],
        ...storable(c),
      })),
    }));

  const policyView = (ctx: Ctx, p: StoredPolicy, expand: ExpandItem[]): Record<string, unknown> => {
    const type = String(p.record['@odata.type']);
    const out = applySelect(ctx, type, project(ctx.version, type, p.record));
    for (const e of expand) {
      if (e.name === 'assignments') out.assignments = structuredClone(p.assignments);
      else if (e.name === 'scheduledActionsForRule' && p.kind === 'compliance') {
        const nested = e.expand.some((x) => x.name === 'scheduledActionConfigurations');
        out.scheduledActionsForRule = p.rules.map((r) => ({ id: r.id, ruleName: r.ruleName, ...(nested ? { scheduledActionConfigurations: structuredClone(r.scheduledActionConfigurations) } : {}) }));
      } else throw new GraphFail(400, 'BadRequest', `Could not find a navigation property named '${e.name}' on type '${type.replace(/^#/, '')}' that can be expanded.`);
    }
    return out;
  };

  const expandOf = (ctx: Ctx): ExpandItem[] => {
    const src = ctx.query.get('$expand');
    if (src === null) return [];
    try {
      return parseExpand(src);
    } catch (e) {
      throw new GraphFail(400, 'BadRequest', (e as FilterError).message);
    }
  };

  const policyRoute = (ctx: Ctx, kind: StoredPolicy['kind'], collection: string, rest: string[]): Resp => {
    const base = kind === 'configuration' ? 'microsoft.graph.deviceConfiguration' : 'microsoft.graph.deviceCompliancePolicy';
    const write = WRITE_METHODS.has(ctx.method);
    requireRole(ctx, 'config', write);
    const fragment = `deviceManagement/${collection}`;
    if (rest.length === 0) {
      if (ctx.method === 'GET') {
        const f = filterOf(ctx, FILTERS.policies!, 'policy');
        const expand = expandOf(ctx);
        const list = [...tenant.policies.values()]
          .filter((p) => p.kind === kind && visibleIn(ctx.version, String(p.record['@odata.type'])))
          .filter((p) => !f || matches(f, p.record))
          .map((p) => policyView(ctx, p, expand));
        return page(ctx, list, fragment, false);
      }
      if (ctx.method === 'POST') {
        const body = objBody(ctx);
        const type = typeof body['@odata.type'] === 'string' ? (body['@odata.type'] as string) : '';
        if (!type) throw new GraphFail(400, 'BadRequest', `The '@odata.type' of the ${kind === 'configuration' ? 'deviceConfiguration' : 'deviceCompliancePolicy'} is required: the type is abstract.`, { intune: true });
        checkEntity(ctx, base, body, 'create');
        if (!schemaChecks && !platformOf(type)) throw new GraphFail(400, 'BadRequest', `Unknown type '${type}'.`, { intune: true });
        if (typeof body.displayName !== 'string' || body.displayName === '') throw new GraphFail(400, 'BadRequest', 'displayName is required', { intune: true });
        let rules: StoredPolicy['rules'] = [];
        if (kind === 'compliance') {
          const problem = blockActionProblem(body.scheduledActionsForRule);
          if (problem) throw new GraphFail(400, 'BadRequest', problem, { intune: true });
          rules = storeRules(body.scheduledActionsForRule);
        }
        const now = new Date(clock()).toISOString();
        const fields = storable(body);
        delete fields.scheduledActionsForRule;
        delete fields.assignments;
        const rec = withDefaults(ctx.version, type, { '@odata.type': type, id: randomUUID(), ...fields, createdDateTime: now, lastModifiedDateTime: now, version: 1 });
        const p: StoredPolicy = { kind, record: rec, assignments: [], rules };
        tenant.policies.set(String(rec.id), p);
        return ok({ '@odata.context': context(ctx, `${fragment}/$entity`), ...project(ctx.version, type, rec) }, 201);
      }
      throw methodNotAllowed(ctx);
    }
    const p = tenant.policies.get(rest[0]!);
    if (!p || p.kind !== kind || !visibleIn(ctx.version, String(p.record['@odata.type']))) {
      throw new GraphFail(404, 'ResourceNotFound', `No ${kind === 'configuration' ? 'DeviceConfiguration' : 'DeviceCompliancePolicy'} found with id ${rest[0]}`, { intune: true });
    }
    const type = String(p.record['@odata.type']);
    if (rest.length === 1) {
      if (ctx.method === 'GET') return ok({ '@odata.context': context(ctx, `${fragment}/$entity`), ...policyView(ctx, p, expandOf(ctx)) });
      if (ctx.method === 'PATCH') {
        const body = objBody(ctx);
        if (body['@odata.type'] === undefined) throw new GraphFail(400, 'BadRequest', `The '@odata.type' is required when updating a ${type.replace(/^#microsoft\.graph\./, '')}.`, { intune: true });
        if (body['@odata.type'] !== type) throw new GraphFail(400, 'BadRequest', `The type of an existing policy cannot change (it is ${type}).`, { intune: true });
        checkEntity(ctx, type, body, 'update');
        const fields = storable(body);
        for (const k of ['id', 'createdDateTime', 'lastModifiedDateTime', 'version']) delete fields[k];
        p.record = { ...p.record, ...fields, lastModifiedDateTime: new Date(clock()).toISOString(), version: Number(p.record.version) + 1 };
        return noContent();
      }
      if (ctx.method === 'DELETE') {
        tenant.policies.delete(rest[0]!);
        return noContent();
      }
      throw methodNotAllowed(ctx);
    }
    const sub = rest[1]!;
    if (sub === 'assign' && rest.length === 2 && ctx.method === 'POST') {
      const body = objBody(ctx);
      checkAction(ctx, type, 'assign', body);
      p.assignments = makeAssignments(ctx, p, body.assignments);
      return ok({ '@odata.context': context(ctx, `Collection(microsoft.graph.${kind === 'configuration' ? 'deviceConfigurationAssignment' : 'deviceCompliancePolicyAssignment'})`), value: structuredClone(p.assignments) });
    }
    if (sub === 'assignments') {
      const atype = kind === 'configuration' ? 'microsoft.graph.deviceConfigurationAssignment' : 'microsoft.graph.deviceCompliancePolicyAssignment';
      if (rest.length === 2 && ctx.method === 'GET') return page(ctx, structuredClone(p.assignments), `${fragment}('${p.record.id}')/assignments`, false);
      if (rest.length === 2 && ctx.method === 'POST') {
        const body = objBody(ctx);
        checkEntity(ctx, atype, body, 'create');
        const [a] = makeAssignments(ctx, p, [body]);
        if (p.assignments.some((x) => x.id === a!.id)) throw new GraphFail(400, 'BadRequest', `Assignment '${a!.id}' already exists`, { intune: true });
        p.assignments.push(a!);
        return ok({ '@odata.context': context(ctx, `${fragment}('${p.record.id}')/assignments/$entity`), ...a }, 201);
      }
      if (rest.length === 3) {
        const a = p.assignments.find((x) => x.id === rest[2]);
        if (!a) throw new GraphFail(404, 'ResourceNotFound', `No assignment found with id ${rest[2]}`, { intune: true });
        if (ctx.method === 'GET') return ok({ '@odata.context': context(ctx, `${fragment}('${p.record.id}')/assignments/$entity`), ...structuredClone(a) });
        if (ctx.method === 'DELETE') {
          p.assignments = p.assignments.filter((x) => x !== a);
          return noContent();
        }
      }
      throw methodNotAllowed(ctx);
    }
    if (kind === 'compliance' && sub === 'scheduledActionsForRule' && ctx.method === 'GET') {
      const nested = expandOf(ctx).some((x) => x.name === 'scheduledActionConfigurations');
      if (rest.length === 2) return page(ctx, p.rules.map((r) => ({ id: r.id, ruleName: r.ruleName, ...(nested ? { scheduledActionConfigurations: structuredClone(r.scheduledActionConfigurations) } : {}) })), `${fragment}('${p.record.id}')/scheduledActionsForRule`, false);
      const r = p.rules.find((x) => x.id === rest[2]);
      if (!r) throw new GraphFail(404, 'ResourceNotFound', `No scheduledActionForRule found with id ${rest[2]}`, { intune: true });
      if (rest.length === 4 && rest[3] === 'scheduledActionConfigurations') return page(ctx, structuredClone(r.scheduledActionConfigurations), `${fragment}('${p.record.id}')/scheduledActionsForRule('${r.id}')/scheduledActionConfigurations`, false);
      return ok({ id: r.id, ruleName: r.ruleName });
    }
    if (kind === 'compliance' && sub === 'scheduleActionsForRules' && rest.length === 2 && ctx.method === 'POST') {
      const body = objBody(ctx);
      checkAction(ctx, type, 'scheduleActionsForRules', body);
      const problem = blockActionProblem(body.deviceComplianceScheduledActionForRules);
      if (problem) throw new GraphFail(400, 'BadRequest', problem, { intune: true });
      p.rules = storeRules(body.deviceComplianceScheduledActionForRules);
      p.record = { ...p.record, lastModifiedDateTime: new Date(clock()).toISOString(), version: Number(p.record.version) + 1 };
      return noContent();
    }
    if (kind === 'compliance' && sub === 'deviceStatuses' && rest.length === 2 && ctx.method === 'GET') {
      const list: Array<Record<string, unknown>> = [];
      for (const d of tenant.devices.values()) {
        const st = policyStates(d).find((s) => s.policy === p);
        if (!st) continue;
        list.push({
          id: `${d.managed.id}_${p.record.id}`,
          deviceDisplayName: d.managed.deviceName,
          userName: d.managed.userDisplayName,
          deviceModel: d.managed.model,
          platform: 0,
          complianceGracePeriodExpirationDateTime: st.graceEnds ? new Date(st.graceEnds).toISOString() : '9999-12-31T23:59:59Z',
          status: st.state,
          lastReportedDateTime: d.managed.lastSyncDateTime,
          userPrincipalName: d.managed.userPrincipalName,
        });
      }
      if (ctx.version === 'v1.0') for (const x of list) delete x.platform;
      return page(ctx, list, `${fragment}('${p.record.id}')/deviceStatuses`, false);
    }
    throw notFoundSegment(sub);
  };

  // --- compliance evaluation ---------------------------------------------------------------------

  const deviceInTarget = (d: StoredDevice, target: Record<string, unknown>): boolean => {
    const type = String(target['@odata.type']);
    if (type.includes('allDevices') || type.includes('allLicensedUsers')) return true;
    const g = tenant.groups.get(String(target.groupId));
    return !!g && groupMembers(g).includes(String(d.entra.id));
  };

  const policyApplies = (p: StoredPolicy, d: StoredDevice): boolean => {
    const type = String(p.record['@odata.type']);
    if (platformOf(type) !== devicePlatform(d)) return false;
    // Android policies are per management mode: work profile (personal) or fully managed (corporate).
    if (/^#?microsoft\.graph\.androidWorkProfile/.test(type) && d.managed.managedDeviceOwnerType !== 'personal') return false;
    if (/^#?microsoft\.graph\.androidDeviceOwner/.test(type) && d.managed.managedDeviceOwnerType !== 'company') return false;
    const included = p.assignments.some((a) => !String((a.target as Record<string, unknown>)['@odata.type']).includes('exclusion') && deviceInTarget(d, a.target as Record<string, unknown>));
    const excluded = p.assignments.some((a) => String((a.target as Record<string, unknown>)['@odata.type']).includes('exclusion') && deviceInTarget(d, a.target as Record<string, unknown>));
    return included && !excluded;
  };

  interface PolicyState {
    policy: StoredPolicy;
    state: 'compliant' | 'nonCompliant';
    graceEnds?: number;
    settings: Array<{ setting: string; settingName: string; state: 'compliant' | 'nonCompliant'; currentValue: string }>;
  }

  const policyStates = (d: StoredDevice): PolicyState[] => {
    const out: PolicyState[] = [];
    for (const p of tenant.policies.values()) {
      if (p.kind !== 'compliance' || !policyApplies(p, d)) continue;
      const r = p.record;
      const typeShort = String(r['@odata.type']).replace(/^#microsoft\.graph\./, '');
      const settings: PolicyState['settings'] = [];
      const check = (name: string, failing: boolean, currentValue: string) =>
        settings.push({ setting: `${typeShort[0]!.toUpperCase()}${typeShort.slice(1)}.${name}`, settingName: name, state: failing ? 'nonCompliant' : 'compliant', currentValue });
      if (typeof r.osMinimumVersion === 'string' && r.osMinimumVersion) check('osMinimumVersion', compareVersions(d.posture.osVersion, r.osMinimumVersion) < 0, d.posture.osVersion);
      if (typeof r.osMaximumVersion === 'string' && r.osMaximumVersion) check('osMaximumVersion', compareVersions(d.posture.osVersion, r.osMaximumVersion) > 0, d.posture.osVersion);
      if (r.storageRequireEncryption === true || r.bitLockerEnabled === true) check(r.storageRequireEncryption === true ? 'storageRequireEncryption' : 'bitLockerEnabled', !d.posture.isEncrypted, String(d.posture.isEncrypted));
      if (r.passwordRequired === true || r.passcodeRequired === true) check(r.passwordRequired === true ? 'passwordRequired' : 'passcodeRequired', !d.posture.passcodeSet, String(d.posture.passcodeSet));
      if (r.securityBlockJailbrokenDevices === true) check('securityBlockJailbrokenDevices', d.posture.jailBroken, String(d.posture.jailBroken));
      if (typeof r.minAndroidSecurityPatchLevel === 'string' && r.minAndroidSecurityPatchLevel) {
        const level = d.posture.androidSecurityPatchLevel ?? '';
        check('minAndroidSecurityPatchLevel', level < r.minAndroidSecurityPatchLevel, level);
      }
      const failing = settings.some((s) => s.state === 'nonCompliant');
      const key = String(r.id);
      let graceEnds: number | undefined;
      if (failing) {
        if (!d.noncompliantSince.has(key)) d.noncompliantSince.set(key, clock());
        const block = p.rules[0]?.scheduledActionConfigurations.find((c) => c.actionType === 'block');
        graceEnds = d.noncompliantSince.get(key)! + Number(block?.gracePeriodHours ?? 0) * 3_600_000;
      } else d.noncompliantSince.delete(key);
      out.push({ policy: p, state: failing ? 'nonCompliant' : 'compliant', graceEnds, settings });
    }
    return out;
  };

  /** The device as Intune reports it now: compliance from its assigned policies, actions advanced by this read. */
  const observeDevice = (d: StoredDevice, advance: boolean): Record<string, unknown> => {
    if (advance) {
      for (const [action, left] of d.pendingActions) {
        const res = (d.managed.deviceActionResults as Array<Record<string, unknown>>).filter((x) => x.actionName === action).pop();
        if (!res) continue;
        if (left <= 1) {
          d.pendingActions.delete(action);
          const failure = liveFaults('failAction').find((f) => f.opts.action === action && (f.opts.deviceId === undefined || f.opts.deviceId === d.managed.id));
          if (failure) failure.hits++;
          res.actionState = failure ? String(failure.opts.state) : 'done';
          res.lastUpdatedDateTime = new Date(clock()).toISOString();
          if (!failure && (action === 'wipe' || action === 'retire')) d.managed.managementState = action === 'wipe' ? 'wipeIssued' : 'retireIssued';
          if (failure && (action === 'wipe' || action === 'retire')) d.managed.managementState = action === 'wipe' ? 'wipeFailed' : 'retireFailed';
        } else {
          d.pendingActions.set(action, left - 1);
        }
      }
    }
    const states = policyStates(d);
    if (states.length > 0) {
      const now = clock();
      const failing = states.filter((s) => s.state === 'nonCompliant');
      const inGrace = failing.length > 0 && failing.every((s) => s.graceEnds !== undefined && now < s.graceEnds);
      d.managed.complianceState = failing.length === 0 ? 'compliant' : inGrace ? 'inGracePeriod' : 'noncompliant';
      const graceEnd = failing.map((s) => s.graceEnds ?? now).sort((a, b) => a - b)[0];
      d.managed.complianceGracePeriodExpirationDateTime = failing.length > 0 && graceEnd !== undefined ? new Date(graceEnd).toISOString() : '9999-12-31T23:59:59Z';
    }
    return d.managed;
  };

  const managedRoute = (ctx: Ctx, rest: string[]): Resp => {
    const write = WRITE_METHODS.has(ctx.method);
    const fragment = 'deviceManagement/managedDevices';
    if (rest.length === 0) {
      requireRole(ctx, 'managed', write);
      if (ctx.method !== 'GET') throw methodNotAllowed(ctx);
      const f = filterOf(ctx, FILTERS.managedDevices!, 'managedDevice');
      noExpand(ctx, 'microsoft.graph.managedDevice');
      const all = [...tenant.devices.values()];
      const list = all.map((d) => observeDevice(d, true)).filter((r) => !f || matches(f, r));
      return page(ctx, list.map((r) => applySelect(ctx, 'microsoft.graph.managedDevice', project(ctx.version, 'microsoft.graph.managedDevice', r))), fragment, false);
    }
    const d = tenant.devices.get(rest[0]!);
    if (!d) throw new GraphFail(404, 'ResourceNotFound', `Resource not found: managedDevice ${rest[0]}`, { intune: true });
    if (rest.length === 1) {
      requireRole(ctx, 'managed', write);
      if (ctx.method === 'GET' && noExpand(ctx, 'microsoft.graph.managedDevice')) return ok({ '@odata.context': context(ctx, `${fragment}/$entity`), ...applySelect(ctx, 'microsoft.graph.managedDevice', project(ctx.version, 'microsoft.graph.managedDevice', observeDevice(d, true))) });
      throw methodNotAllowed(ctx);
    }
    const sub = rest[1]!;
    if (sub === 'deviceCompliancePolicyStates' && rest.length === 2 && ctx.method === 'GET') {
      requireRole(ctx, 'managed', false);
      observeDevice(d, false);
      const list = policyStates(d).map((s) => ({
        id: String(s.policy.record.id),
        displayName: s.policy.record.displayName,
        version: s.policy.record.version,
        platformType: { android: 'android', ios: 'iOS', macos: 'macOS', windows: 'windows10AndLater' }[devicePlatform(d)],
        state: s.state,
        settingCount: s.settings.length,
        settingStates: s.settings.map((x) => ({ setting: x.setting, settingName: x.settingName, instanceDisplayName: null, state: x.state, errorCode: 0, errorDescription: null, userId: d.managed.userId, userName: d.managed.userDisplayName, userEmail: d.managed.emailAddress, userPrincipalName: d.managed.userPrincipalName, sources: [], currentValue: x.currentValue })),
      }));
      return page(ctx, list, `${fragment}('${d.managed.id}')/deviceCompliancePolicyStates`, false);
    }
    if (rest.length === 2 && ctx.method === 'POST' && DEVICE_ACTIONS.has(sub)) {
      requireRole(ctx, sub === 'syncDevice' || sub === 'locateDevice' ? 'managed' : 'privileged', true);
      const body = ctx.hasBody ? ctx.body : {};
      checkAction(ctx, 'microsoft.graph.managedDevice', sub, body);
      // Every action that reaches Intune is logged, refused or not, so a duplicate shows even when Intune turns it down.
      const attempt = { deviceId: String(d.managed.id), action: sub, at: clock(), body: structuredClone(body), accepted: false };
      tenant.actionLog.push(attempt);
      const platform = devicePlatform(d);
      if (sub === 'remoteLock' && platform === 'windows') throw new GraphFail(400, 'BadRequest', 'The remoteLock action is not supported on Windows devices', { intune: true });
      if (String(d.managed.managementState).match(/^(wipe|retire)(Issued|Pending)$/)) throw new GraphFail(400, 'BadRequest', `The device is being ${String(d.managed.managementState).startsWith('wipe') ? 'wiped' : 'retired'}`, { intune: true });
      attempt.accepted = true;
      const now = new Date(clock()).toISOString();
      const results = d.managed.deviceActionResults as Array<Record<string, unknown>>;
      const existing = results.find((x) => x.actionName === sub);
      const result = { actionName: sub, actionState: 'pending', startDateTime: now, lastUpdatedDateTime: now };
      if (existing) Object.assign(existing, result);
      else results.push(result);
      d.pendingActions.set(sub, actionReadsToDone);
      if (sub === 'wipe' || sub === 'retire') d.managed.managementState = sub === 'wipe' ? 'wipePending' : 'retirePending';
      return noContent();
    }
    if (rest.length === 2 && ctx.method === 'POST') {
      if (schemaChecks && hasAction(ctx.version, 'microsoft.graph.managedDevice', sub)) throw new GraphFail(501, 'NotImplemented', `The fake Graph does not implement the '${sub}' action.`);
      throw new GraphFail(400, 'BadRequest', `Resource not found for the segment '${sub}'.`);
    }
    throw notFoundSegment(sub);
  };

  // --- Autopilot and enrollment profiles -------------------------------------------------------

  const importOne = (ctx: Ctx, body: Record<string, unknown>): Record<string, unknown> => {
    const serial = typeof body.serialNumber === 'string' ? body.serialNumber : '';
    const duplicate = serial !== '' && [...tenant.autopilot.values()].some((a) => String(a.record.serialNumber).toLowerCase() === serial.toLowerCase());
    const missingHash = typeof body.hardwareIdentifier !== 'string' || body.hardwareIdentifier === '';
    const rec: Record<string, unknown> = {
      '@odata.type': '#microsoft.graph.importedWindowsAutopilotDeviceIdentity',
      id: randomUUID(),
      orderIdentifier: null,
      serialNumber: serial,
      productKey: '',
      importId: '',
      hardwareIdentifier: null,
      groupTag: '',
      assignedUserPrincipalName: '',
      ...storable(body),
      state: {
        '@odata.type': 'microsoft.graph.importedWindowsAutopilotDeviceIdentityState',
        deviceImportStatus: duplicate || missingHash || !serial ? 'error' : 'pending',
        deviceRegistrationId: '',
        deviceErrorCode: duplicate ? 806 : missingHash || !serial ? 807 : 0,
        deviceErrorName: duplicate ? 'ZtdDeviceAlreadyAssigned' : missingHash || !serial ? 'ZtdDeviceHardwareHashMissing' : '',
      },
    };
    if (ctx.version === 'v1.0') delete rec.orderIdentifier;
    tenant.autopilot.set(String(rec.id), { record: rec, readsLeft: importReadsToDone });
    return rec;
  };

  const observeImport = (a: { record: Record<string, unknown>; readsLeft: number }): Record<string, unknown> => {
    const st = a.record.state as Record<string, unknown>;
    if (st.deviceImportStatus === 'pending') {
      a.readsLeft--;
      if (a.readsLeft <= 0) {
        st.deviceImportStatus = 'complete';
        st.deviceRegistrationId = randomUUID();
      }
    }
    return structuredClone(a.record);
  };

  const autopilotRoute = (ctx: Ctx, rest: string[]): Resp => {
    const write = WRITE_METHODS.has(ctx.method);
    requireRole(ctx, 'service', write);
    const type = 'microsoft.graph.importedWindowsAutopilotDeviceIdentity';
    const fragment = 'deviceManagement/importedWindowsAutopilotDeviceIdentities';
    if (rest.length === 0) {
      if (ctx.method === 'GET') {
        const f = filterOf(ctx, FILTERS.autopilot!, 'importedWindowsAutopilotDeviceIdentity');
        noExpand(ctx, type);
        const list = [...tenant.autopilot.values()].map(observeImport).filter((r) => !f || matches(f, r));
        return page(ctx, list.map((r) => applySelect(ctx, type, r)), fragment, false);
      }
      if (ctx.method === 'POST') {
        const body = objBody(ctx);
        checkEntity(ctx, type, body, 'create');
        return ok({ '@odata.context': context(ctx, `${fragment}/$entity`), ...structuredClone(importOne(ctx, body)) }, 201);
      }
      throw methodNotAllowed(ctx);
    }
    if (rest[0] === 'import' && rest.length === 1 && ctx.method === 'POST') {
      const body = objBody(ctx);
      checkAction(ctx, type, 'import', body, true);
      const list = body.importedWindowsAutopilotDeviceIdentities;
      if (!Array.isArray(list) || list.length === 0) throw new GraphFail(400, 'BadRequest', "The parameter 'importedWindowsAutopilotDeviceIdentities' is required.", { intune: true });
      if (list.length > 500) throw new GraphFail(400, 'BadRequest', 'At most 500 devices can be imported in one request.', { intune: true });
      const out = (list as Array<Record<string, unknown>>).map((b) => structuredClone(importOne(ctx, b)));
      return ok({ '@odata.context': context(ctx, `Collection(${type})`), value: out });
    }
    const a = tenant.autopilot.get(rest[0]!);
    if (!a || rest.length > 1) throw new GraphFail(404, 'ResourceNotFound', `No importedWindowsAutopilotDeviceIdentity found with id ${rest[0]}`, { intune: true });
    if (ctx.method === 'GET') return ok({ '@odata.context': context(ctx, `${fragment}/$entity`), ...applySelect(ctx, type, observeImport(a)) });
    if (ctx.method === 'DELETE') {
      tenant.autopilot.delete(rest[0]!);
      return noContent();
    }
    throw methodNotAllowed(ctx);
  };

  const ENROLLMENT_MODES = new Set(['corporateOwnedDedicatedDevice', 'corporateOwnedFullyManaged', 'corporateOwnedWorkProfile', 'corporateOwnedAOSPUserlessDevice', 'corporateOwnedAOSPUserAssociatedDevice']);

  const profilesRoute = (ctx: Ctx, rest: string[]): Resp => {
    if (ctx.version !== 'beta') throw new GraphFail(400, 'BadRequest', "Resource not found for the segment 'androidDeviceOwnerEnrollmentProfiles'.");
    const write = WRITE_METHODS.has(ctx.method);
    requireRole(ctx, 'service', write);
    const type = 'microsoft.graph.androidDeviceOwnerEnrollmentProfile';
    const fragment = 'deviceManagement/androidDeviceOwnerEnrollmentProfiles';
    if (rest.length === 0) {
      if (ctx.method === 'GET') {
        const f = filterOf(ctx, FILTERS.profiles!, 'androidDeviceOwnerEnrollmentProfile');
        noExpand(ctx, type);
        const list = [...tenant.enrollmentProfiles.values()].filter((r) => !f || matches(f, r)).map((r) => applySelect(ctx, type, structuredClone(r)));
        return page(ctx, list, fragment, false);
      }
      if (ctx.method === 'POST') {
        const body = objBody(ctx);
        checkEntity(ctx, type, body, 'create');
        if (typeof body.displayName !== 'string' || body.displayName === '') throw new GraphFail(400, 'BadRequest', 'displayName is required', { intune: true });
        if (body.enrollmentMode !== undefined && !ENROLLMENT_MODES.has(String(body.enrollmentMode))) throw new GraphFail(400, 'BadRequest', `Invalid enrollmentMode '${String(body.enrollmentMode)}'`, { intune: true });
        const now = new Date(clock()).toISOString();
        const rec: Record<string, unknown> = {
          '@odata.type': '#microsoft.graph.androidDeviceOwnerEnrollmentProfile',
          id: randomUUID(),
          accountId: tenantId,
          displayName: '',
          description: null,
          enrollmentMode: 'corporateOwnedDedicatedDevice',
          enrollmentTokenType: 'default',
          enrollmentTokenUsageCount: 0,
          isTeamsDeviceProfile: false,
          enrolledDeviceCount: 0,
          tokenValue: null,
          tokenCreationDateTime: '0001-01-01T00:00:00Z',
          tokenExpirationDateTime: '0001-01-01T00:00:00Z',
          qrCodeContent: null,
          qrCodeImage: null,
          roleScopeTagIds: ['0'],
          wifiSsid: null,
          wifiPassword: null,
          wifiSecurityType: 'none',
          wifiHidden: false,
          configureWifi: false,
          deviceNameTemplate: null,
          ...storable(body),
          createdDateTime: now,
          lastModifiedDateTime: now,
        };
        tenant.enrollmentProfiles.set(String(rec.id), rec);
        return ok({ '@odata.context': context(ctx, `${fragment}/$entity`), ...structuredClone(rec) }, 201);
      }
      throw methodNotAllowed(ctx);
    }
    const rec = tenant.enrollmentProfiles.get(rest[0]!);
    if (!rec) throw new GraphFail(404, 'ResourceNotFound', `No androidDeviceOwnerEnrollmentProfile found with id ${rest[0]}`, { intune: true });
    if (rest.length === 1) {
      if (ctx.method === 'GET') return ok({ '@odata.context': context(ctx, `${fragment}/$entity`), ...applySelect(ctx, type, structuredClone(rec)) });
      if (ctx.method === 'PATCH') {
        const body = objBody(ctx);
        checkEntity(ctx, type, body, 'update');
        const fields = storable(body);
        for (const k of ['id', 'createdDateTime', 'lastModifiedDateTime', 'tokenValue', 'qrCodeContent']) delete fields[k];
        Object.assign(rec, fields, { lastModifiedDateTime: new Date(clock()).toISOString() });
        return noContent();
      }
      if (ctx.method === 'DELETE') {
        tenant.enrollmentProfiles.delete(rest[0]!);
        return noContent();
      }
      throw methodNotAllowed(ctx);
    }
    if (rest.length === 2 && rest[1] === 'createToken' && ctx.method === 'POST') {
      const body = ctx.hasBody ? ctx.body : {};
      const problems: SchemaProblem[] = [];
      if (body === null || typeof body !== 'object' || Array.isArray(body)) problems.push({ path: '', expected: 'object with tokenValidityInSeconds', got: typeof body });
      else {
        for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
          if (k !== 'tokenValidityInSeconds') problems.push({ path: k, expected: 'a parameter of createToken (tokenValidityInSeconds)', got: `unknown parameter "${k}"` });
          else if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2147483647) problems.push({ path: k, expected: 'Edm.Int32 (integer -2147483648..2147483647)', got: JSON.stringify(v) });
        }
      }
      // createToken is beta-only: the mapping files publish no actions, so its one parameter is checked here.
      if (schemaChecks) schemaGate(ctx, `${type}/createToken`, problems);
      else if (problems.length > 0) throw new GraphFail(400, 'BadRequest', 'Invalid createToken body.');
      const validity = Number((body as Record<string, unknown>).tokenValidityInSeconds ?? 7_776_000);
      if (validity > 7_776_000) throw new GraphFail(400, 'BadRequest', 'Token validity cannot exceed 90 days', { intune: true });
      const tokenValue = Array.from(randomBytes(20), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[b % 26]).join('');
      const now = clock();
      Object.assign(rec, {
        tokenValue,
        tokenCreationDateTime: new Date(now).toISOString(),
        tokenExpirationDateTime: new Date(now + validity * 1000).toISOString(),
        qrCodeContent: JSON.stringify({
          'android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME': 'com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver',
          'android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM': 'I5YvS0O5hXY46mb01BlRjq4oJJGs2kuUcHvVkAPEXlg',
          'android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION': 'https://play.google.com/managed/downloadManagingApp?identifier=setup',
          'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE': { 'com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN': tokenValue },
        }),
        lastModifiedDateTime: new Date(now).toISOString(),
      });
      return noContent();
    }
    if (rest.length === 2 && rest[1] === 'revokeToken' && ctx.method === 'POST') {
      const extra = ctx.hasBody && ctx.body && typeof ctx.body === 'object' ? Object.keys(ctx.body as object) : [];
      if (extra.length > 0 && schemaChecks) schemaGate(ctx, `${type}/revokeToken`, extra.map((k) => ({ path: k, expected: 'no parameters (revokeToken takes none)', got: `unknown parameter "${k}"` })));
      Object.assign(rec, { tokenValue: null, qrCodeContent: null, tokenExpirationDateTime: '0001-01-01T00:00:00Z', lastModifiedDateTime: new Date(clock()).toISOString() });
      return noContent();
    }
    throw notFoundSegment(rest[1] ?? '');
  };

  const methodNotAllowed = (ctx: Ctx) => new GraphFail(405, 'BadRequest', `The HTTP method '${ctx.method}' is not allowed on ${ctx.path}.`);
  const notFoundSegment = (seg: string) => new GraphFail(400, 'BadRequest', `Resource not found for the segment '${seg}'.`);

  const route = (ctx: Ctx): Resp => {
    const [first, ...rest] = ctx.segments;
    switch (first) {
      case 'groups':
        return groupsRoute(ctx, rest);
      case 'devices':
        return devicesRoute(ctx, rest);
      case 'directoryObjects': {
        if (ctx.method !== 'GET' || rest.length !== 1) throw methodNotAllowed(ctx);
        const g = tenant.groups.get(rest[0]!);
        if (g && isGroupVisible(g)) return groupsRoute(ctx, rest);
        return devicesRoute(ctx, rest);
      }
      case 'deviceManagement': {
        const [coll, ...tail] = rest;
        switch (coll) {
          case 'deviceConfigurations':
            return policyRoute(ctx, 'configuration', coll, tail);
          case 'deviceCompliancePolicies':
            return policyRoute(ctx, 'compliance', coll, tail);
          case 'managedDevices':
            return managedRoute(ctx, tail);
          case 'importedWindowsAutopilotDeviceIdentities':
            return autopilotRoute(ctx, tail);
          case 'androidDeviceOwnerEnrollmentProfiles':
            return profilesRoute(ctx, tail);
          default:
            throw notFoundSegment(coll ?? 'deviceManagement');
        }
      }
      default:
        throw new GraphFail(400, 'BadRequest', `Resource not found for the segment '${first ?? ''}'.`);
    }
  };

  /** Counts a write against Intune's per-app configuration write limit; a 429 when it is reached. */
  const writeLimited = (ctx: { method: string; path: string }): GraphFail | undefined => {
    if (!writeLimit || !WRITE_METHODS.has(ctx.method) || !ctx.path.startsWith('/deviceManagement/') || ctx.path.startsWith('/deviceManagement/managedDevices')) return undefined;
    const now = clock();
    while (writeTimes.length > 0 && writeTimes[0]! <= now - writeLimit.windowMs) writeTimes.shift();
    if (writeTimes.length >= writeLimit.writes) {
      const retry = Math.max(1, Math.ceil((writeTimes[0]! + writeLimit.windowMs - now) / 1000));
      return throttleFail(retry);
    }
    writeTimes.push(now);
    return undefined;
  };

  const errorResp = (ctx: Ctx, e: GraphFail): Resp => {
    const inner: Record<string, unknown> = { date: graphDate(clock()), 'request-id': ctx.requestId, 'client-request-id': ctx.clientRequestId };
    if (e.opts.innerCode) Object.assign(inner, { code: String(e.status), message: e.message, status: String(e.status) });
    const error: Record<string, unknown> = { code: e.code, message: e.opts.intune ? intuneMessage(e.message, ctx, clock()) : e.message, innerError: inner };
    if (e.opts.details) error.details = e.opts.details;
    return { status: e.status, headers: { ...(e.opts.headers ?? {}) }, body: { error } };
  };

  const parseSegments = (path: string): string[] | undefined => {
    const out: string[] = [];
    for (const raw of path.split('/').filter(Boolean)) {
      let seg: string;
      try {
        seg = decodeURIComponent(raw);
      } catch {
        return undefined;
      }
      // OData key syntax: managedDevices('id') is managedDevices/id.
      const m = /^([A-Za-z$][\w$]*)\('([^']*)'\)$/.exec(seg) ?? /^([A-Za-z$][\w$]*)\(([0-9a-fA-F-]{36})\)$/.exec(seg);
      if (m) out.push(m[1]!, m[2]!);
      else out.push(seg);
    }
    return out;
  };

  /** One Graph request, from HTTP or from inside a $batch. */
  const dispatch = (input: { method: string; rawPath: string; headers: Record<string, string>; bodyText?: string; bodyValue?: unknown; inBatch: boolean; roles?: ReadonlySet<string>; version?: GraphVersion }): Resp => {
    requestCount++;
    const requestId = randomUUID();
    const clientRequestId = input.headers['client-request-id'] ?? requestId;
    const url = new URL(input.rawPath, 'http://graph.invalid');
    const log: LoggedRequest = { at: clock(), method: input.method, path: url.pathname, url: input.rawPath, host: 'graph', inBatch: input.inBatch, status: 0, clientRequestId };
    requests.push(log);
    let version = input.version;
    let path = url.pathname;
    if (!version) {
      const vm = /^\/(v1\.0|beta)(\/.*)?$/.exec(url.pathname);
      if (!vm) {
        const r: Resp = { status: 400, headers: {}, body: { error: { code: 'BadRequest', message: `Invalid version: ${url.pathname.split('/')[1] ?? ''}`, innerError: { date: graphDate(clock()), 'request-id': requestId, 'client-request-id': clientRequestId } } } };
        log.status = r.status;
        return r;
      }
      version = vm[1] as GraphVersion;
      path = vm[2] ?? '/';
    }
    log.version = version;
    log.path = path;
    const ctx: Ctx = {
      method: input.method,
      version,
      segments: parseSegments(path) ?? [],
      path,
      query: url.searchParams,
      headers: input.headers,
      body: undefined,
      hasBody: false,
      inBatch: input.inBatch,
      requestId,
      clientRequestId,
      roles: input.roles ?? new Set(),
    };
    const finish = (r: Resp): Resp => {
      r.headers['request-id'] = requestId;
      r.headers['client-request-id'] = clientRequestId;
      r.headers['x-ms-ags-diagnostic'] = JSON.stringify({ ServerInfo: { DataCenter: 'Test', Slice: 'E', Ring: '0', ScaleUnit: '000', RoleInstance: 'FAKE000001' } });
      log.status = r.status;
      return r;
    };
    try {
      if (!input.inBatch) {
        const auth = /^Bearer\s+(.+)$/i.exec(input.headers.authorization ?? '');
        const wwwAuth = { 'WWW-Authenticate': `Bearer realm="", authorization_uri="${loginUrl}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"` };
        if (!auth) throw new GraphFail(401, 'InvalidAuthenticationToken', 'Access token is empty.', { headers: wwwAuth });
        const t = tokens.get(auth[1]!);
        if (!t) throw new GraphFail(401, 'InvalidAuthenticationToken', auth[1]!.split('.').length === 3 ? 'Access token validation failure. Invalid audience.' : 'IDX14100: JWT is not well formed, there are no dots (.).', { headers: wwwAuth });
        if (t.exp <= clock()) throw new GraphFail(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.', { headers: wwwAuth });
        ctx.roles = t.roles;
      }
      const write = WRITE_METHODS.has(ctx.method);
      const faultCtx = { method: ctx.method, path, inBatch: input.inBatch, write: write && path !== '/$batch' };
      let lost: LostWrite | undefined;
      for (const kind of ['unavailable', 'throttle', 'failWrite'] as const) {
        for (const f of liveFaults(kind)) {
          const r = f.apply(faultCtx);
          if (r instanceof GraphFail) throw r;
          if (r) lost = r;
        }
      }
      const gatewayTimeout = () => new GraphFail(504, 'GatewayTimeout', 'The gateway did not receive a response from the service in time.');
      if (lost && !lost.applied) {
        if (lost.drop && !input.inBatch) return finish({ status: 0, headers: {}, drop: true });
        throw gatewayTimeout();
      }
      // The body is parsed (and refused when it is not JSON) before the write limit counts it.
      if (input.bodyValue !== undefined) {
        ctx.body = input.bodyValue;
        ctx.hasBody = true;
      } else if (input.bodyText !== undefined && input.bodyText.length > 0) {
        const ct = (input.headers['content-type'] ?? '').toLowerCase();
        if (!ct.startsWith('application/json')) throw new GraphFail(415, 'UnsupportedMediaType', `Unsupported content type '${input.headers['content-type'] ?? ''}': send application/json.`);
        try {
          ctx.body = JSON.parse(input.bodyText);
          ctx.hasBody = true;
        } catch {
          throw new GraphFail(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.');
        }
      }
      log.body = ctx.body;
      if (path === '/$batch') {
        if (input.inBatch) throw new GraphFail(400, 'BadRequest', 'Nested $batch requests are not supported.');
        if (ctx.method !== 'POST') throw methodNotAllowed(ctx);
        return finish(batch(ctx));
      }
      for (const key of new Set(ctx.query.keys())) {
        if (!key.startsWith('$')) continue;
        if (key === '$search') throw new GraphFail(400, 'BadRequest', 'The fake Graph does not implement $search.');
        if (!['$filter', '$select', '$expand', '$top', '$skip', '$skiptoken', '$count', '$orderby'].includes(key)) {
          throw new GraphFail(400, 'BadRequest', `The query parameter '${key}' is not supported.`);
        }
      }
      if (path === '/$metadata' && ctx.method === 'GET') {
        // The real metadata document, read from the vendor specs (v1.0 only: Microsoft publishes beta's elsewhere).
        if (!schemaChecks || version !== 'v1.0') throw new GraphFail(404, 'NotFound', 'The fake Graph serves $metadata for v1.0 when the vendor specs are present.');
        return finish({ status: 200, headers: { 'Content-Type': 'application/xml' }, body: readFileSync(V1_METADATA_FILE, 'utf8') });
      }
      const limited = writeLimited(ctx);
      if (limited) throw limited;
      if (parseSegments(path) === undefined) throw new GraphFail(400, 'BadRequest', 'Invalid URL encoding.');
      const r = route(ctx);
      if (lost) {
        if (lost.drop && !input.inBatch) return finish({ status: 0, headers: {}, drop: true });
        throw gatewayTimeout();
      }
      return finish(r);
    } catch (e) {
      if (e instanceof GraphFail) return finish(errorResp(ctx, e));
      return finish(errorResp(ctx, new GraphFail(500, 'InternalServerError', `fake-graph bug: ${(e as Error).stack ?? String(e)}`)));
    }
  };

  // --- $batch ---------------------------------------------------------------------------------------

  const batch = (ctx: Ctx): Resp => {
    const body = ctx.body as Record<string, unknown> | undefined;
    const reqs = body && typeof body === 'object' ? body.requests : undefined;
    if (!Array.isArray(reqs)) throw new GraphFail(400, 'BadRequest', 'Invalid batch payload format.');
    if (schemaChecks) {
      const extra = Object.keys(body!).filter((k) => k !== 'requests');
      if (extra.length > 0) schemaGate(ctx, '$batch', extra.map((k) => ({ path: k, expected: 'only "requests" in a batch body', got: `unknown property "${k}"` })));
    }
    if (reqs.length === 0) throw new GraphFail(400, 'BadRequest', 'Invalid batch payload format: no requests.');
    if (reqs.length > 20) throw new GraphFail(400, 'BadRequest', 'Limit of 20 requests in a batch exceeded.');
    const ids = new Set<string>();
    type Inner = { id: string; method: string; url: string; headers: Record<string, string>; body?: unknown; dependsOn: string[] };
    const inner: Inner[] = [];
    for (const [i, raw] of reqs.entries()) {
      const r = raw as Record<string, unknown>;
      if (!r || typeof r !== 'object' || typeof r.id !== 'string' || r.id === '') throw new GraphFail(400, 'BadRequest', `Request at index ${i} has no id.`);
      if (ids.has(r.id)) throw new GraphFail(400, 'BadRequest', `Batch request ids must be unique: '${r.id}' appears twice.`);
      ids.add(r.id);
      const method = typeof r.method === 'string' ? r.method.toUpperCase() : '';
      if (!['GET', 'POST', 'PATCH', 'PUT', 'DELETE'].includes(method)) throw new GraphFail(400, 'BadRequest', `Invalid method '${String(r.method)}' for request id : ${r.id}.`);
      if (typeof r.url !== 'string' || r.url === '' || /^[a-z]+:\/\//i.test(r.url)) throw new GraphFail(400, 'BadRequest', `Invalid request URL for request id : ${r.id}: it must be relative to the version, e.g. /groups.`);
      const headers: Record<string, string> = {};
      if (r.headers !== undefined) {
        if (!r.headers || typeof r.headers !== 'object' || Array.isArray(r.headers)) throw new GraphFail(400, 'BadRequest', `Invalid headers for request id : ${r.id}.`);
        for (const [k, v] of Object.entries(r.headers as Record<string, unknown>)) headers[k.toLowerCase()] = String(v);
      }
      if (r.body !== undefined && !headers['content-type']) throw new GraphFail(400, 'BadRequest', `Write request id : ${r.id} does not contain Content-Type header or body.`);
      const dependsOn = r.dependsOn === undefined ? [] : r.dependsOn;
      if (!Array.isArray(dependsOn) || dependsOn.some((d) => typeof d !== 'string')) throw new GraphFail(400, 'BadRequest', `Invalid dependsOn for request id : ${r.id}.`);
      if (schemaChecks) {
        const unknown = Object.keys(r).filter((k) => !['id', 'method', 'url', 'headers', 'body', 'dependsOn'].includes(k));
        if (unknown.length > 0) schemaGate(ctx, '$batch', unknown.map((k) => ({ path: `requests[${i}].${k}`, expected: 'id, method, url, headers, body, dependsOn', got: `unknown property "${k}"` })));
      }
      inner.push({ id: r.id, method, url: r.url.startsWith('/') ? r.url : `/${r.url}`, headers, body: r.body, dependsOn: dependsOn as string[] });
    }
    for (const r of inner) for (const d of r.dependsOn) if (!ids.has(d) || d === r.id) throw new GraphFail(400, 'BadRequest', `Request id : ${r.id} depends on unknown request id '${d}'.`);
    // Order by dependencies; a cycle is refused.
    const done = new Map<string, Resp>();
    const order: Inner[] = [];
    const visiting = new Set<string>();
    const visit = (r: Inner) => {
      if (order.includes(r)) return;
      if (visiting.has(r.id)) throw new GraphFail(400, 'BadRequest', `Circular dependsOn involving request id : ${r.id}.`);
      visiting.add(r.id);
      for (const d of r.dependsOn) visit(inner.find((x) => x.id === d)!);
      visiting.delete(r.id);
      order.push(r);
    };
    inner.forEach(visit);
    const responses: Array<Record<string, unknown>> = [];
    for (const r of order) {
      let resp: Resp;
      const failedDep = r.dependsOn.find((d) => (done.get(d)?.status ?? 0) >= 400);
      if (failedDep) {
        resp = { status: 424, headers: {}, body: { error: { code: 'FailedDependency', message: `The request depends on request id : ${failedDep}, which failed.`, innerError: { date: graphDate(clock()), 'request-id': randomUUID(), 'client-request-id': ctx.clientRequestId } } } };
      } else {
        const bodyText = r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : undefined;
        resp = dispatch({
          method: r.method,
          rawPath: r.url,
          headers: { ...r.headers, 'client-request-id': r.headers['client-request-id'] ?? ctx.clientRequestId },
          bodyText,
          bodyValue: r.body !== undefined && typeof r.body !== 'string' ? r.body : undefined,
          inBatch: true,
          roles: ctx.roles,
          version: ctx.version,
        });
      }
      done.set(r.id, resp);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(resp.headers)) if (!['request-id', 'client-request-id', 'x-ms-ags-diagnostic'].includes(k)) headers[k] = v;
      if (resp.body !== undefined) headers['Content-Type'] = JSON_TYPE;
      const entry: Record<string, unknown> = { id: r.id, status: resp.status, headers };
      if (resp.body !== undefined) entry.body = resp.body;
      responses.push(entry);
    }
    // Graph does not promise request order in the responses; the fake returns them reversed so a client cannot rely on it.
    responses.reverse();
    return { status: 200, headers: {}, body: { responses } };
  };

  const onGraph = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let text: string;
    try {
      text = await readBody(req);
    } catch {
      res.writeHead(413).end();
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    const r = dispatch({ method: (req.method ?? 'GET').toUpperCase(), rawPath: req.url ?? '/', headers, bodyText: text, inBatch: false });
    if (r.drop) {
      req.socket.destroy();
      return;
    }
    send(res, r);
  };

  const errorHandler = (fn: (req: IncomingMessage, res: ServerResponse) => Promise<void>) => (req: IncomingMessage, res: ServerResponse) => {
    fn(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`fake-graph: ${(e as Error).message}`);
    });
  };

  const graph = await listen(errorHandler(onGraph));
  const login = await listen(errorHandler(onLogin));
  graphUrl = graph.url;
  loginUrl = login.url;

  return {
    graphUrl,
    loginUrl,
    authority: `${loginUrl}/${tenantId}`,
    tenantId,
    clientId,
    secret,
    caFile: serverCert?.cert,
    clientCertificate,
    state: tenant,
    requests,
    schemaProblems,
    faults,
    schemaChecks,
    get tokensIssued() {
      return tokensIssued;
    },
    addDevices,
    issueToken: (perms) => issueToken(perms),
    expireTokens() {
      for (const t of tokens.values()) t.exp = 0;
    },
    async close() {
      await Promise.all([graph.server, login.server].map((s) => new Promise<void>((r) => { s.closeAllConnections?.(); s.close(() => r()); })));
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

// Where the fake departs from real Graph:
// - One tenant, one app registration; no users, no delegated (user) tokens, no consent flow.
//   Tokens are HMAC-signed by the fake, not by Entra's keys; Graph accepts only tokens it issued.
// - Client assertions are verified against the one certificate the fake registered (x5t or x5t#S256,
//   RS256 or PS256), with aud/iss/sub/exp/nbf checked; no x5c chain validation.
// - Device actions progress by reads of the device (actionReadsToDone), not by the device checking
//   in; wiped/retired devices stay listed with managementState wipeIssued/retireIssued.
// - Compliance is evaluated from a handful of settings (OS min/max, encryption, password/passcode,
//   jailbreak, Android patch level); other settings are stored but change nothing.
// - With the specs present, v1.0 hides beta-only types and properties, and records carry every
//   property of their type with its default (as Intune returns them); without specs, as stored.
// - $filter: eq/ne/gt/ge/lt/le, and/or/not, in, startswith(), any() on the properties in FILTERS;
//   $orderby on one property; $search, $count with ConsistencyLevel: eventual and other advanced
//   directory queries are refused (400), not emulated.
// - PATCH answers 204 No Content (Microsoft's Intune reference pages show 200 with the object;
//   clients must accept both).
// - $batch responses come back in reverse execution order (Graph promises no order).
// - The write limit counts deviceManagement writes except device actions; directory writes and
//   reads are unlimited unless a throttle fault is set.
