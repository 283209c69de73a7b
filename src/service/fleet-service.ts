// FleetService: the fleet's rules over the async store seam (src/store/engine.ts): resources,
// devices, commands, tokens and the audit log, and the rules that keep them consistent. Every
// multi-row change is one unit of work (SqlEngine.transaction), and every admin change writes its
// audit record inside that same unit, so a crash never leaves an unaudited change. Rules that
// must hold with several writers (several server replicas on one database, or a CLI beside the
// server) are unique keys and conditional updates, never a read followed by a write.
// The embedded Backend driver and the server are thin adapters over this class.
import { createHash, createHmac } from 'node:crypto';
import type {
  AppliedChange,
  ApplyOptions,
  AuditQuery,
  CommandQuery,
  ComplianceQuery,
  CreatedEnrollmentToken,
  DeviceDetail,
  DeviceQuery,
  EffectiveConfiguration,
  EnqueueRequest,
  EnqueueResult,
  PreregisteredDevice,
  ResourceChange,
} from '../model/requests.js';
import type { CheckInRequest, CheckInResponse, CommandResultReport, EnrollRequest, EnrollResponse, PendingCommand } from '../model/protocol.js';
import { BackendError } from '../errors.js';
import type {
  AuditRecord,
  CommandType,
  Device,
  DeviceCommand,
  DeviceCompliance,
  DeviceState,
  EnrollmentToken,
  Page,
  Posture,
  RuleFailure,
  StoredResource,
} from '../model/fleet.js';
import { COMMAND_TYPES, PLATFORMS } from '../model/fleet.js';
import type {
  CompliancePolicyDocument,
  EnrollmentProfileDocument,
  GroupDocument,
  Ownership,
  Platform,
  PolicyDocument,
  ResourceDocument,
  ResourceKind,
} from '../model/policy.generated.js';
import { DEFAULT_RELEASE_SECONDS, MAX_RELEASE_SECONDS, type Actor, type ApiRole, type ApiTokenInfo, type NotifyDelivery, type OutboxEvent } from '../model/access.js';
import { compileFilters, decodeCursor, encodeCursor, invalidCursor, parseSort, versionKey } from '../store/device-query.js';
import { dueEscalations, effectiveConfiguration, escalationKey, evaluateCompliance, escalationOutlook, escalationPlan, failureOnset, groupsForDevice, parseDuration, policiesForGroups, resultHoldsUntil } from '../compliance/index.js';
import { parseWhatIfInstant } from '../model/duration.js';
import type { ComplianceResult, PlannedEscalation } from '../compliance/index.js';
import { getPath, maskValue, replacePaths, secretRefPaths, SENSITIVE_MASK, sensitiveLeaves } from '../model/secrets.js';
import { StoreUnavailableError, type Sql, type SqlEngine } from '../store/engine.js';
import { devicePage, firedOfRow, fullRows, sortKeyOf, type ListingColumns, type ListingRow } from '../store/repos/listing.js';
import { deliverCommands, firedSteps, readByCredential, readById, updateCheckedIn, writeCheckIn, type CheckInRow, type CheckInWrite, type PendingRow } from '../store/repos/checkin.js';
import type { IfMissing } from '../store/sqlite/files.js';
import { checkEnrollRequest, checkLabels, checkLength, checkSerial, DEVICE_LIMITS, parsePosture } from '../model/device-limits.js';
import { hashSecret, newId, newSecret } from '../store/secrets.js';
import { claimStep, endEpisode, firedInEpisode, firedRows, forgetSteps, openEpisode, type FiredRow } from '../store/repos/escalations.js';
import { cancelPending, cancelPendingOfDevice, commandById, commandOfDevice, commandPage, insertPendingCommand, recentCommands, recordResult, type CommandRow } from '../store/repos/commands.js';
import { enqueueNotification, finishNotification as dropNotification, pendingNotifications } from '../store/repos/outbox.js';
import { claimIdempotencyKey, finishIdempotencyKey, forgetIdempotencyKeys } from '../store/repos/idempotency.js';
import { releaseLease, takeLease, type Lease } from '../store/repos/leases.js';
import { bumpResourceGeneration, groupNames, referringResources, resourceDocument, resourceRows, resourceSnapshot, writeResource, type StoredSecrets } from '../store/repos/resources.js';
import { evaluationSet, FOREVER, isFresh, statusFilter, storeEvaluation, type Evaluation } from '../store/repos/compliance.js';
import type { ApiTokenRow, DeviceRow, TokenRow } from '../store/repos/rows.js';
import { appendAudit, auditPage } from '../store/repos/audit.js';
import { planKey, schemaVersion, storeId } from '../store/repos/meta.js';
import { apiTokenById, apiTokenBySecretHash, apiTokenRows, insertApiToken, revokeApiToken, touchApiToken } from '../store/repos/api-tokens.js';
import { enrollmentTokenById, enrollmentTokenBySecretHash, enrollmentTokenRows, insertEnrollmentToken, revokeEnrollmentToken, takeEnrollmentTokenUse } from '../store/repos/enrollment-tokens.js';
import { claimForEnrollment, writeReport, deviceById, deviceBySerial, endEnrollment, insertEnrolled, insertPreregistered, releaseEnrolled, updatePreregistered } from '../store/repos/devices.js';
import type { SeqPageQuery } from '../store/repos/paging.js';
import { claimNextPage, currentPass, enrolledDevicesAfter, expireCommands, finishPage, pageDevices, startPass, takeOverPage, type ReconcilePage } from '../store/repos/reconcile.js';
import {
  advanceReport, beginSend, channelDeviceByRef, channelTokenByRef, channelTokenOf, commandHandedOver, commandsToSend, deletePublished, enrolledChannelDevices,
  finishPending, forgetChannelDevice, insertChannelDevice, insertChannelToken, markDone, markSent, markTokenDeleted, markUnknown, operationRow,
  operationsToCheck, pendingRemoval, publishedDigest, removeChannelDevice, retrySend, setChannelMode, setChannelPolicy, staleSendsUnknown, tokensToDelete,
  unreferenced, upsertPublished, type ChannelDeviceRow,
} from '../store/repos/channels.js';
import { CHANNEL_MODES, CHANNEL_NAMES, type ChannelCommand, type ChannelConfiguration, type ChannelDeviceIntake, type ChannelFinalStatus, type ChannelIntakeResult, type ChannelMode, type ChannelName, type ChannelOperation } from '../model/channels.js';

const KINDS: readonly ResourceKind[] = ['Group', 'Policy', 'CompliancePolicy', 'EnrollmentProfile'];
const DEFAULT_TOKEN_TTL_MS = 7 * 86_400_000;
/** A command no device picked up in this time is expired by reconcile(). */
export const COMMAND_TTL_MS = 30 * 86_400_000;
export const CHECK_IN_INTERVAL_SECONDS = 900;
/** How long a retried request with the same idempotency key gets the stored result (then the key is forgotten). */
export const IDEMPOTENCY_TTL_MS = 7 * 86_400_000;
const DEFAULT_PAGE = 100;
const RECONCILE_PAGE = 500;
/** How long a replica holds a claimed reconcile page before another may take it over (it is done in one transaction, usually well under a second). */
export const RECONCILE_LEASE_MS = 30_000;
const MAX_PAGE = 1000;
/** A listing's first statement where batches overlap (scanDevices): PostgreSQL's part of it is the one wait nothing hides. */
const FIRST_BATCH = 250;
/** A row read by the credential check is used by the same request's check-in if it is at most this old (else read again). */
const SESSION_ROW_MS = 2_000;
/** The group set of a device that gets no configuration (retired, wiped): matches no policy. */
const NO_GROUPS = ['\0none'];
/** Fresh reads a check-in makes when its device keeps changing between the read and the write, before it gives up (503). */
const CHECK_IN_ATTEMPTS = 5;
/** Writing last_used_at on every API call would turn reads into writes; once a minute is enough. */
const TOKEN_TOUCH_MS = 60_000;

export interface StoreApplyOptions extends ApplyOptions {
  /** Runs inside the transaction on the stored resources before any change; throw to refuse (nothing applied). */
  precheck?: (current: StoredResource[]) => void;
}

export interface ReconcileShareOptions {
  /** A pass starts this long after the previous one started (once that one is done). */
  intervalMs: number;
  /** How long a claimed page is this replica's before another may take it over (default RECONCILE_LEASE_MS). */
  leaseMs?: number;
  /** Devices per page (default 500). */
  pageSize?: number;
}

/** What one replica did of the shared reconcile pass (FleetService.reconcileShare). */
export interface ReconcileShare {
  /** The pass it worked on (or found running). */
  pass?: number;
  /** This replica started that pass (and expired commands in it). */
  started?: boolean;
  pages: number;
  devices: number;
  expired: number;
  /** When to ask again. */
  wakeAt: Date;
}

export interface FleetServiceOptions {
  /** Injectable clock for tests (escalation timing, token expiry). */
  now?: () => Date;
  /**
   * Why a stored document is unusable (it fails the policy schema), or undefined. The server
   * passes the policy validator; a CompliancePolicy it rejects evaluates as `unknown` with the reason.
   */
  checkDocument?: (document: unknown) => string | undefined;
  /**
   * When dataDir holds no store: `create` it (the default); `fail` with "no emmctl store at DIR"
   * (commands that only read or act on what is there: a mistyped --data-dir says so instead of
   * making an empty store); or open an `empty` one in memory, writing nothing to dataDir (a plan
   * previews what apply, which creates it, would do).
   */
  ifMissing?: IfMissing;
  /**
   * Write an event to the notification outbox for each notify step and each escalation command
   * queued (the server sets it when it has a notification channel to deliver them).
   */
  notifyOutbox?: boolean;
  /**
   * false: listings evaluate every device from scratch and ignore the stored evaluations (the
   * reference the tests and benchmarks compare the stored listing with). Default true.
   */
  storedCompliance?: boolean;
}

/**
 * What the fleet rules read of a device row (evaluation, escalation, commands): all of it but the
 * OS key and the applied configuration, which only listings show. A check-in's read (CheckInRow)
 * with the posture it reports is one.
 */
type RuleRow = Omit<DeviceRow, 'os_key' | 'applied_config_version'>;

/** What the credential check read: the device's row as a check-in starts from it (see authenticateDeviceSession). */
export interface DeviceSession {
  readonly id: string;
  readonly row: CheckInRow;
  /** Date.now() when read. */
  readonly readAt: number;
}

/** The policy resources as the evaluator needs them, reloaded only when applyChanges bumped the generation. */
/** A group set's configurations in one snapshot; `agent` is what a check-in sends, one object for every such device. */
interface Configs {
  device: EffectiveConfiguration;
  admin: EffectiveConfiguration;
  agent: CheckInResponse['configuration'];
}

interface ResourceSnapshot {
  generation: string;
  groups: GroupDocument[];
  profiles: EnrollmentProfileDocument[];
  /** With secret values in place: for devices only. */
  policies: PolicyDocument[];
  /** With each secret's digest in place of its value: for config versions and admin views. */
  digestPolicies: PolicyDocument[];
  digests: Set<string>;
  compliance: CompliancePolicyDocument[];
  configs: Map<string, Configs>;
  /** CompliancePolicy name → why it cannot be evaluated (see FleetServiceOptions.checkDocument). */
  unevaluable: Map<string, string>;
  /** compliance_gen of the evaluations this store writes, and the ones it may read as its own (see resources()). */
  evalKey: string;
  readKeys: string[];
}

/** What a device's stored evaluation holds (devices.compliance): the result, and the failing policies' steps for its escalation picture. */
interface StoredResult {
  status: ComplianceResult['status'];
  reason?: string;
  failures: ComplianceResult['failures'];
  policies: string[];
  failing: boolean;
  steps: Array<{ name: string; actions: ReadonlyArray<NonNullable<CompliancePolicyDocument['spec']['actions']>[number]> }>;
}

export class FleetService {
  readonly path: string;
  readonly engine: SqlEngine;
  private readonly clock: () => Date;
  private readonly checkDocument?: (document: unknown) => string | undefined;
  private snapshot?: ResourceSnapshot;
  private readonly outbox: boolean;
  private readonly useStored: boolean;
  /** True when opened with ifMissing 'empty' and there was no store: an empty stand-in, nothing on disk. */
  readonly missing: boolean;

  constructor(engine: SqlEngine, options: Omit<FleetServiceOptions, 'ifMissing'> & { missing?: boolean } = {}) {
    this.engine = engine;
    this.path = engine.location;
    this.clock = options.now ?? (() => new Date());
    this.checkDocument = options.checkDocument;
    this.outbox = options.notifyOutbox === true;
    this.useStored = options.storedCompliance !== false;
    this.missing = options.missing === true;
  }

  /**
   * Opens the embedded store in dataDir (src/store/sqlite/), creating it unless ifMissing says
   * otherwise: dir 0700, files 0600, schema migrated.
   */
  static async open(dataDir: string, options: FleetServiceOptions = {}): Promise<FleetService> {
    const { SqliteEngine } = await import('../store/sqlite/engine.js');
    const engine = SqliteEngine.open(dataDir, { ifMissing: options.ifMissing });
    return new FleetService(engine, { ...options, missing: engine.missing });
  }

  async close(): Promise<void> {
    await this.engine.close();
  }

  /** Resolves when the database answers (the server's /readyz); rejects with StoreUnavailableError. */
  async ping(): Promise<void> {
    await this.engine.ping();
  }

  /** Current schema version (the last migration applied). */
  async schemaVersion(): Promise<number> {
    return this.read((sql) => schemaVersion(sql));
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** A write unit of work (see SqlEngine.transaction: fn may run again after a serialization failure). */
  private tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.engine.transaction(fn);
  }

  /** A read-only unit of work: one consistent snapshot. */
  private read<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.engine.transaction(fn, { readOnly: true });
  }

  private async audit(sql: Sql, actor: Actor | { name: string; source: string }, action: string, target: string, detail?: Record<string, unknown>, at = this.now()): Promise<void> {
    await appendAudit(sql, { at, actor: actor.name, source: actor.source, action, target, detail: detail === undefined ? null : JSON.stringify(detail) });
  }

  // ---- resources -------------------------------------------------------------------------

  /** The random id this store was created with: the same whether reached by path or by server URL. */
  async storeId(): Promise<string> {
    return this.read((sql) => storeId(sql));
  }

  /**
   * The seal of a saved plan: HMAC-SHA256 of its content digest under a key that never leaves
   * this store. Only this store can seal or check one, so an edited plan cannot be re-sealed
   * by recomputing a hash, and a plan made for another store does not verify here.
   */
  async sealPlan(digest: string): Promise<string> {
    if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new BackendError('invalid', 'a plan digest is "sha256:" and 64 hex digits');
    const key = await this.read((sql) => planKey(sql));
    return `hmac-sha256:${createHmac('sha256', Buffer.from(key, 'hex')).update(digest).digest('hex')}`;
  }

  /** Documents as applied (secret references in place) with each secret's reference and digest, never its value. */
  async listResources(kind?: ResourceKind): Promise<StoredResource[]> {
    return this.read((sql) => this.resourcesIn(sql, kind));
  }

  private async resourcesIn(sql: Sql, kind?: ResourceKind): Promise<StoredResource[]> {
    return (await resourceRows(sql, kind)).map((r) => {
      const document = JSON.parse(r.document) as ResourceDocument;
      const stored = JSON.parse(r.secrets) as StoredSecrets;
      const resource: StoredResource = { kind: r.kind, name: r.name, document, version: r.version, updatedAt: r.updated_at };
      const secrets = Object.entries(stored).map(([path, s]) => ({ path, ref: String(getPath(document, path) ?? SENSITIVE_MASK), digest: s.digest }));
      if (secrets.length) resource.secrets = secrets;
      return resource;
    });
  }

  /**
   * Applies every change or none. Changes run in order; create needs the resource absent,
   * update/delete need its version to equal expectedVersion. After the whole set, every
   * reference (assign, a profile's group) must resolve, or nothing is applied.
   */
  async applyChanges(changes: ResourceChange[], actor: Actor, opts: StoreApplyOptions = {}): Promise<AppliedChange[]> {
    for (const c of changes) checkChangeShape(c);
    const key = opts.idempotencyKey;
    if (key !== undefined && (typeof key !== 'string' || key === '')) throw new BackendError('invalid', 'the idempotency key must be a non-empty string');
    // Secret values enter the fingerprint only hashed, like everything in the idempotency table.
    const fingerprint = key === undefined ? '' : hashSecret(JSON.stringify({ apply: changes, prune: Boolean(opts.prune) }));
    return this.tx(async (sql) => {
      const at = this.now();
      if (key !== undefined) {
        // A retry of an apply that landed gets its result, not a "stale plan" from the versions it bumped.
        const claim = await claimIdempotencyKey<AppliedChange[]>(sql, key, fingerprint, at, 'apply');
        if (!claim.claimed) return claim.result;
      }
      // Bumping the generation first takes its row lock (PostgreSQL) or the write lock (SQLite), so
      // applies run one at a time on any number of replicas: the precheck and the reference check
      // see the state the changes apply to, not a snapshot another apply is about to change.
      if (changes.length > 0) await bumpResourceGeneration(sql);
      opts.precheck?.(await this.resourcesIn(sql));
      const applied: AppliedChange[] = [];
      for (const c of changes) {
        applied.push(await writeResource(sql, c, at));
        await this.audit(sql, actor, 'apply', `${c.kind}/${c.name}`, { op: c.op, version: applied[applied.length - 1]!.version, ...(opts.prune && c.op === 'delete' ? { prune: true } : {}) }, at);
      }
      if (changes.length > 0) await this.checkReferences(sql);
      if (key !== undefined) await finishIdempotencyKey(sql, key, applied);
      return applied;
    });
  }

  private async checkReferences(sql: Sql): Promise<void> {
    const groups = new Set(await groupNames(sql));
    groups.add('all');
    for (const r of await referringResources(sql)) {
      const doc = JSON.parse(r.document) as ResourceDocument;
      const raw: unknown = doc.kind === 'EnrollmentProfile' ? (doc.spec?.group ? [doc.spec.group] : []) : doc.kind === 'Group' ? [] : doc.spec?.assign;
      // A document stored before validation may hold anything here: only names can refer.
      const refs = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : [];
      const missing = refs.filter((g) => !groups.has(g));
      if (missing.length) {
        throw new BackendError('invalid', `${r.kind}/${r.name} refers to group${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} that would not exist after this change`, {
          hint: 'declare the group, or change the reference in the same apply',
        });
      }
    }
  }

  private async resources(sql: Sql): Promise<ResourceSnapshot> {
    const cached = this.snapshot;
    const { generation, rows } = await resourceSnapshot(sql, cached?.generation);
    if (!rows) return cached!;
    const snap: ResourceSnapshot = { generation, groups: [], profiles: [], policies: [], digestPolicies: [], digests: new Set(), compliance: [], configs: new Map(), unevaluable: new Map(), evalKey: '', readKeys: [] };
    let rejected = 0;
    for (const r of rows) {
      const doc = JSON.parse(r.document) as ResourceDocument;
      const why = this.checkDocument?.(doc);
      if (why !== undefined) {
        rejected++;
        // A CompliancePolicy that fails the checks makes the devices it reaches `unknown`; any other
        // kind takes no part (a Group matches nobody, a Policy configures nothing): guessing what
        // a broken document means could configure or judge devices wrongly.
        if (doc.kind !== 'CompliancePolicy' || typeof doc.metadata?.name !== 'string') continue;
        snap.unevaluable.set(doc.metadata.name, why);
        // Whom it reaches must still be read; when even that is broken, it is every device (all unknown), not nobody.
        const assign: unknown = doc.spec?.assign;
        const groups = (Array.isArray(assign) && assign.length && assign.every((g) => typeof g === 'string') ? assign : ['all']) as CompliancePolicyDocument['spec']['assign'];
        snap.compliance.push({ ...doc, spec: { ...doc.spec, assign: groups } });
        continue;
      }
      if (doc.kind === 'Group') snap.groups.push(doc);
      else if (doc.kind === 'EnrollmentProfile') snap.profiles.push(doc);
      else if (doc.kind === 'Policy') {
        const secrets = Object.entries(JSON.parse(r.secrets) as StoredSecrets);
        snap.policies.push(replacePaths(doc, Object.fromEntries(secrets.map(([path, v]) => [path, v.value]))));
        snap.digestPolicies.push(replacePaths(doc, Object.fromEntries(secrets.map(([path, v]) => [path, v.digest]))));
        for (const [, v] of secrets) snap.digests.add(v.digest);
      } else snap.compliance.push(doc);
    }
    // Stored evaluations are keyed by the generation and by the evaluator: one without a document
    // checker (the embedded CLI) judges broken documents differently from one with it (the server).
    // When the checker rejects nothing, both see the same documents and read each other's.
    if (!this.checkDocument) snap.evalKey = `${generation}:raw`;
    else snap.evalKey = rejected === 0 ? generation : `${generation}:checked`;
    snap.readKeys = snap.evalKey.endsWith(':checked') ? [snap.evalKey] : [generation, `${generation}:raw`];
    this.snapshot = snap;
    return snap;
  }

  /**
   * The device's configuration, and the same with every secret masked for admin views. The
   * version hashes the settings with each secret's salted digest in place of its value, so a
   * version shown to a viewer cannot be used to test guesses of a Wi-Fi key.
   */
  private configsFor(snap: ResourceSnapshot, groups: string[]): Configs {
    const key = groups.join('\0');
    let configs = snap.configs.get(key);
    if (!configs) {
      const resolved = effectiveConfiguration(policiesForGroups(snap.policies, groups));
      const digested = effectiveConfiguration(policiesForGroups(snap.digestPolicies, groups));
      const masked = maskValue(maskDigests(digested.settings, snap.digests)) as Record<string, unknown>;
      configs = {
        device: { ...resolved, version: digested.version },
        admin: { version: digested.version, settings: masked, sources: digested.sources },
        agent: { version: digested.version, settings: resolved.settings },
      };
      snap.configs.set(key, configs);
    }
    return configs;
  }

  private configFor(snap: ResourceSnapshot, groups: string[]): EffectiveConfiguration {
    return this.configsFor(snap, groups).device;
  }

  // ---- enrollment --------------------------------------------------------------------------

  async createEnrollmentToken(input: { profile: string; expiresInSeconds?: number; maxUses?: number }, actor: Actor): Promise<CreatedEnrollmentToken> {
    return this.tx(async (sql) => {
      const profile = await this.profile(sql, input.profile);
      if (!profile) {
        throw new BackendError('not_found', `enrollment profile "${input.profile}" does not exist`, { hint: 'declare an EnrollmentProfile in your policy files and apply them' });
      }
      if (input.expiresInSeconds !== undefined && !(input.expiresInSeconds > 0)) throw new BackendError('invalid', 'token expiry must be a positive duration');
      if (input.maxUses !== undefined && !(Number.isInteger(input.maxUses) && input.maxUses > 0)) throw new BackendError('invalid', 'maxUses must be a positive whole number');
      const now = this.clock();
      const ttl = input.expiresInSeconds !== undefined ? input.expiresInSeconds * 1000 : profile.spec.tokenTtl ? parseDuration(profile.spec.tokenTtl) : DEFAULT_TOKEN_TTL_MS;
      const row: TokenRow = {
        id: newId('et'),
        profile: input.profile,
        secret_hash: '',
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + ttl).toISOString(),
        max_uses: input.maxUses ?? profile.spec.maxUses ?? null,
        uses: 0,
        revoked: 0,
        created_by: actor.name,
      };
      const secret = newSecret('enrollment');
      row.secret_hash = hashSecret(secret);
      await insertEnrollmentToken(sql, row);
      await this.audit(sql, actor, 'token.create', `enrollment-token/${row.id}`, { profile: row.profile, expiresAt: row.expires_at, maxUses: row.max_uses ?? undefined });
      return { token: toToken(row), secret };
    });
  }

  async listEnrollmentTokens(): Promise<EnrollmentToken[]> {
    return this.read(async (sql) => (await enrollmentTokenRows(sql)).map(toToken));
  }

  async revokeEnrollmentToken(id: string, actor: Actor): Promise<EnrollmentToken> {
    return this.tx(async (sql) => {
      const row = await enrollmentTokenById(sql, id);
      if (!row) throw new BackendError('not_found', `enrollment token ${id} does not exist`, { hint: 'list tokens with `emmctl enroll token list`' });
      // Conditional: two concurrent revocations audit once.
      if (!row.revoked && await revokeEnrollmentToken(sql, id)) {
        await this.audit(sql, actor, 'token.revoke', `enrollment-token/${id}`);
      }
      row.revoked = 1;
      return toToken(row);
    });
  }

  private async profile(sql: Sql, name: string): Promise<EnrollmentProfileDocument | undefined> {
    return resourceDocument<EnrollmentProfileDocument>(sql, 'EnrollmentProfile', name);
  }

  async preregisterDevices(rows: PreregisteredDevice[], actor: Actor): Promise<{ created: number; updated: number }> {
    rows.forEach((r, i) => {
      if (!r.serial || typeof r.serial !== 'string') throw new BackendError('invalid', `row ${i + 1}: serial is required`);
      if (!PLATFORMS.includes(r.platform)) throw new BackendError('invalid', `row ${i + 1}: unknown platform "${r.platform}"`, { hint: `one of: ${PLATFORMS.join(', ')}` });
      checkPreregistered(r, `row ${i + 1}:`);
      const first = rows.findIndex((o) => o.serial === r.serial);
      if (first !== i) throw new BackendError('invalid', `row ${i + 1}: serial "${r.serial}" repeats row ${first + 1}`);
    });
    const outcome = await this.tx(async (sql): Promise<{ result: { created: number; updated: number } } | { refused: BackendError }> => {
      const at = this.now();
      // Pre-registration describes a device before its first enrollment. Rewriting an enrolled (or
      // retired, or wiped) record's ownership or labels would move it between groups and policies
      // behind its back: such rows refuse the whole request, and the refusal is audited.
      const existing: Array<DeviceRow | undefined> = [];
      for (const r of rows) existing.push(await deviceBySerial(sql, r.serial));
      const taken = rows.filter((_, i) => existing[i] !== undefined && existing[i]!.state !== 'preregistered');
      if (taken.length) {
        const serials = taken.map((r) => r.serial);
        await this.audit(sql, actor, 'device.preregister.refused', 'devices', { reason: 'not-preregistered', serials: serials.slice(0, 20) }, at);
        const shown = serials.slice(0, 10).map((s) => `"${s}"`).join(', ') + (serials.length > 10 ? ` and ${serials.length - 10} more` : '');
        return { refused: new BackendError('conflict', `serial${serials.length === 1 ? '' : 's'} ${shown} belong${serials.length === 1 ? 's' : ''} to a device that is no longer pre-registered (enrolled, wiped or retired); nothing was pre-registered`, {
          hint: 'pre-registration only creates records or updates pre-registered ones; change an enrolled device with labels in its enrollment profile or a Group',
        }) };
      }
      let created = 0;
      let updated = 0;
      for (const [i, r] of rows.entries()) {
        const row = existing[i];
        if (row) {
          const labels = { ...(JSON.parse(row.labels) as Record<string, string>), ...(r.labels ?? {}) };
          // Only while it is still pre-registered (compare-and-set: an enrollment may claim it meanwhile).
          const fields = { name: r.name ?? row.name, platform: r.platform, owner: r.owner ?? row.owner, ownership: r.ownership ?? row.ownership, labels: JSON.stringify(labels) };
          if (!await updatePreregistered(sql, row.id, fields, at)) throw new BackendError('conflict', `serial "${r.serial}" was enrolled while pre-registering; nothing was pre-registered`, { hint: 'run it again' });
          updated++;
        } else {
          await insertPreregistered(sql, newId('dev'), r.serial, {
            name: r.name ?? `${r.platform}-${r.serial}`, platform: r.platform, ownership: r.ownership ?? 'corporate', owner: r.owner ?? null, labels: JSON.stringify(r.labels ?? {}),
          }, at);
          created++;
        }
      }
      await this.audit(sql, actor, 'device.preregister', 'devices', { created, updated, serials: rows.slice(0, 20).map((r) => r.serial) });
      return { result: { created, updated } };
    });
    if ('refused' in outcome) throw outcome.refused;
    return outcome.result;
  }

  /**
   * The enrollment rule (README "Enrollment"): a new serial gets a new record; an existing record
   * is claimed only when it is wiped or retired, released by an admin (releaseDevice, until its
   * window ends), or pre-registered with the platform and ownership of the token's profile.
   * Anything else (above all a serial that belongs to an enrolled device) is refused with
   * 'conflict' and audited: the record, its credential, commands and ownership stay as they are.
   */
  async enrollDevice(request: EnrollRequest, source: string): Promise<EnrollResponse> {
    if (!request || typeof request.token !== 'string' || typeof request.serial !== 'string' || !request.serial || typeof request.osVersion !== 'string') {
      throw new BackendError('invalid', 'enrollment needs token, platform, serial and osVersion');
    }
    if (request.ownership !== undefined && request.ownership !== 'corporate' && request.ownership !== 'personal') {
      throw new BackendError('invalid', `unknown ownership "${request.ownership}" (corporate or personal)`);
    }
    for (const key of ['name', 'model', 'owner'] as const) {
      if (request[key] !== undefined && typeof request[key] !== 'string') throw new BackendError('invalid', `enrollment field ${key} must be a string`);
    }
    checkEnrollRequest(request, 'enrollment');
    const auditRefusal = (sql: Sql, token: TokenRow, reason: string, target: string, detail: Record<string, unknown>, at: string) =>
      this.audit(sql, { name: `enrollment-token:${token.id}`, source }, 'enroll.refused', target, {
        serial: request.serial, profile: token.profile, token: token.id, platform: request.platform, reason, ...detail,
      }, at);
    const outcome = await this.tx(async (sql): Promise<{ response: EnrollResponse } | { refused: BackendError }> => {
      const now = this.now();
      const token = await enrollmentTokenBySecretHash(sql, hashSecret(request.token));
      // An unknown secret names nobody, so it is not audited (the per-address rate limit bounds it).
      if (!token) throw new BackendError('unauthorized', 'unknown enrollment token');
      const credential = newSecret('device');
      const outcome = await this.enrollWith(sql, token, request, hashSecret(credential), now);
      if ('refusal' in outcome) {
        const r = outcome.refusal;
        await auditRefusal(sql, token, r.reason, r.target, r.detail ?? {}, now);
        return { refused: r.error };
      }
      const { deviceId: id, existing, profile } = outcome.enrolled;
      const reenrolled = existing ? (existing.state === 'enrolled' ? 'released' : existing.state) : undefined;
      const claimedOwnership = request.ownership !== undefined && request.ownership !== profile.spec.ownership ? request.ownership : undefined;
      await this.audit(sql, { name: `device:${id}`, source }, 'enroll', `device/${id}`, { profile: token.profile, token: token.id, serial: request.serial, reenrolled, claimedOwnership }, now);
      return { response: { deviceId: id!, credential, checkInIntervalSeconds: CHECK_IN_INTERVAL_SECONDS } };
    }).catch(async (error: unknown) => {
      if (!(error instanceof TokenUsedUpMeanwhile)) throw error;
      // Another enrollment (any replica) took the last use between this one's check and its
      // conditional update: what this one wrote is rolled back, and its refusal is audited as
      // one the check caught would have been.
      await this.tx((sql) => auditRefusal(sql, error.token, 'token-used-up', `enrollment-token/${error.token.id}`, {}, error.at));
      return { refused: new BackendError('unauthorized', usedUp(error.token)) };
    });
    if ('refused' in outcome) throw outcome.refused;
    return outcome.response;
  }

  /**
   * The enrollment rule for `token` (found by its secret, or by a device channel's token), inside
   * the caller's unit of work: the token's state, its profile, then a new record or the claim of
   * one with the serial; the token's use is counted last, conditionally (TokenUsedUpMeanwhile when
   * another enrollment took the last one). A refusal writes nothing; the caller audits it.
   * `credentialHash` null: a channel device, which never speaks emmctl's agent protocol.
   * `tokenAt`: the instant the token's expiry is judged at (default now).
   */
  private async enrollWith(sql: Sql, token: TokenRow, request: EnrollClaim, credentialHash: string | null, now: string, tokenAt?: string): Promise<EnrollOutcome> {
    const refuse = (error: BackendError, reason: string, target: string, detail?: Record<string, unknown>): EnrollOutcome => ({ refusal: { error, reason, target, ...(detail ? { detail } : {}) } });
    const tokenTarget = `enrollment-token/${token.id}`;
    if (token.revoked) return refuse(new BackendError('unauthorized', `enrollment token ${token.id} was revoked`), 'token-revoked', tokenTarget);
    if (token.expires_at <= (tokenAt ?? now)) {
      return refuse(new BackendError('unauthorized', `enrollment token ${token.id} expired at ${token.expires_at}`, { hint: 'create a new token with `emmctl enroll token create`' }), 'token-expired', tokenTarget);
    }
    if (token.max_uses !== null && token.uses >= token.max_uses) return refuse(new BackendError('unauthorized', usedUp(token)), 'token-used-up', tokenTarget);
    const profile = await this.profile(sql, token.profile);
    if (!profile) {
      return refuse(new BackendError('unauthorized', `enrollment token ${token.id} belongs to profile "${token.profile}", which no longer exists`), 'profile-missing', tokenTarget);
    }
    if (!profile.spec.platforms.includes(request.platform)) {
      return refuse(new BackendError('invalid', `platform "${request.platform}" may not enroll with profile "${token.profile}" (allowed: ${profile.spec.platforms.join(', ')})`), 'platform-not-allowed', tokenTarget);
    }
    const profileLabels = profile.spec.labels ?? {};
    let existing = await deviceBySerial(sql, request.serial);
    let id: string | undefined;
    if (!existing) {
      // The unique serial decides between two enrollments of one new serial, not the read above.
      const candidate = newId('dev');
      const inserted = await insertEnrolled(sql, candidate, request.serial, {
        name: request.name ?? `${request.platform}-${request.serial}`, platform: request.platform, ownership: profile.spec.ownership, owner: request.owner ?? null,
        labels: JSON.stringify(profileLabels), profile: token.profile, model: request.model ?? null, osVersion: request.osVersion, osKey: versionKey(request.osVersion),
        credentialHash,
      }, now);
      if (inserted) id = candidate;
      else existing = (await deviceBySerial(sql, request.serial))!;
    }
    if (existing) {
      const refusal = claimRefusal(existing, token.profile, profile, request.platform, now);
      if (refusal) return refuse(new BackendError('conflict', refusal.message, { hint: refusal.hint }), refusal.reason, `device/${existing.id}`, { state: existing.state });
      id = existing.id;
      // An admin's pre-registration labels apply to its first enrollment; a released, wiped or
      // retired record's labels came from its previous profile, which no longer speaks for it.
      const labels = existing.state === 'preregistered' ? { ...profileLabels, ...(JSON.parse(existing.labels) as Record<string, string>) } : profileLabels;
      // Ownership is the profile's (a pre-registration was checked against it above): what a device
      // claims about itself would otherwise let a BYOD token's holder enroll as corporate.
      const ownership = existing.state === 'preregistered' ? existing.ownership : profile.spec.ownership;
      // Written only if the record is still what the rule was decided on (compare-and-set).
      const claimed = await claimForEnrollment(sql, existing, {
        name: request.name ?? existing.name, platform: request.platform, ownership, owner: existing.owner ?? request.owner ?? null, labels: JSON.stringify(labels),
        profile: token.profile, model: request.model ?? existing.model, osVersion: request.osVersion, osKey: versionKey(request.osVersion), credentialHash,
      }, now);
      if (!claimed) throw new BackendError('conflict', `device with serial "${request.serial}" changed while enrolling; nothing was changed`, { hint: 'enroll again' });
      await forgetSteps(sql, id!);
      // A record claimed by this enrollment is no longer the channel device it may have been.
      await forgetChannelDevice(sql, id!);
      // A released device's queue was meant for its previous enrollment, not for whoever enrolls now.
      await cancelPendingOfDevice(sql, id, 'device enrolled again', now);
    }
    // The token as read may be stale by now: the refusal says what the conditional update met, read again.
    if (!await takeEnrollmentTokenUse(sql, token.id)) throw new TokenUsedUpMeanwhile((await enrollmentTokenById(sql, token.id)) ?? token, now);
    return { enrolled: { deviceId: id!, ...(existing ? { existing } : {}), profile } };
  }

  /**
   * Lets the next enrollment with this device's serial take the record over, until the window
   * ends: for a device that lost its credential (agent reinstalled, reset outside emmctl). Its
   * current credential keeps working until then; the enrollment replaces it and cancels pending commands.
   */
  async releaseDevice(id: string, input: { expiresInSeconds?: number }, actor: Actor): Promise<Device> {
    const seconds = input.expiresInSeconds ?? DEFAULT_RELEASE_SECONDS;
    if (!(Number.isInteger(seconds) && seconds > 0 && seconds <= MAX_RELEASE_SECONDS)) {
      throw new BackendError('invalid', `a release lasts from 1 second to ${MAX_RELEASE_SECONDS / 86_400} days`);
    }
    return this.tx(async (sql) => {
      const row = await this.deviceRow(sql, id);
      if (!row) throw new BackendError('not_found', `device ${id} does not exist`, { hint: 'list devices with `emmctl devices list`' });
      if (row.state !== 'enrolled') {
        throw new BackendError('conflict', `device ${id} is ${row.state}: ${row.state === 'preregistered' ? 'its first enrollment claims it' : 'it may enroll again'} without a release`);
      }
      const at = this.clock();
      const until = new Date(at.getTime() + seconds * 1000).toISOString();
      if (!await releaseEnrolled(sql, id, until, at.toISOString())) throw new BackendError('conflict', `device ${id} changed while releasing it; nothing was changed`);
      await this.audit(sql, actor, 'device.release', `device/${id}`, { serial: row.serial ?? undefined, until }, at.toISOString());
      return toDevice({ ...row, released_until: until });
    });
  }

  async authenticateDevice(credential: string): Promise<string | undefined> {
    return (await this.authenticateDeviceSession(credential))?.id;
  }

  /**
   * The credential check in front of an agent request, as one statement (one round trip on
   * PostgreSQL, no transaction). It reads the whole row a check-in starts from, so the check-in of
   * the same request (checkIn with this session) need not read it again.
   */
  async authenticateDeviceSession(credential: string): Promise<DeviceSession | undefined> {
    if (typeof credential !== 'string' || !credential) return undefined;
    const row = await readByCredential(this.engine, hashSecret(credential));
    return row ? { id: row.id, row, readAt: Date.now() } : undefined;
  }

  // ---- agent: check-in, escalation, command results ----------------------------------------

  /**
   * A device reports its posture and gets its configuration and pending commands. The usual
   * check-in (no episode to open or end, no escalation step due) is one read, the session's when
   * given (see authenticateDeviceSession), and one conditional write (repos/checkin.ts); one with
   * escalation work runs it all in one transaction. Either way, a write that finds the device no
   * longer in the state or with the credential read (wiped, retired, enrolled again meanwhile)
   * writes nothing, and the check-in starts over from a fresh read. The posture is checked here,
   * whoever calls (`where` names it in the errors: the server's is the body's field).
   */
  async checkIn(deviceId: string, request: CheckInRequest, session?: DeviceSession, where = 'posture'): Promise<CheckInResponse> {
    // What is stored is the checked copy: known fields only, each within its bound.
    const posture = parsePosture(request?.posture, where);
    const postureJson = JSON.stringify(posture);
    let seen = session && session.id === deviceId && Date.now() - session.readAt <= SESSION_ROW_MS ? session.row : undefined;
    for (let attempt = 1; ; attempt++) {
      const row = seen ?? await readById(this.engine, deviceId);
      seen = undefined;
      const now = this.clock();
      const snap = await this.snapshotFor(row?.generation);
      const plan = this.planCheckIn(row, deviceId, posture, postureJson, snap, now);
      if (!plan.escalates) {
        const pending = await writeCheckIn(this.engine, plan.write);
        if (pending) return this.checkInResponse(deviceId, plan.row, snap, plan.groups, pending);
      } else {
        const response = await this.tx(async (sql): Promise<CheckInResponse | undefined> => {
          // Read again inside the transaction: the episode and the steps fired are what it decides on.
          const fresh = this.planCheckIn(await readById(sql, deviceId), deviceId, posture, postureJson, await this.resources(sql), now);
          if (!await updateCheckedIn(sql, fresh.write)) return undefined;
          const r = fresh.row;
          r.compliance_status = fresh.write.evaluation.status;
          const since = r.noncompliant_since;
          const result = await this.escalate(sql, r, fresh.device, fresh.snap, fresh.groups, now, fresh.result);
          // Opening or ending the episode invalidated what was just stored (its start is an input).
          if (r.noncompliant_since !== since) await this.keepEvaluation(sql, r, fresh.device, fresh.snap, fresh.groups, now, result);
          return this.checkInResponse(deviceId, r, fresh.snap, fresh.groups, await deliverCommands(sql, deviceId, now.toISOString()));
        });
        if (response) return response;
      }
      if (attempt >= CHECK_IN_ATTEMPTS) {
        throw new StoreUnavailableError(`device ${deviceId} kept changing while checking in (${attempt} attempts); nothing was changed`);
      }
    }
  }

  /** The resource snapshot of `generation` when it is the cached one; else the current one, read consistently. */
  private async snapshotFor(generation: string | undefined): Promise<ResourceSnapshot> {
    if (generation !== undefined && this.snapshot?.generation === generation) return this.snapshot;
    return this.read((sql) => this.resources(sql));
  }

  /**
   * A check-in's evaluation of `row` with the reported posture, what to write, and whether
   * escalation has work (runEpisode would change something). Throws unauthorized when the row is
   * not an enrolled or retired device with a credential.
   */
  private planCheckIn(read: CheckInRow | undefined, deviceId: string, posture: Posture, postureJson: string, snap: ResourceSnapshot, now: Date) {
    if (!read || !read.credential_hash || (read.state !== 'enrolled' && read.state !== 'retired')) {
      throw new BackendError('unauthorized', `device ${deviceId} is not enrolled`);
    }
    const at = now.toISOString();
    const row: CheckInRow & RuleRow = { ...read, posture: postureJson };
    const sameOs = posture.osVersion === read.os_version;
    row.os_version = posture.osVersion;
    row.last_check_in = at;
    if (posture.model) row.model = posture.model;
    const device = toDevice(row, posture);
    const groups = groupsForDevice(device, snap.groups, snap.profiles);
    // Evaluated before the write, so the posture and its evaluation go in one statement.
    const evaluated = this.evaluation(row, device, snap, groups, now);
    const write: CheckInWrite = {
      id: read.id, state: read.state, credentialHash: read.credential_hash, at, posture: postureJson,
      ...(sameOs ? {} : { os: { version: posture.osVersion, key: versionKey(posture.osVersion) } }),
      model: posture.model ?? null, appliedConfigVersion: posture.appliedConfigVersion ?? null,
      inputs: read, evaluation: evaluated.stored, statusRead: read.compliance_status,
    };
    return { row, device, groups, snap, result: evaluated.result, write, escalates: row.state === 'enrolled' && this.episodeWork(row, snap, groups, evaluated.result, now) };
  }

  /** Whether runEpisode would change anything for `result` (given the row's episode and its fired steps). */
  private episodeWork(row: CheckInRow, snap: ResourceSnapshot, groups: string[], result: ComplianceResult, now: Date): boolean {
    if (result.reason !== undefined && !result.failing) return false;
    if (!result.failing) return row.noncompliant_since !== null;
    if (row.noncompliant_since === null) return true;
    const fired = new Set(firedSteps(row).map(([policy, afterSeconds, action]) => escalationKey(policy, afterSeconds * 1000, action)));
    return dueEscalations({ policies: policiesForGroups(snap.compliance, groups), failures: result.failures, noncompliantSince: row.noncompliant_since, now, fired }).length > 0;
  }

  private checkInResponse(deviceId: string, row: Pick<DeviceRow, 'state'>, snap: ResourceSnapshot, groups: string[], pending: PendingRow[]): CheckInResponse {
    // One object per snapshot and group set, shared by every such response (the server serialises it once): never changed.
    const configuration = this.configsFor(snap, row.state === 'retired' ? NO_GROUPS : groups).agent;
    const commands: PendingCommand[] = pending.map((c) => ({ id: c.id, type: c.type, ...(c.reason ? { reason: c.reason } : {}), createdAt: c.created_at }));
    return { deviceId, configuration, commands, checkInIntervalSeconds: CHECK_IN_INTERVAL_SECONDS };
  }

  /**
   * A device's report (an agent's check-in, or a device channel's status report): posture, check-in
   * time and applied configuration stored with its evaluation in one statement, then escalation
   * as for any device. `posture` null: the device reported too little to be judged (unknown).
   * `report.at` is when the device reported (the check-in time the age rules read).
   */
  private async storeReport(sql: Sql, row: DeviceRow, posture: Posture | null, now: Date, report: { at: string; osVersion: string; model?: string; appliedConfigVersion?: string }): Promise<boolean> {
    const at = now.toISOString();
    const deviceId = row.id;
    const postureJson = posture === null ? null : JSON.stringify(posture);
    const sameOs = report.osVersion === row.os_version;
    const snap = await this.resources(sql);
    const inputsRead = { ...row };
    row.posture = postureJson;
    row.os_version = report.osVersion;
    row.last_check_in = report.at;
    if (report.model) row.model = report.model;
    const device = toDevice(row);
    const groups = groupsForDevice(device, snap.groups, snap.profiles);
    // Evaluated before the write, so the posture and its evaluation go in one statement.
    const evaluated = this.evaluation(row, device, snap, groups, now);
    const stored = evaluationSet(inputsRead, evaluated.stored, inputsRead.compliance_status);
    const written = await writeReport(sql, deviceId, {
      posture: postureJson, osVersion: report.osVersion, osKey: sameOs ? null : versionKey(report.osVersion), model: report.model ?? null,
      checkedInAt: report.at, appliedConfigVersion: report.appliedConfigVersion ?? null,
    }, stored, at);
    // Wiped or retired since it was read: nothing of this report is kept.
    if (!written) return false;
    row.compliance_status = evaluated.stored.status;
    const since = row.noncompliant_since;
    const result = await this.escalate(sql, row, device, snap, groups, now, evaluated.result);
    // Opening or ending the episode invalidated what was just stored (its start is an input).
    if (row.noncompliant_since !== since) await this.keepEvaluation(sql, row, device, snap, groups, now, result);
    return true;
  }

  /**
   * Runs compliance escalation for one device: starts or ends the non-compliance episode and
   * fires each due `actions` step once per episode. `device` is toDevice(row), already
   * parsed by the caller for the groups. Call inside a transaction. Returns the device's compliance
   * at `now` with the episode as it stands afterwards (undefined: not enrolled, not escalated).
   */
  private async escalate(sql: Sql, row: RuleRow, device: Device, snap: ResourceSnapshot, groups: string[], now: Date, evaluated?: ComplianceResult): Promise<ComplianceResult | undefined> {
    if (row.state !== 'enrolled') return undefined;
    const policies = policiesForGroups(snap.compliance, groups);
    const before = row.noncompliant_since;
    const result = evaluated ?? evaluateCompliance({ device, policies, now, noncompliantSince: before ?? undefined, unevaluable: snap.unevaluable });
    await this.runEpisode(sql, row, policies, result, now);
    // An episode opened now starts at `now`, which the evaluation assumed already; only a start
    // another writer chose (or none, for a failing device) changes what it judged.
    if (!result.failing || row.noncompliant_since === before || (before === null && row.noncompliant_since === now.toISOString())) return result;
    return evaluateCompliance({ device, policies, now, noncompliantSince: row.noncompliant_since ?? undefined, unevaluable: snap.unevaluable });
  }

  /**
   * Stores the device's evaluation at `now` (see repos/compliance.ts), unless `onlyIfStale` and
   * the stored one still answers for now. `result`: already evaluated with the row's episode.
   */
  private async keepEvaluation(sql: Sql, row: RuleRow, device: Device, snap: ResourceSnapshot, groups: string[], now: Date, result?: ComplianceResult, onlyIfStale = false): Promise<void> {
    if (onlyIfStale && isFresh(row, [snap.evalKey], now.toISOString())) return;
    await storeEvaluation(sql, row, this.evaluation(row, device, snap, groups, now, result).stored, row.compliance_status);
  }

  /** The device's evaluation at `now` with the row's episode, and the stored form of it (`result`: already evaluated so). */
  private evaluation(row: RuleRow, device: Device, snap: ResourceSnapshot, groups: string[], now: Date, result?: ComplianceResult): { result: ComplianceResult; stored: Evaluation } {
    const policies = policiesForGroups(snap.compliance, groups);
    const input = { device, policies, now, noncompliantSince: row.noncompliant_since ?? undefined, unevaluable: snap.unevaluable };
    result ??= evaluateCompliance(input);
    const until = resultHoldsUntil(input, result);
    const failing = new Set(result.failures.filter((f) => f.channel === undefined).map((f) => f.policy));
    const body: StoredResult = {
      status: result.status, ...(result.reason !== undefined ? { reason: result.reason } : {}), failures: result.failures, policies: result.policies, failing: result.failing,
      steps: result.failing ? policies.filter((p) => failing.has(p.metadata.name)).map((p) => ({ name: p.metadata.name, actions: p.spec.actions ?? [] })) : [],
    };
    const untilText = until === Infinity || until >= Date.parse(FOREVER) ? FOREVER : new Date(until).toISOString();
    return { result, stored: { body: JSON.stringify(body), status: result.status, gen: snap.evalKey, from: now.toISOString(), until: untilText } };
  }

  /** Starts or ends the episode for `result` and fires the steps due in it. */
  private async runEpisode(sql: Sql, row: RuleRow, policies: CompliancePolicyDocument[], result: ComplianceResult, now: Date): Promise<void> {
    const at = now.toISOString();
    // Nothing can be judged (a policy cannot be evaluated, the others pass): the episode stays as it is.
    if (result.reason !== undefined && !result.failing) return;
    if (!result.failing) {
      if (row.noncompliant_since) {
        await endEpisode(sql, row.id);
        row.noncompliant_since = null;
      }
      return;
    }
    // Another writer may have opened the episode since the row was read: its start is the one.
    if (!row.noncompliant_since) row.noncompliant_since = (await openEpisode(sql, row.id, at)) ?? at;
    const since = row.noncompliant_since;
    const due = dueEscalations({ policies, failures: result.failures, noncompliantSince: since, now, fired: await this.firedKeys(sql, row.id, since) });
    for (const step of due) {
      // The key is the step itself (policy, offset, action): a step fires once per episode however the list around it changes.
      if (!await claimStep(sql, { deviceId: row.id, episodeStart: since, policy: step.policy, afterSeconds: step.afterMs / 1000, action: step.action, after: step.after, firedAt: at })) continue;
      const actor = { name: `compliance:${step.policy}`, source: 'local' };
      const failures = result.failures.filter((f) => f.policy === step.policy && f.channel === undefined);
      const rules = [...new Set(failures.map((f) => f.rule))];
      const stepRef = { after: step.after, do: step.action };
      let command: { id: string; type: string } | undefined;
      if (step.action === 'lock' || step.action === 'retire') {
        const reason = `non-compliant with ${step.policy} since ${since} (${rules.join(', ')})`;
        const outcome = await this.queueCommand(sql, row, step.action, reason, actor.name, null, at);
        await this.audit(sql, actor, `command.${step.action}`, `device/${row.id}`, { commandId: outcome.command?.id, outcome: outcome.outcome, reason, step: stepRef }, at);
        if (outcome.outcome === 'queued') command = { id: outcome.command!.id, type: step.action };
      } else {
        await this.audit(sql, actor, `compliance.${step.action}`, `device/${row.id}`, { since, rules, step: stepRef }, at);
      }
      if (this.outbox && (step.action === 'notify' || command)) {
        // Derived from the fired step, so every attempt and every restart sends the same id.
        const eventId = `evt_${createHash('sha256').update(JSON.stringify([row.id, since, step.policy, step.afterMs, step.action])).digest('hex').slice(0, 32)}`;
        const event = {
          type: command ? 'escalation.command' : 'escalation.notify',
          id: eventId,
          occurredAt: at,
          device: { id: row.id, name: row.name, platform: row.platform, ownership: row.ownership, ...(row.owner !== null ? { owner: row.owner } : {}), ...(row.serial !== null ? { serial: row.serial } : {}) },
          policy: step.policy,
          step: stepRef,
          noncompliantSince: since,
          failures,
          ...(command ? { command } : {}),
        };
        await enqueueNotification(sql, eventId, row.id, JSON.stringify(event), at);
      }
    }
  }

  private async firedKeys(sql: Sql, deviceId: string, since: string): Promise<Set<string>> {
    const rows = await firedInEpisode(sql, deviceId, since);
    return new Set(rows.map((e) => escalationKey(e.policy, e.after_seconds * 1000, e.action)));
  }

  /**
   * Adds the escalation picture of a failing device at `at` to its record: steps fired in its
   * episode, steps due and not fired, and the next one to come. Read-only, so a what-if (`at` in the future) may call it.
   * The episode is the stored one, or for a device not yet failing, the one that would start
   * when its failure begins (see failureOnset).
   */
  private addEscalation(out: DeviceCompliance, row: DeviceRow, policies: CompliancePolicyDocument[], c: ComplianceResult, since: string | undefined, at: Date, fired: { fired(): FiredRow[] }, plan?: readonly PlannedEscalation[]): DeviceCompliance {
    if (!c.failing || since === undefined || row.state !== 'enrolled') return out;
    const firedRows = row.noncompliant_since === since ? fired.fired().filter((e) => e.episode_start === since) : [];
    if (firedRows.length > 1) firedRows.sort(byFiring);
    const firedKeys = new Set(firedRows.map((e) => escalationKey(e.policy, e.after_seconds * 1000, e.action)));
    const { due, next } = escalationOutlook({ policies, failures: c.failures, noncompliantSince: since, now: at, fired: firedKeys, ...(plan ? { plan } : {}) });
    // Assigned in one fixed order (no spreads): 100k records of one shape stream and serialise faster.
    out.stepsFired = firedRows.map((e) => ({ policy: e.policy, after: e.after, do: e.action, firedAt: e.fired_at }));
    out.stepsDue = due.map((d) => ({ policy: d.policy, after: d.after, do: d.action, dueAt: new Date(d.dueAt).toISOString() }));
    if (next) {
      out.nextAction = next.action;
      out.nextActionAt = new Date(next.dueAt).toISOString();
      out.nextActionPolicy = next.policy;
    }
    return out;
  }

  /**
   * One whole reconcile pass by this caller alone: escalation for every enrolled device (devices
   * that stopped checking in become non-compliant by age too), expiry of commands past
   * expires_at, and forgetting idempotency keys older than IDEMPOTENCY_TTL_MS. The server runs
   * the same work as passes shared by its replicas instead (reconcileShare).
   *
   * A server should not block its event loop for a whole 100k-device pass: with `maxDevices`
   * it returns after that many devices with `next`; call again with `after: next` (and the
   * same `now`) to continue, until `next` is absent. One transaction
   * per page of devices, so a long run never blocks check-ins for long.
   */
  async reconcile(now: Date = this.clock(), opts: { after?: string; maxDevices?: number } = {}): Promise<{ devices: number; expired: number; next?: string }> {
    // Expiry is one cheap statement: done at the start of a pass, not on every step of it.
    const expired = opts.after ? 0 : await this.tx((sql) => this.expire(sql, now));
    const max = opts.maxDevices ?? Infinity;
    let after = opts.after ?? '';
    let devices = 0;
    for (;;) {
      const want = Math.min(RECONCILE_PAGE, max - devices);
      const n = await this.tx(async (sql) => {
        // Rows another transaction is escalating are skipped (PostgreSQL); the step claims are what keep a step from firing twice.
        const rows = await enrolledDevicesAfter<DeviceRow>(sql, after, want);
        await this.reconcileRows(sql, rows, now);
        if (rows.length) after = rows[rows.length - 1]!.id;
        return rows.length;
      });
      devices += n;
      if (n < want) return { devices, expired };
      if (devices >= max) return { devices, expired, next: after };
    }
  }

  /**
   * The server's tick: this replica's share of the reconcile pass the replicas run together
   * (src/store/repos/reconcile.ts). It starts the next pass when one is due (every `intervalMs`,
   * counted from the previous pass's start, once that one is done), then evaluates pages of the
   * pass as long as any is left to hand out; pages other replicas hold are theirs. Each enrolled
   * device is evaluated once per pass across the replicas; a page whose holder died is taken
   * over once its lease (`leaseMs`) runs out.
   *
   * `wakeAt` says when asking again can find work: when the next pass is due, or when an
   * unfinished page's lease runs out (earlier, while other replicas finish the pass).
   */
  async reconcileShare(holder: string, opts: ReconcileShareOptions & { shouldStop?: () => boolean }): Promise<ReconcileShare> {
    const out: ReconcileShare = { pages: 0, devices: 0, expired: 0, wakeAt: new Date(this.clock().getTime() + opts.intervalMs) };
    while (!opts.shouldStop?.()) {
      const claim = await this.claimReconcilePage(holder, opts);
      out.pass = claim.pass ?? out.pass;
      if (claim.started) {
        out.started = true;
        out.expired += claim.expired ?? 0;
      }
      if (!claim.page) {
        out.wakeAt = claim.wakeAt;
        break;
      }
      out.pages += 1;
      out.devices += await this.reconcilePage(claim.page, holder);
    }
    return out;
  }

  /**
   * One claim of a page of the shared pass for `holder` (starting the next pass first when it is
   * due): the page, or none and when to ask again. Public so that a test can claim a page and
   * never evaluate it (what a replica that dies in between leaves behind).
   */
  async claimReconcilePage(holder: string, opts: ReconcileShareOptions): Promise<{ page?: ReconcilePage; pass?: number; started?: boolean; expired?: number; wakeAt: Date }> {
    const leaseMs = opts.leaseMs ?? RECONCILE_LEASE_MS;
    // A few rounds: each lost race means another replica just claimed or started something.
    for (let round = 0; round < 8; round++) {
      const result = await this.tx(async (sql) => {
        const now = this.clock();
        const at = now.toISOString();
        const until = new Date(now.getTime() + leaseMs).toISOString();
        let state = await currentPass(sql);
        let started = false;
        let expired = 0;
        const due = state ? Date.parse(state.startedAt) + opts.intervalMs : now.getTime();
        if (!state || (state.handedOut && state.unfinished === 0 && due <= now.getTime())) {
          const pass = (state?.pass ?? 0) + 1;
          if (!(await startPass(sql, pass, holder, at))) return 'again' as const;
          started = true;
          expired = await this.expire(sql, now);
          state = { pass, startedAt: at, handedOut: false, unfinished: 0 };
        }
        const pass = state.pass;
        const taken = await takeOverPage(sql, pass, holder, at, until);
        if (taken) return { page: taken, pass, started, expired, wakeAt: now };
        if (!state.handedOut) {
          const page = await claimNextPage(sql, pass, opts.pageSize ?? RECONCILE_PAGE, holder, until);
          if (page === undefined) return 'again' as const;
          if (page !== 'handed-out') return { page, pass, started, expired, wakeAt: now };
          state = (await currentPass(sql))!;
        }
        // Nothing to hand out: wait for the next pass, or for a lease to run out (a dead holder's page).
        const nextPass = Date.parse(state.startedAt) + opts.intervalMs;
        let wake = state.unfinished === 0 ? nextPass : Math.min(Math.max(nextPass, now.getTime() + Math.min(opts.intervalMs, 1000)), Date.parse(state.firstExpiry!));
        wake = Math.max(wake, now.getTime() + 10);
        return { pass, started, expired, wakeAt: new Date(wake) };
      });
      if (result !== 'again') return result;
    }
    return { wakeAt: new Date(this.clock().getTime() + Math.min(opts.intervalMs, 1000)) };
  }

  /** Evaluates a claimed page's devices and marks it done, in one transaction; the devices evaluated. */
  async reconcilePage(page: ReconcilePage, holder: string): Promise<number> {
    return this.tx(async (sql) => {
      const now = this.clock();
      const rows = await pageDevices<DeviceRow>(sql, page);
      await this.reconcileRows(sql, rows, now);
      await finishPage(sql, page, holder, rows.length, now.toISOString());
      return rows.length;
    });
  }

  private async expire(sql: Sql, now: Date): Promise<number> {
    await forgetIdempotencyKeys(sql, new Date(now.getTime() - IDEMPOTENCY_TTL_MS).toISOString());
    return expireCommands(sql, now.toISOString());
  }

  /** Escalation and the stored evaluation of each device row, in the caller's transaction. */
  private async reconcileRows(sql: Sql, rows: DeviceRow[], now: Date): Promise<void> {
    if (!rows.length) return;
    const snap = await this.resources(sql);
    for (const row of rows) {
      const device = toDevice(row);
      const groups = groupsForDevice(device, snap.groups, snap.profiles);
      const since = row.noncompliant_since;
      const result = await this.escalate(sql, row, device, snap, groups, now);
      // Paged like the escalation itself: after an apply, each pass re-stores what it made stale.
      await this.keepEvaluation(sql, row, device, snap, groups, now, result, row.noncompliant_since === since);
    }
  }

  async reportCommandResult(deviceId: string, commandId: string, report: CommandResultReport, source = 'agent'): Promise<void> {
    if (!report || (report.status !== 'acknowledged' && report.status !== 'failed')) {
      throw new BackendError('invalid', 'a command result needs status acknowledged or failed');
    }
    if (report.detail !== undefined && report.detail !== null) {
      if (typeof report.detail !== 'string') throw new BackendError('invalid', 'a command result detail must be a string');
      checkLength(report.detail, DEVICE_LIMITS.detail, 'detail');
    }
    await this.tx(async (sql) => {
      const at = this.now();
      // Conditional: of two reports racing (a retry through another replica), one records it.
      const cmd = await recordResult(sql, commandId, deviceId, report.status, report.detail ?? null, at);
      if (!cmd) {
        const found = await commandOfDevice(sql, commandId, deviceId);
        if (!found) throw new BackendError('not_found', `command ${commandId} does not exist for device ${deviceId}`);
        if (found.status === report.status) return; // a retried report
        throw new BackendError('conflict', `command ${commandId} is already ${found.status}; cannot record ${report.status}`);
      }
      await this.commandResult(sql, cmd, report.status, report.detail, { name: `device:${deviceId}`, source }, at);
    });
  }

  /**
   * What a command's final result does, once its row was moved to that status: audited, and an
   * acknowledged wipe or retire turns the device wiped or retired (its other pending commands
   * cancelled, its escalation forgotten). The agent's report and a channel's outcome both end here.
   */
  private async commandResult(sql: Sql, cmd: CommandRow, status: CommandRow['status'], detail: string | null | undefined, actor: { name: string; source: string }, at: string, extra?: Record<string, unknown>): Promise<void> {
    const deviceId = cmd.device_id;
    const commandId = cmd.id;
    await this.audit(sql, actor, 'command.result', `command/${commandId}`, { type: cmd.type, status, detail, ...extra }, at);
    if (status !== 'acknowledged' || (cmd.type !== 'wipe' && cmd.type !== 'retire')) return;
    const state: DeviceState = cmd.type === 'wipe' ? 'wiped' : 'retired';
    // A wiped device has no identity left: its credential goes, so further check-ins are refused.
    await endEnrollment(sql, deviceId, state, cmd.type === 'wipe', at);
    await forgetSteps(sql, deviceId);
    await cancelPendingOfDevice(sql, deviceId, `device ${state}`, at, commandId);
    await this.audit(sql, actor, `device.${state}`, `device/${deviceId}`, { commandId }, at);
  }

  // ---- devices -------------------------------------------------------------------------------

  private async deviceRow(sql: Sql, id: string): Promise<DeviceRow | undefined> {
    return deviceById(sql, id);
  }

  async listDevices(query: DeviceQuery = {}): Promise<Page<Device>> {
    return this.read((sql) => this.scanDevices(sql, query, (row) => toDevice(row)));
  }

  /**
   * Compliance of each device with its escalation picture. With `at` (an ISO instant or `+3d`,
   * not in the past) it is a what-if: status, due steps and the next step as they would be at
   * that instant if the devices reported nothing new — computed, never stored.
   */
  async listCompliance(query: ComplianceQuery = {}): Promise<Page<DeviceCompliance>> {
    const now = this.clock();
    const at = query.at === undefined ? undefined : resolveWhatIf(query.at, now);
    return this.read((sql) => this.scanDevices(sql, query, (row, ctx) => {
      const { result, since } = ctx.evaluation();
      const out = this.addEscalation(toCompliance(row, result), row, ctx.stepPolicies(), result, since, at ?? now, ctx, ctx.plan());
      if (at) out.evaluatedAt = at.toISOString();
      return out;
    }, at, true));
  }

  async getDevice(id: string): Promise<DeviceDetail> {
    return this.read(async (sql) => {
      const row = await this.deviceRow(sql, id);
      if (!row) throw new BackendError('not_found', `device ${id} does not exist`, { hint: 'list devices with `emmctl devices list`' });
      const snap = await this.resources(sql);
      const device = toDevice(row);
      const groups = groupsForDevice(device, snap.groups, snap.profiles);
      const policies = policiesForGroups(snap.compliance, groups);
      const now = this.clock();
      const { result: c, since } = evaluateAt(row, device, policies, now, now, snap.unevaluable);
      const commands = (await recentCommands(sql, id, 50)).map(toCommand);
      const fired = await firedRows(sql, [row.id]);
      return {
        ...device,
        groups,
        compliance: this.addEscalation(toCompliance(row, c), row, policies, c, since, now, { fired: () => fired }),
        // Admin reads never carry secret values: only the device's own check-in does.
        effectiveConfiguration: this.configsFor(snap, row.state === 'retired' || row.state === 'wiped' ? NO_GROUPS : groups).admin,
        commands,
      };
    });
  }

  /**
   * Keyset paging in sort order. SQL applies every filter it can; group and compliance
   * filters are evaluated here while scanning, so a page may read more rows than it returns,
   * but never the whole table at once. `withFired`: read the steps fired in each device's open
   * episode with its row (the same statement), for records that show them.
   * A device's compliance is its stored evaluation when that answers for the instant asked
   * (storedResult), else evaluated here; a status filter is then SQL over the stored status,
   * plus the devices without a fresh one.
   */
  private async scanDevices<T>(sql: Sql, query: DeviceQuery, map: (row: DeviceRow, ctx: ScanRow) => T, at?: Date, withFired = false): Promise<Page<T>> {
    const sort = parseSort(query.sort);
    const limit = pageLimit(query.limit);
    const filters = compileFilters(query.filters, sql.dialect);
    const snap = await this.resources(sql);
    const now = this.clock();
    const evalAt = at ?? now;
    const needsEval = filters.group.length > 0 || filters.compliance.length > 0;
    const batch = needsEval ? Math.max(limit + 1, 500) : limit + 1;
    const where = [...filters.where];
    const params = [...filters.params];
    const withStored = this.useStored && (withFired || filters.compliance.length > 0);
    const nowText = now.toISOString();
    const evalText = evalAt.toISOString();
    const whatIf = evalText !== nowText;
    if (withStored && !whatIf) {
      for (const f of filters.compliance) {
        const sqlFilter = statusFilter(f.op as '=' | '!=', f.value, snap.readKeys, nowText);
        where.push(sqlFilter.where);
        params.push(...sqlFilter.params);
      }
    }
    let after = query.cursor ? await decodeCursor(query.cursor, sort, (id) => sortKeyOf(sql, sort, id)) : undefined;
    // The position the batch at hand was read after (a page filled by its first row ends there).
    let previous = after;
    // A compliance listing without group filters needs a device's inputs only where its stored
    // evaluation does not answer: it reads the record's columns, then those devices whole.
    const narrow = withStored && withFired && filters.group.length === 0;
    const columns: ListingColumns = narrow ? { compliance: { gens: snap.readKeys, from: nowText, until: evalText } } : withStored ? 'stored' : 'device';
    const items: T[] = [];
    const decoder = new StoredDecoder();
    const ctx = new ScanRow(snap, now, evalAt, decoder);
    // Where statements run beside the caller (PostgreSQL), the next batch is asked for before
    // this one is worked on: a quarter page first (the one wait nothing hides), then the rest,
    // and only while every row of it would be needed if all were kept, so no row is read in
    // vain. One statement more per page: each costs PostgreSQL a plan (PLAN_PER_RUN).
    const overlap = sql.dialect.overlaps;
    let size = overlap ? Math.min(batch, FIRST_BATCH) : batch;
    const read = (n: number) => devicePage(sql, { sort, where, params, after, limit: n, columns, fired: withFired });
    let pending: Promise<ListingRow[]> | undefined = read(size);
    try {
      for (;;) {
        const rows = await pending;
        pending = undefined;
        const full = rows.length === size;
        if (full) {
          const last = rows[rows.length - 1]!;
          after = { key: last.sort_key ?? '', id: last.id };
          // Rows still wanted after this batch, if all of it is kept: limit, and one to say there is more.
          const wanted = limit + 1 - items.length - rows.length;
          if (overlap && wanted > 0) {
            size = needsEval ? batch : wanted;
            pending = read(size);
          }
        }
        // narrow: each row's fresh stored evaluation, by position (undefined: evaluated below).
        const storedRows: Array<StoredResult | undefined> = [];
        if (narrow) {
          const stale: number[] = [];
          for (let i = 0; i < rows.length; i++) {
            const r = rows[i]!;
            // NULL unless fresh for [now, at] (the SQL half of storedResult).
            const stored = r.compliance == null ? undefined : storedBody(r, whatIf, decoder);
            storedRows.push(stored);
            if (!stored) stale.push(i);
          }
          if (stale.length) {
            const whole = await fullRows(sql, stale.map((i) => rows[i]!.id));
            // The same unit of work: the whole row has the episode its fired steps were read for.
            for (const i of stale) rows[i] = { ...whole.get(rows[i]!.id)!, sort_key: rows[i]!.sort_key, fired: rows[i]!.fired };
          }
        }
        for (let i = 0; i < rows.length; i++) {
          if (items.length === limit) {
            // The cursor is the last row looked at (kept or filtered out), in this batch or the one before.
            const last = i > 0 ? { key: rows[i - 1]!.sort_key ?? '', id: rows[i - 1]!.id } : previous!;
            return { items, nextCursor: encodeCursor(sort, last.key, last.id) };
          }
          const row = rows[i]!;
          ctx.reset(row, narrow ? storedRows[i] : withStored ? storedResult(row, snap.readKeys, nowText, evalText, decoder) : undefined);
          if (!filters.group.every((f) => ctx.groups().includes(f.value) === (f.op === '='))) continue;
          if (!filters.compliance.every((f) => (ctx.evaluation().result.status === f.value) === (f.op === '='))) continue;
          items.push(map(row, ctx));
        }
        if (!full) return { items };
        previous = after;
        pending ??= read(size);
      }
    } finally {
      // A batch asked for ahead and not read (an error while working on this one): it finishes
      // before the unit of work ends, and its outcome is the unit of work's (PgSql.failure).
      await pending?.catch(() => {});
    }
  }

  // ---- commands ------------------------------------------------------------------------------

  async enqueueCommands(request: EnqueueRequest, actor: Actor): Promise<EnqueueResult> {
    if (!request || !Array.isArray(request.deviceIds) || request.deviceIds.length === 0) throw new BackendError('invalid', 'no devices given');
    if (!COMMAND_TYPES.includes(request.type)) throw new BackendError('invalid', `unknown command type "${request.type}"`, { hint: `one of: ${COMMAND_TYPES.join(', ')}` });
    if (typeof request.idempotencyKey !== 'string' || !request.idempotencyKey) throw new BackendError('invalid', 'an idempotency key is required');
    const deviceIds = [...new Set(request.deviceIds)];
    const fingerprint = hashSecret(JSON.stringify({ d: deviceIds, t: request.type, r: request.reason ?? null }));
    return this.tx(async (sql) => {
      const at = this.now();
      const claim = await claimIdempotencyKey<EnqueueResult>(sql, request.idempotencyKey, fingerprint, at, 'request');
      if (!claim.claimed) return claim.result;
      const rows: Array<DeviceRow | undefined> = [];
      for (const id of deviceIds) rows.push(await this.deviceRow(sql, id));
      const missing = deviceIds.filter((_, i) => !rows[i]);
      if (missing.length) {
        throw new BackendError('not_found', `no such device${missing.length > 1 ? 's' : ''}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`, { hint: 'nothing was queued; list devices with `emmctl devices list`' });
      }
      const result: EnqueueResult = { results: [] };
      for (const row of rows as DeviceRow[]) {
        const outcome = await this.queueCommand(sql, row, request.type, request.reason ?? null, actor.name, request.idempotencyKey, at);
        result.results.push(outcome);
        if (outcome.outcome === 'queued') {
          await this.audit(sql, actor, `command.${request.type}`, `device/${row.id}`, { commandId: outcome.command!.id, ...(request.reason ? { reason: request.reason } : {}) }, at);
        }
      }
      await finishIdempotencyKey(sql, request.idempotencyKey, result);
      return result;
    });
  }

  private async queueCommand(sql: Sql, row: RuleRow, type: CommandType, reason: string | null, requestedBy: string, key: string | null, at: string): Promise<EnqueueResult['results'][number]> {
    const skipped = (state: DeviceState) => ({ deviceId: row.id, outcome: 'skipped' as const, message: `device is ${state}${state === 'preregistered' ? ' (not enrolled yet)' : ''}` });
    if (row.state !== 'enrolled') return skipped(row.state);
    const outcome = await insertPendingCommand(sql, {
      id: newId('cmd'), device_id: row.id, type, status: 'queued', reason, requested_by: requestedBy, idempotency_key: key,
      created_at: at, updated_at: at, detail: null, expires_at: new Date(Date.parse(at) + COMMAND_TTL_MS).toISOString(),
    });
    if ('queued' in outcome) return { deviceId: row.id, outcome: 'queued', command: toCommand(outcome.queued) };
    if ('pending' in outcome) {
      const pending = outcome.pending;
      return { deviceId: row.id, outcome: 'pending', command: toCommand(pending), message: `a ${type} command is already ${pending.status} (${pending.id})` };
    }
    // Enrolled when read, not when written: another writer wiped or retired it meanwhile.
    return skipped((await this.deviceRow(sql, row.id))?.state ?? row.state);
  }

  /** Oldest first; cursor is the position after the last command returned. */
  async listCommands(query: CommandQuery = {}): Promise<Page<DeviceCommand>> {
    const filter = { deviceId: query.deviceId, status: query.status, type: query.type };
    return this.read((sql) => this.seqPage(query, (page) => commandPage(sql, filter, page), toCommand));
  }

  private async commandRow(sql: Sql, id: string): Promise<CommandRow> {
    const row = await commandById(sql, id);
    if (!row) throw new BackendError('not_found', `command ${id} does not exist`, { hint: 'list commands with `emmctl commands list`' });
    return row;
  }

  async getCommand(id: string): Promise<DeviceCommand> {
    return toCommand(await this.read((sql) => this.commandRow(sql, id)));
  }

  async cancelCommand(id: string, actor: Actor): Promise<DeviceCommand> {
    return this.tx(async (sql) => {
      const row = await this.commandRow(sql, id);
      const at = this.now();
      // Conditional on the status read: a device's report or another cancel in between wins, and this one says so.
      const cancelled = row.status === 'queued' || row.status === 'sent' ? await cancelPending(sql, id, row.status, at) : undefined;
      if (!cancelled) {
        const now = await this.commandRow(sql, id);
        throw new BackendError('conflict', `command ${id} is already ${now.status}; only queued or sent commands can be cancelled`);
      }
      await this.audit(sql, actor, 'command.cancel', `command/${id}`, { type: row.type, deviceId: row.device_id, was: row.status }, at);
      return toCommand(cancelled);
    });
  }

  // ---- audit -------------------------------------------------------------------------------

  /** Oldest first (a log) unless `order: 'desc'`; `since` and `actor` narrow it. */
  async listAudit(query: AuditQuery = {}): Promise<Page<AuditRecord>> {
    if (query.order !== undefined && query.order !== 'asc' && query.order !== 'desc') {
      throw new BackendError('invalid', `order must be asc or desc (got "${String(query.order)}")`);
    }
    const filter: { since?: string; actor?: string } = {};
    if (query.since) {
      const t = Date.parse(query.since);
      if (Number.isNaN(t)) throw new BackendError('invalid', `"${query.since}" is not an ISO-8601 instant`);
      filter.since = new Date(t).toISOString();
    }
    if (query.actor) filter.actor = query.actor;
    return this.read((sql) => this.seqPage(query, (page) => auditPage(sql, filter, page), (r): AuditRecord => ({
      id: String(r.seq), at: r.at, actor: r.actor, source: r.source, action: r.action, target: r.target,
      ...(r.detail ? { detail: JSON.parse(r.detail) as Record<string, unknown> } : {}),
    })));
  }

  /**
   * The cursor is the seq of the last row returned; in `desc` order the next page lies below it.
   * One row more than the page is read, to know whether another page follows.
   */
  private async seqPage<R extends { seq: number }, T>(query: { limit?: number; cursor?: string; order?: 'asc' | 'desc' }, rowsOf: (page: SeqPageQuery) => Promise<R[]>, map: (r: R) => T): Promise<Page<T>> {
    const limit = pageLimit(query.limit);
    let after: number | undefined;
    if (query.cursor) {
      after = Number(Buffer.from(query.cursor, 'base64url').toString('utf8'));
      if (!Number.isInteger(after) || after < 0) throw invalidCursor();
    }
    const rows = await rowsOf({ after, desc: query.order === 'desc', limit: limit + 1 });
    const more = rows.length > limit;
    if (more) rows.pop();
    return { items: rows.map(map), ...(more ? { nextCursor: Buffer.from(String(rows[rows.length - 1]!.seq)).toString('base64url') } : {}) };
  }

  // ---- notification outbox -----------------------------------------------------------------

  // ---- leases (singleton jobs across replicas) ---------------------------------------------

  /**
   * Takes or renews the lease `name` for `holder` for the next `ttlMs`; undefined while another
   * holder's lease runs. Several replicas ask; one at a time holds it (src/store/repos/leases.ts).
   */
  async takeLease(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const now = this.clock();
    return this.tx((sql) => takeLease(sql, name, holder, now.toISOString(), new Date(now.getTime() + ttlMs).toISOString()));
  }

  /** Gives a lease up at once (a replica shutting down), so another replica need not wait for it to expire. */
  async releaseLease(lease: Lease): Promise<boolean> {
    return this.tx((sql) => releaseLease(sql, lease, this.now()));
  }

  /** The oldest undelivered events, after `afterSeq`; the server's notifier delivers them. */
  async pendingNotifications(afterSeq = 0, limit = 50): Promise<OutboxEvent[]> {
    return this.read((sql) => pendingNotifications(sql, afterSeq, limit));
  }

  /**
   * Every channel is done with the event (delivered or given up): drop it from the outbox and audit
   * each outcome, in one transaction. When another deliverer dropped it first, nothing is audited twice.
   */
  async finishNotification(event: OutboxEvent, deliveries: NotifyDelivery[]): Promise<void> {
    await this.tx(async (sql) => {
      if (!await dropNotification(sql, event.seq)) return;
      const at = this.now();
      for (const d of deliveries) {
        await this.audit(sql, { name: 'server:notify', source: 'server' }, d.ok ? 'notify.delivered' : 'notify.failed', `device/${event.deviceId}`, {
          eventId: event.id, channel: d.channel, attempts: d.attempts, ...(d.status !== undefined ? { status: d.status } : {}), ...(d.error ? { error: d.error } : {}),
        }, at);
      }
    });
  }

  // ---- API tokens ----------------------------------------------------------------------------

  async createApiToken(input: { name: string; role: ApiRole; expiresInSeconds?: number }, actor: Actor): Promise<{ token: ApiTokenInfo; secret: string }> {
    if (!['admin', 'operator', 'viewer'].includes(input.role)) throw new BackendError('invalid', `unknown role "${input.role}"`, { hint: 'one of: admin, operator, viewer' });
    if (!input.name || typeof input.name !== 'string') throw new BackendError('invalid', 'an API token needs a name');
    if (input.expiresInSeconds !== undefined && !(input.expiresInSeconds > 0)) throw new BackendError('invalid', 'token expiry must be a positive duration');
    return this.tx(async (sql) => {
      const now = this.clock();
      const secret = newSecret('api');
      const row: ApiTokenRow = {
        id: newId('at'), name: input.name, role: input.role, secret_hash: hashSecret(secret), created_at: now.toISOString(),
        expires_at: input.expiresInSeconds !== undefined ? new Date(now.getTime() + input.expiresInSeconds * 1000).toISOString() : null,
        last_used_at: null, revoked: 0,
      };
      await insertApiToken(sql, row);
      await this.audit(sql, actor, 'api-token.create', `api-token/${row.id}`, { name: row.name, role: row.role, expiresAt: row.expires_at ?? undefined });
      return { token: toApiToken(row), secret };
    });
  }

  async authenticateApiToken(secret: string): Promise<ApiTokenInfo | undefined> {
    if (typeof secret !== 'string' || !secret) return undefined;
    const row = await apiTokenBySecretHash(this.engine, hashSecret(secret));
    const now = this.clock();
    if (!row || row.revoked || (row.expires_at !== null && row.expires_at <= now.toISOString())) return undefined;
    if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) >= TOKEN_TOUCH_MS) {
      const touched = now.toISOString();
      const stale = new Date(now.getTime() - TOKEN_TOUCH_MS).toISOString();
      // Conditional, so concurrent calls (any replica) write it once a minute at most.
      await this.tx((sql) => touchApiToken(sql, row.id, touched, stale));
      row.last_used_at = touched;
    }
    return toApiToken(row);
  }

  async listApiTokens(): Promise<ApiTokenInfo[]> {
    return this.read(async (sql) => (await apiTokenRows(sql)).map(toApiToken));
  }

  async revokeApiToken(id: string, actor: Actor): Promise<ApiTokenInfo> {
    return this.tx(async (sql) => {
      const row = await apiTokenById(sql, id);
      if (!row) throw new BackendError('not_found', `API token ${id} does not exist`);
      // Conditional: two concurrent revocations audit once.
      if (!row.revoked && await revokeApiToken(sql, id)) {
        await this.audit(sql, actor, 'api-token.revoke', `api-token/${id}`, { name: row.name });
      }
      row.revoked = 1;
      return toApiToken(row);
    });
  }

  // ---- device channels -----------------------------------------------------------------------
  // Devices reached through a device channel (src/model/channels.ts, e.g. the Android Management
  // API) have no agent credential. What their channel reports goes through the rules an agent's
  // enrollment and check-in go through (enrollWith, storeReport), so compliance and escalation
  // are one set of rules; their commands go through a ledger (src/store/repos/channels.ts)
  // instead of a check-in's pending list, since a channel's send may not be idempotent.

  /**
   * A channel's word about one of its devices. An unknown ref is an enrollment: the token it
   * enrolled with (by the channel's token name, else the emmctl token id it carried back) goes
   * through the enrollment rule, and the device gets a record with no credential plus its channel
   * row, in one unit of work; of two intakes of one new device (replicas, a push beside a sync)
   * the keys pick one, and the other takes it as an update. A refusal is audited; 'refused' tells
   * the channel to remove the device. A known ref is a report, taken as an agent's check-in is
   * (posture, compliance, escalation), unless a newer one was taken already ('stale').
   */
  async intakeChannelDevice(input: ChannelDeviceIntake, source?: string): Promise<ChannelIntakeResult> {
    const i = checkIntake(input);
    const from = source ?? i.channel;
    const attempt = () => this.tx((sql) => this.intakeIn(sql, i, from));
    try {
      try {
        return await attempt();
      } catch (e) {
        if (!(e instanceof ChannelRaceLost) && !(e instanceof ChannelReportOutrun)) throw e;
        // Rolled back: the other writer's rows are committed now, so this one is an update (or stale).
        return await attempt();
      }
    } catch (e) {
      if (!(e instanceof TokenUsedUpMeanwhile)) throw e;
      await this.tx((sql) => this.auditChannelRefusal(sql, i, from, e.token, 'token-used-up', `enrollment-token/${e.token.id}`, {}, e.at));
      return { outcome: 'refused', reason: usedUp(e.token) };
    }
  }

  private async intakeIn(sql: Sql, i: ChannelDeviceIntake, source: string): Promise<ChannelIntakeResult> {
    const now = this.clock();
    const at = now.toISOString();
    const known = await channelDeviceByRef(sql, i.channel, i.ref);
    if (known) return this.channelReport(sql, known, i, source, now);
    if (i.gone) return { outcome: 'stale', reason: `${i.ref} is not a device of this store` };
    const token = await this.channelToken(sql, i);
    if (!token) {
      await this.auditChannelRefusal(sql, i, source, undefined, 'unknown-token', `${i.channel}:${i.ref}`, {}, at);
      return { outcome: 'refused', reason: `${i.ref} enrolled with a token emmctl did not make${i.tokenRef ? ` (${i.tokenRef})` : ''}` };
    }
    // The channel enforced the token's lifetime when the device enrolled; the intake may come later.
    const tokenAt = i.enrolledAt !== undefined && i.enrolledAt < at ? i.enrolledAt : at;
    const claim: EnrollClaim = { platform: CHANNEL_PLATFORM[i.channel], serial: i.serial, name: i.name, model: i.model, ownership: i.ownership, osVersion: i.osVersion };
    const outcome = await this.enrollWith(sql, token, claim, null, at, tokenAt);
    if ('refusal' in outcome) {
      const r = outcome.refusal;
      // The serial's key made this intake wait for another intake of the same device, now committed.
      if (r.reason === 'enrolled' && (await channelDeviceByRef(sql, i.channel, i.ref))) throw new ChannelRaceLost();
      await this.auditChannelRefusal(sql, i, source, token, r.reason, r.target, r.detail ?? {}, at);
      return { outcome: 'refused', reason: r.error.message };
    }
    const { deviceId, existing, profile } = outcome.enrolled;
    const reportedAt = i.reportedAt !== undefined && i.reportedAt < at ? i.reportedAt : i.reportedAt !== undefined ? at : undefined;
    if (!(await insertChannelDevice(sql, { device_id: deviceId, channel: i.channel, ref: i.ref, mode: i.mode, token_ref: i.tokenRef ?? null, policy: null, policy_at: null, reported_at: reportedAt ?? null, created_at: at }))) {
      throw new ChannelRaceLost();
    }
    const reenrolled = existing ? existing.state : undefined;
    const claimedOwnership = i.ownership !== profile.spec.ownership ? i.ownership : undefined;
    await this.audit(sql, { name: `device:${deviceId}`, source }, 'enroll', `device/${deviceId}`, {
      profile: token.profile, token: token.id, serial: i.serial, channel: i.channel, ref: i.ref, mode: i.mode, reenrolled, claimedOwnership,
    }, at);
    if (reportedAt !== undefined || i.posture !== undefined) {
      const row = (await this.deviceRow(sql, deviceId))!;
      await this.storeReport(sql, row, channelPosture(i), now, { at: reportedAt ?? at, osVersion: i.osVersion, model: i.model, appliedConfigVersion: i.appliedConfigVersion });
    }
    return { outcome: 'enrolled', deviceId };
  }

  /** A report of a known channel device: the check-in's path, unless a newer report was taken. */
  private async channelReport(sql: Sql, known: ChannelDeviceRow, i: ChannelDeviceIntake, source: string, now: Date): Promise<ChannelIntakeResult> {
    const at = now.toISOString();
    const row = await this.deviceRow(sql, known.device_id);
    if (!row) throw new BackendError('conflict', `device ${known.device_id} was removed while its report was taken`);
    if (row.state !== 'enrolled') return { outcome: 'stale', deviceId: row.id, reason: `device ${row.id} is ${row.state}` };
    if (i.gone) {
      await this.channelDeviceGone(sql, row, known, source, at);
      return { outcome: 'updated', deviceId: row.id };
    }
    if (i.reportedAt === undefined) {
      await setChannelMode(sql, row.id, i.mode);
      return { outcome: 'updated', deviceId: row.id };
    }
    // A report time ahead of this clock counts as now, so it cannot hold later reports back.
    const reportedAt = i.reportedAt < at ? i.reportedAt : at;
    if (!(await advanceReport(sql, row.id, i.mode, reportedAt))) return { outcome: 'stale', deviceId: row.id };
    if (!(await this.storeReport(sql, row, channelPosture(i), now, { at: reportedAt, osVersion: i.osVersion, model: i.model, appliedConfigVersion: i.appliedConfigVersion }))) {
      throw new ChannelReportOutrun();
    }
    return { outcome: 'updated', deviceId: row.id };
  }

  /**
   * The channel no longer has the device (removed at Google, or our delete landed). A pending wipe
   * or retire is what happened: it is acknowledged as the device's report would be. Otherwise the
   * device left management there: a company-owned device is wiped by that, a personal one keeps
   * everything but its work profile (retired).
   */
  private async channelDeviceGone(sql: Sql, row: DeviceRow, known: ChannelDeviceRow, source: string, at: string): Promise<void> {
    const actor = { name: `device:${row.id}`, source };
    const removal = await pendingRemoval(sql, row.id);
    if (removal) {
      const moved = await finishPending(sql, removal.id, 'acknowledged', `the device is gone at ${known.channel}`, at);
      if (moved) {
        await markDone(sql, removal.id, at);
        await this.commandResult(sql, moved, 'acknowledged', moved.detail ?? undefined, actor, at, { channel: known.channel, ref: known.ref });
        return;
      }
    }
    const state = known.mode === 'wpp' ? 'retired' : 'wiped';
    if (!(await removeChannelDevice(sql, row.id, state, at))) return;
    await forgetSteps(sql, row.id);
    await this.audit(sql, { name: `${known.channel}`, source }, `device.${state}`, `device/${row.id}`, { channel: known.channel, ref: known.ref, gone: true }, at);
  }

  /** The emmctl token a channel device enrolled with: by the channel's token name, else by the id it carried back (only a token the channel has no record of under another name). */
  private async channelToken(sql: Sql, i: ChannelDeviceIntake): Promise<TokenRow | undefined> {
    if (i.tokenRef !== undefined) {
      const ct = await channelTokenByRef(sql, i.channel, i.tokenRef);
      if (ct) return i.tokenId === undefined || i.tokenId === ct.token_id ? enrollmentTokenById(sql, ct.token_id) : undefined;
    }
    if (i.tokenId === undefined) return undefined;
    // Made at Google, but the process died before recording its name: the id it carried back is ours.
    if (await channelTokenOf(sql, i.tokenId)) return undefined;
    return enrollmentTokenById(sql, i.tokenId);
  }

  private async auditChannelRefusal(sql: Sql, i: ChannelDeviceIntake, source: string, token: TokenRow | undefined, reason: string, target: string, detail: Record<string, unknown>, at: string): Promise<void> {
    await this.audit(sql, { name: token ? `enrollment-token:${token.id}` : i.channel, source }, 'enroll.refused', target, {
      serial: i.serial, ...(token ? { profile: token.profile, token: token.id } : {}), platform: CHANNEL_PLATFORM[i.channel], channel: i.channel, ref: i.ref,
      ...(i.tokenRef ? { tokenRef: i.tokenRef } : {}), reason, ...detail,
    }, at);
  }

  /**
   * The configuration of each enrolled device of the channel, in device id order from `after`:
   * the device form (secret values in place), for compiling the channel's policy only.
   */
  async channelConfigurations(channel: ChannelName, opts: { after?: string; limit: number }): Promise<{ items: ChannelConfiguration[]; next?: string }> {
    const limit = pageLimit(opts.limit);
    return this.read(async (sql) => {
      const rows = await enrolledChannelDevices<DeviceRow>(sql, channel, opts.after ?? '', limit + 1);
      const more = rows.length > limit;
      if (more) rows.pop();
      const snap = await this.resources(sql);
      const items = rows.map((r): ChannelConfiguration => {
        const groups = groupsForDevice(toDevice(r), snap.groups, snap.profiles);
        return { deviceId: r.device_id, ref: r.ref, mode: r.mode, state: r.state, configuration: this.configFor(snap, groups), ...(r.policy !== null ? { policy: r.policy } : {}) };
      });
      return { items, ...(more && rows.length ? { next: rows[rows.length - 1]!.device_id } : {}) };
    });
  }

  /** The configuration a new device of enrollment profile `profile` enrolling through `channel` gets (the channel token's initial policy). */
  async profileConfiguration(profile: string, channel: ChannelName = 'android'): Promise<{ configuration: EffectiveConfiguration; ownership: Ownership }> {
    return this.read(async (sql) => {
      const doc = await this.profile(sql, profile);
      if (!doc) throw new BackendError('not_found', `enrollment profile "${profile}" does not exist`, { hint: 'declare an EnrollmentProfile in your policy files and apply them' });
      const snap = await this.resources(sql);
      const device: Device = { id: '', name: '', platform: CHANNEL_PLATFORM[channel], ownership: doc.spec.ownership, labels: doc.spec.labels ?? {}, state: 'enrolled', profile };
      return { configuration: this.configFor(snap, groupsForDevice(device, snap.groups, snap.profiles)), ownership: doc.spec.ownership };
    });
  }

  /** Records that the device was moved to `policy`, if its policy is still `previous`; false when another writer moved it. */
  async recordChannelPolicy(deviceId: string, policy: string, previous: string | null): Promise<boolean> {
    return this.tx((sql) => setChannelPolicy(sql, deviceId, policy, previous, this.now()));
  }

  /** The digest of the body last published under `name`, or undefined. */
  async publishedPolicy(channel: ChannelName, name: string): Promise<string | undefined> {
    return this.read((sql) => publishedDigest(sql, channel, name));
  }

  async recordPublishedPolicy(channel: ChannelName, name: string, digest: string): Promise<void> {
    await this.tx((sql) => upsertPublished(sql, channel, name, digest, this.now()));
  }

  /** Published policies that no enrolled device and no live channel token names. */
  async unreferencedPolicies(channel: ChannelName, publishedBefore: Date): Promise<string[]> {
    return this.read((sql) => unreferenced(sql, channel, publishedBefore.toISOString()));
  }

  async forgetPublishedPolicy(channel: ChannelName, name: string): Promise<void> {
    await this.tx((sql) => deletePublished(sql, channel, name));
  }

  /** The channel's enrollment token `ref` made for emmctl token `tokenId` with initial policy `policy`. */
  async recordChannelToken(tokenId: string, channel: ChannelName, ref: string, policy: string): Promise<void> {
    await this.tx((sql) => insertChannelToken(sql, tokenId, channel, ref, policy, this.now()));
  }

  /** Channel tokens that can enroll nothing more (used up by emmctl's count, revoked or expired) and are not deleted yet. */
  async channelTokensToDelete(channel: ChannelName): Promise<Array<{ tokenId: string; ref: string }>> {
    return this.read((sql) => tokensToDelete(sql, channel, this.now()));
  }

  async markChannelTokenDeleted(tokenId: string): Promise<void> {
    await this.tx((sql) => markTokenDeleted(sql, tokenId, this.now()));
  }

  /** Queued commands of the channel's devices that no sender has begun, oldest first. */
  async channelCommandsToSend(channel: ChannelName, limit: number): Promise<ChannelCommand[]> {
    return this.read(async (sql) => (await commandsToSend(sql, channel, pageLimit(limit))).map((r) => ({ command: toCommand(r), ref: r.ref, mode: r.mode })));
  }

  /** The ledger row of a queued command, written before it is sent: true for the one caller that may send it. */
  async beginChannelSend(commandId: string, request: unknown): Promise<boolean> {
    return this.tx((sql) => beginSend(sql, commandId, JSON.stringify(request ?? null), this.now()));
  }

  /** The channel took the command (its operation's name, when it answers one): ledger sent, command sent. */
  async recordChannelSent(commandId: string, operation: string | null): Promise<void> {
    await this.tx(async (sql) => {
      const at = this.now();
      await markSent(sql, commandId, operation, at);
      await commandHandedOver(sql, commandId, at);
    });
  }

  /** The answer to the send was lost: it may have landed, so it is looked up before anything is sent again. */
  async markChannelUnknown(commandId: string): Promise<void> {
    await this.tx(async (sql) => {
      const at = this.now();
      if (await markUnknown(sql, commandId, at)) await commandHandedOver(sql, commandId, at, 'sent; the answer was lost, so it is looked up before anything is sent again');
    });
  }

  /** One more send, once a lookup proved the last one did not land; false when another caller retried first (its `attempts` moved on). */
  async retryChannelSend(commandId: string, attempts: number): Promise<boolean> {
    return this.tx((sql) => retrySend(sql, commandId, attempts, this.now()));
  }

  /**
   * Ledger rows to follow up, least recently checked first. A send that began more than
   * `sendingStaleMs` ago and never recorded an answer (its sender died) counts as unknown.
   */
  async channelOperationsToCheck(channel: ChannelName, limit: number, opts: { sendingStaleMs?: number } = {}): Promise<ChannelOperation[]> {
    return this.tx(async (sql) => {
      const now = this.clock();
      await staleSendsUnknown(sql, channel, new Date(now.getTime() - (opts.sendingStaleMs ?? CHANNEL_SENDING_STALE_MS)).toISOString());
      const rows = await operationsToCheck(sql, channel, pageLimit(limit), now.toISOString());
      return rows.map((r): ChannelOperation => ({
        commandId: r.command_id, deviceId: r.device_id, ref: r.ref, operation: r.operation, state: r.state as 'sent' | 'unknown',
        request: JSON.parse(r.request) as unknown, sentAt: r.sent_at, attempts: Number(r.attempts), ...(r.expires_at !== null ? { expiresAt: r.expires_at } : {}),
      }));
    });
  }

  /**
   * The channel's outcome of a command: the ledger row is done, and the command takes `status` as
   * an agent's report would (an acknowledged wipe or retire turns the device wiped or retired).
   * A command emmctl had finished already (expired, cancelled) keeps its status; when the device
   * carried out a wipe or retire anyway, the device still follows what happened to it.
   */
  async finishChannelCommand(commandId: string, status: ChannelFinalStatus, detail?: string, source?: string): Promise<void> {
    if (!['acknowledged', 'failed', 'expired', 'cancelled'].includes(status)) throw new BackendError('invalid', `a channel command ends acknowledged, failed, expired or cancelled (got "${String(status)}")`);
    const text = detail === undefined ? null : cutText(String(detail), DEVICE_LIMITS.detail);
    await this.tx(async (sql) => {
      const at = this.now();
      const cmd = await commandById(sql, commandId);
      if (!cmd) throw new BackendError('not_found', `command ${commandId} does not exist`);
      const op = await operationRow(sql, commandId);
      await markDone(sql, commandId, at);
      const actor = { name: `device:${cmd.device_id}`, source: source ?? op?.channel ?? 'channel' };
      const extra = { ...(op ? { channel: op.channel, operation: op.operation ?? undefined, attempts: Number(op.attempts) } : {}) };
      const moved = await finishPending(sql, commandId, status, text, at);
      if (moved) return this.commandResult(sql, moved, status, text ?? undefined, actor, at, extra);
      if (status !== 'acknowledged') return;
      const device = await this.deviceRow(sql, cmd.device_id);
      if ((cmd.type === 'wipe' || cmd.type === 'retire') && device?.state === 'enrolled') {
        await this.commandResult(sql, cmd, status, text ?? undefined, actor, at, { ...extra, late: true, recorded: cmd.status });
      } else {
        await this.audit(sql, actor, 'command.result', `command/${commandId}`, { type: cmd.type, status, detail: text ?? undefined, ...extra, late: true, recorded: cmd.status }, at);
      }
    });
  }
}

/** A send that never recorded its answer for this long is taken as lost (the sender died or hangs). */
export const CHANNEL_SENDING_STALE_MS = 120_000;

const CHANNEL_PLATFORM: Record<ChannelName, Platform> = { android: 'android' };
const CHANNEL_DEVICE_REF: Record<ChannelName, RegExp> = { android: /^enterprises\/[^/]+\/devices\/[^/]+$/ };
const CHANNEL_REF_MAX = 512;
const CHANNEL_FAILURES_MAX = 101;
const FAILURE_TEXT_MAX = 1024;
const MODE_OWNERSHIP: Record<ChannelMode, Ownership> = { fm: 'corporate', wpc: 'corporate', wpp: 'personal' };

/** Rolls back an intake that found the same channel device taken in by another one meanwhile. */
class ChannelRaceLost extends Error {}

/** Rolls back a report whose device was wiped or retired after it was read (the report time it advanced included). */
class ChannelReportOutrun extends Error {}

function cutText(s: string, max: number): string {
  const cps = [...s];
  return cps.length <= max ? s : cps.slice(0, max).join('');
}

/**
 * A channel's intake, checked and normalised: the channel relays what a device says, so this is a
 * stranger's input with the bounds of an agent's (the posture again through parsePosture).
 */
function checkIntake(input: ChannelDeviceIntake): ChannelDeviceIntake {
  if (input === null || typeof input !== 'object') throw new BackendError('invalid', 'a channel intake must be an object');
  const i = input as unknown as Record<string, unknown>;
  if (!CHANNEL_NAMES.includes(i.channel as ChannelName)) throw new BackendError('invalid', `unknown device channel "${String(i.channel)}"`, { hint: `one of: ${CHANNEL_NAMES.join(', ')}` });
  const channel = i.channel as ChannelName;
  const str = (key: string, max: number, required = false): string | undefined => {
    const v = i[key];
    if (v === undefined || v === null) {
      if (required) throw new BackendError('invalid', `channel intake ${key} is required`);
      return undefined;
    }
    if (typeof v !== 'string' || v === '') throw new BackendError('invalid', `channel intake ${key} must be a non-empty string`);
    checkLength(v, max, `channel intake ${key}`);
    return v;
  };
  const instant = (key: string): string | undefined => {
    const v = str(key, 64);
    if (v === undefined) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw new BackendError('invalid', `channel intake ${key} is not an ISO-8601 instant`);
    return new Date(t).toISOString();
  };
  const ref = str('ref', CHANNEL_REF_MAX, true)!;
  if (!CHANNEL_DEVICE_REF[channel].test(ref)) throw new BackendError('invalid', `channel intake ref "${ref}" is not a ${channel} device name`);
  const serial = str('serial', DEVICE_LIMITS.serial, true)!;
  checkSerial(serial, 'channel intake serial');
  if (!CHANNEL_MODES.includes(i.mode as ChannelMode)) throw new BackendError('invalid', `channel intake mode must be one of ${CHANNEL_MODES.join(', ')}`);
  const mode = i.mode as ChannelMode;
  if (i.ownership !== MODE_OWNERSHIP[mode]) throw new BackendError('invalid', `channel intake ownership "${String(i.ownership)}" does not go with mode ${mode} (${MODE_OWNERSHIP[mode]})`);
  const failures = i.failures ?? [];
  if (!Array.isArray(failures)) throw new BackendError('invalid', 'channel intake failures must be an array');
  if (failures.length > CHANNEL_FAILURES_MAX) throw new BackendError('invalid', `channel intake failures has ${failures.length} entries, at most ${CHANNEL_FAILURES_MAX}`);
  const checked: RuleFailure[] = failures.map((f: unknown, n) => {
    const o = (f ?? {}) as Record<string, unknown>;
    const out = {} as RuleFailure;
    for (const k of ['policy', 'rule', 'expected', 'actual'] as const) {
      if (typeof o[k] !== 'string') throw new BackendError('invalid', `channel intake failures[${n}].${k} must be a string`);
      checkLength(o[k] as string, FAILURE_TEXT_MAX, `channel intake failures[${n}].${k}`);
      out[k] = o[k] as string;
    }
    out.channel = channel;
    return out;
  });
  if (i.gone !== undefined && typeof i.gone !== 'boolean') throw new BackendError('invalid', 'channel intake gone must be true or false');
  const out: ChannelDeviceIntake = { channel, ref, serial, ownership: MODE_OWNERSHIP[mode], mode, osVersion: str('osVersion', DEVICE_LIMITS.osVersion, true)!, failures: checked };
  const tokenRef = str('tokenRef', CHANNEL_REF_MAX);
  const tokenId = str('tokenId', 128);
  const name = str('name', DEVICE_LIMITS.name);
  const model = str('model', DEVICE_LIMITS.model);
  const applied = str('appliedConfigVersion', DEVICE_LIMITS.appliedConfigVersion);
  const reportedAt = instant('reportedAt');
  const enrolledAt = instant('enrolledAt');
  if (tokenRef !== undefined) out.tokenRef = tokenRef;
  if (tokenId !== undefined) out.tokenId = tokenId;
  if (name !== undefined) out.name = name;
  if (model !== undefined) out.model = model;
  if (applied !== undefined) out.appliedConfigVersion = applied;
  if (reportedAt !== undefined) out.reportedAt = reportedAt;
  if (enrolledAt !== undefined) out.enrolledAt = enrolledAt;
  if (i.posture !== undefined && i.posture !== null) out.posture = parsePosture(i.posture, 'channel intake posture');
  if (i.gone === true) out.gone = true;
  return out;
}

/** The posture stored for a channel report: what the device reported, with the channel's failures; null when it reported too little to judge. */
function channelPosture(i: ChannelDeviceIntake): Posture | null {
  if (!i.posture) return null;
  return i.failures.length ? { ...i.posture, channelFailures: i.failures } : i.posture;
}

/** The page size asked for, as a whole number within 1..MAX_PAGE (DEFAULT_PAGE when not given). */
function pageLimit(limit: number | undefined): number {
  return Math.min(Math.max(1, Math.floor(limit ?? DEFAULT_PAGE)), MAX_PAGE);
}

function checkChangeShape(c: ResourceChange): void {
  if (!c || !['create', 'update', 'delete'].includes(c.op)) throw new BackendError('invalid', `unknown change operation "${(c as { op?: string })?.op}"`);
  if (!KINDS.includes(c.kind)) throw new BackendError('invalid', `unknown resource kind "${c.kind}"`, { hint: `one of: ${KINDS.join(', ')}` });
  if (typeof c.name !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(c.name)) throw new BackendError('invalid', `invalid resource name "${c.name}" for ${c.kind}`);
  if (c.op !== 'create' && !Number.isInteger(c.expectedVersion)) throw new BackendError('invalid', `${c.op} of ${c.kind}/${c.name} needs expectedVersion`);
  if (c.op !== 'delete') {
    const doc = c.document;
    if (!doc || doc.kind !== c.kind || doc.metadata?.name !== c.name) {
      throw new BackendError('invalid', `the document for ${c.kind}/${c.name} has kind "${doc?.kind}" and name "${doc?.metadata?.name}"`);
    }
    checkSecrets(c);
  }
}

/**
 * A document carries its secrets as `${env:NAME}` references, each with its value in
 * `secrets` under the reference's path. A value written into the document itself would come
 * back on every admin read, so it is refused, as are values for paths holding no reference.
 */
function checkSecrets(c: Extract<ResourceChange, { document: ResourceDocument }>): void {
  const id = `${c.kind}/${c.name}`;
  const values = c.secrets ?? {};
  if (values === null || typeof values !== 'object' || Array.isArray(values)) throw new BackendError('invalid', `secrets of ${id} must be an object of path → value`);
  const refs = new Map(secretRefPaths(c.document).map((r) => [r.path, r.ref]));
  for (const leaf of sensitiveLeaves(c.document)) {
    if (typeof leaf.value === 'string' && !refs.has(leaf.path) && leaf.value !== '') {
      throw new BackendError('invalid', `${id} ${leaf.path} holds a secret value; write a \${env:NAME} reference there and send the value in "secrets"`, {
        hint: 'secret values are write-only: a document keeps the reference, the backend keeps the value apart',
      });
    }
  }
  for (const [path, ref] of refs) {
    const v = (values as Record<string, unknown>)[path];
    if (typeof v !== 'string' || v === '') throw new BackendError('invalid', `${id} ${path} references ${ref} but the change carries no value for it (secrets["${path}"])`);
  }
  for (const path of Object.keys(values)) {
    if (!refs.has(path)) throw new BackendError('invalid', `secrets["${path}"] of ${id}: the document holds no \${env:NAME} reference at ${path}`);
  }
}

/** Settings with every known secret digest replaced by the mask. */
function maskDigests(value: unknown, digests: Set<string>): unknown {
  if (typeof value === 'string') return digests.has(value) ? SENSITIVE_MASK : value;
  if (Array.isArray(value)) return value.map((v) => maskDigests(v, digests));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDigests(v, digests)]));
  return value;
}

/**
 * What a scan knows of the row at hand, each part worked out on first use. One per scan, moved
 * from row to row (reset), so a 100,000-device listing does not make a context and its closures
 * per device; a record must not keep it.
 */
class ScanRow {
  private row!: ListingRow;
  private stored?: StoredResult;
  private evaluated?: { result: ComplianceResult; since?: string };
  private parsed?: Device;
  private groupNames?: string[];
  private assigned?: CompliancePolicyDocument[];
  private readonly evalText: string;

  constructor(
    private readonly snap: ResourceSnapshot,
    private readonly now: Date,
    private readonly evalAt: Date,
    private readonly decoder: StoredDecoder,
  ) {
    this.evalText = evalAt.toISOString();
  }

  /** `stored`: the row's stored evaluation where it answers for the instant asked (storedResult), else undefined. */
  reset(row: ListingRow, stored: StoredResult | undefined): void {
    this.row = row;
    this.stored = stored;
    this.evaluated = undefined;
    this.parsed = undefined;
    this.groupNames = undefined;
    this.assigned = undefined;
  }

  groups(): string[] {
    return (this.groupNames ??= groupsForDevice(this.device(), this.snap.groups, this.snap.profiles));
  }

  policies(): CompliancePolicyDocument[] {
    return (this.assigned ??= policiesForGroups(this.snap.compliance, this.groups()));
  }

  evaluation(): { result: ComplianceResult; since?: string } {
    if (this.evaluated) return this.evaluated;
    const stored = this.stored;
    if (!stored) return (this.evaluated = evaluateAt(this.row, this.device(), this.policies(), this.now, this.evalAt, this.snap.unevaluable));
    // The stored body is the result (its extra `steps` go nowhere: records pick their fields).
    return (this.evaluated = { result: stored, since: stored.failing ? (this.row.noncompliant_since ?? this.evalText) : undefined });
  }

  /** Policies for the escalation picture of evaluation(): the stored failing ones' steps, or the assigned ones. */
  stepPolicies(): CompliancePolicyDocument[] {
    return this.stored ? this.decoder.docs(this.stored) : this.policies();
  }

  /** escalationPlan of stepPolicies() and the failures, when a stored evaluation has it; else undefined. */
  plan(): readonly PlannedEscalation[] | undefined {
    return this.stored ? this.decoder.plan(this.stored) : undefined;
  }

  fired(): FiredRow[] {
    return firedOfRow(this.row);
  }

  private device(): Device {
    return (this.parsed ??= toDevice(this.row));
  }
}

/**
 * Stored evaluations decoded once per scan: the devices whose stored text is the same (most of a
 * fleet passes or fails in a few identical ways) share one parsed result, its steps and its
 * escalation plan. Shared, so read-only: records take its arrays as they are.
 */
class StoredDecoder {
  private readonly byText = new Map<string, StoredResult>();
  private readonly derived = new WeakMap<StoredResult, { docs: CompliancePolicyDocument[]; plan?: PlannedEscalation[] }>();

  decode(text: string): StoredResult {
    let stored = this.byText.get(text);
    if (stored === undefined) this.byText.set(text, (stored = JSON.parse(text) as StoredResult));
    return stored;
  }

  /** The stored steps as the documents escalationOutlook reads (name and actions are all it looks at). */
  docs(stored: StoredResult): CompliancePolicyDocument[] {
    return this.entry(stored).docs;
  }

  plan(stored: StoredResult): PlannedEscalation[] {
    const e = this.entry(stored);
    return (e.plan ??= escalationPlan(e.docs, stored.failures));
  }

  private entry(stored: StoredResult): { docs: CompliancePolicyDocument[]; plan?: PlannedEscalation[] } {
    let e = this.derived.get(stored);
    if (e === undefined) {
      e = { docs: stored.steps.map((st) => ({ metadata: { name: st.name }, spec: { actions: st.actions } }) as unknown as CompliancePolicyDocument) };
      this.derived.set(stored, e);
    }
    return e;
  }
}

/**
 * The device's stored evaluation if it gives exactly what evaluateAt would at `at` (evaluated
 * `now`): fresh for `at` under one of the evaluator keys; for a what-if (`at` later than `now`)
 * also fresh at `now`, since the result then holds throughout [now, at], and not a failing
 * device whose episode is not recorded yet, whose what-if episode starts at `now` itself.
 */
function storedResult(row: DeviceRow, keys: readonly string[], now: string, at: string, decoder: StoredDecoder): StoredResult | undefined {
  if (!isFresh(row, keys, at)) return undefined;
  if (at !== now && row.compliance_from! > now) return undefined;
  return storedBody(row, at !== now, decoder);
}

/** The fresh stored evaluation of the row, unless a what-if's episode would start at now itself (see storedResult). */
function storedBody(row: DeviceRow, whatIf: boolean, decoder: StoredDecoder): StoredResult | undefined {
  const stored = decoder.decode(row.compliance!);
  if (whatIf && stored.failing && row.noncompliant_since === null) return undefined;
  return stored;
}

function byFiring(a: FiredRow, b: FiredRow): number {
  return a.fired_at < b.fired_at ? -1 : a.fired_at > b.fired_at ? 1 : a.after_seconds - b.after_seconds || (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0);
}

/**
 * The device's compliance at `at` (>= now) and the start of the episode it is in then: the stored
 * episode, else the moment its failure begins (now, when it fails already and the next reconcile
 * has not recorded it yet).
 */
function evaluateAt(row: DeviceRow, device: Device, policies: CompliancePolicyDocument[], now: Date, at: Date, unevaluable?: ReadonlyMap<string, string>): { result: ComplianceResult; since?: string } {
  let since = row.noncompliant_since ?? undefined;
  if (since === undefined && at.getTime() !== now.getTime()) since = failureOnset(device, policies, now, at, unevaluable)?.toISOString();
  const result = evaluateCompliance({ device, policies, now: at, noncompliantSince: since, unevaluable });
  return { result, since: result.failing ? (since ?? at.toISOString()) : undefined };
}

/** `compliance --at`: an ISO-8601 instant or `+DURATION` from now (`+3d`, `+1w2d`, `+12h`); never in the past. */
export function resolveWhatIf(text: string, now: Date): Date {
  const t = parseWhatIfInstant(text, now);
  if (t === undefined) {
    throw new BackendError('invalid', `at "${text}" is neither an ISO-8601 time (2026-01-31T12:00:00Z) nor +DURATION from now (+3d, +12h, +1w)`);
  }
  if (t < now.getTime()) {
    throw new BackendError('invalid', `at "${text}" is in the past (now is ${now.toISOString()}): a what-if looks ahead; the store keeps no history of postures`);
  }
  return new Date(t);
}

/** `posture`: the row's posture already parsed (a check-in's, not parsed back from the JSON it writes). */
function toDevice(r: RuleRow, posture?: Device['posture']): Device {
  const d: Device = { id: r.id, name: r.name, platform: r.platform, ownership: r.ownership, labels: JSON.parse(r.labels) as Record<string, string>, state: r.state };
  if (r.serial !== null) d.serial = r.serial;
  if (r.owner !== null) d.owner = r.owner;
  if (r.profile !== null) d.profile = r.profile;
  if (r.model !== null) d.model = r.model;
  if (r.os_version !== null) d.osVersion = r.os_version;
  if (r.enrolled_at !== null) d.enrolledAt = r.enrolled_at;
  if (r.last_check_in !== null) d.lastCheckIn = r.last_check_in;
  if (posture !== undefined) d.posture = posture;
  else if (r.posture !== null) d.posture = JSON.parse(r.posture) as Device['posture'];
  if (r.released_until !== null && r.state === 'enrolled') d.releasedUntil = r.released_until;
  return d;
}

/** A pre-registered serial is claimed by a device's enrollment, so its fields keep the device bounds. */
function checkPreregistered(r: PreregisteredDevice, at: string): void {
  for (const key of ['serial', 'name', 'owner'] as const) {
    const value = r[key];
    if (value !== undefined && value !== null && typeof value !== 'string') throw new BackendError('invalid', `${at} ${key} must be a string`);
    if (typeof value === 'string') checkLength(value, DEVICE_LIMITS[key], `${at} ${key}`);
  }
  checkSerial(r.serial, `${at} serial`);
  if (r.labels !== undefined && (r.labels === null || typeof r.labels !== 'object' || Array.isArray(r.labels))) throw new BackendError('invalid', `${at} labels must be an object of strings`);
  checkLabels(r.labels ?? {}, at);
}

/** What the enrollment rule reads of an enrolling device. */
type EnrollClaim = Pick<EnrollRequest, 'platform' | 'serial' | 'name' | 'model' | 'owner' | 'ownership' | 'osVersion'>;

type EnrollOutcome =
  | { enrolled: { deviceId: string; existing?: DeviceRow; profile: EnrollmentProfileDocument } }
  | { refusal: { error: BackendError; reason: string; target: string; detail?: Record<string, unknown> } };

/** Thrown inside an enrollment's unit of work to roll it back when its token's last use went to another enrollment. */
class TokenUsedUpMeanwhile extends Error {
  constructor(readonly token: TokenRow, readonly at: string) {
    super(usedUp(token));
  }
}

function usedUp(t: TokenRow): string {
  return `enrollment token ${t.id} has been used ${t.uses} of ${t.max_uses} times`;
}

/**
 * Why an enrollment may not claim an existing record with the same serial (undefined: it may).
 * The message goes to the enrolling party, a stranger: it names the rule, not the device.
 */
function claimRefusal(row: DeviceRow, profileName: string, profile: EnrollmentProfileDocument, platform: Platform, now: string): { reason: string; message: string; hint: string } | undefined {
  if (row.state === 'wiped' || row.state === 'retired') return undefined;
  if (row.state === 'enrolled') {
    if (row.released_until !== null && row.released_until > now) return undefined;
    return {
      reason: row.released_until !== null ? 'release-expired' : 'enrolled',
      message: `serial "${row.serial}" belongs to an enrolled device; an enrollment cannot take it over`,
      hint: 'if this is that device after a reset, an admin releases it for re-enrollment (`emmctl devices release ID`) or wipes or retires it first',
    };
  }
  const fits = row.platform === platform && profile.spec.platforms.includes(row.platform) && profile.spec.ownership === row.ownership;
  if (fits) return undefined;
  return {
    reason: 'preregistered-mismatch',
    message: `serial "${row.serial}" is pre-registered for another platform or ownership than enrollment profile "${profileName}" (${profile.spec.ownership}, ${profile.spec.platforms.join('/')}) gives`,
    hint: 'enroll it with a token of a profile that matches its pre-registration (`emmctl devices list --filter state=preregistered -o wide`)',
  };
}

function toCompliance(r: DeviceRow, c: ComplianceResult): DeviceCompliance {
  // Assigned in the record's one key order, without spreads: a listing makes 100,000 of these.
  const out = { deviceId: r.id, name: r.name } as DeviceCompliance;
  if (r.owner !== null) out.owner = r.owner;
  out.platform = r.platform;
  if (r.os_version !== null) out.osVersion = r.os_version;
  out.state = r.state;
  out.status = c.status;
  if (c.reason !== undefined) out.reason = c.reason;
  out.failures = c.failures;
  out.policies = c.policies;
  if (r.last_check_in !== null) out.lastCheckIn = r.last_check_in;
  if (r.noncompliant_since !== null) out.noncompliantSince = r.noncompliant_since;
  return out;
}

function toCommand(r: CommandRow): DeviceCommand {
  const c: DeviceCommand = { id: r.id, deviceId: r.device_id, type: r.type, status: r.status, requestedBy: r.requested_by, createdAt: r.created_at, updatedAt: r.updated_at };
  if (r.reason !== null) c.reason = r.reason;
  if (r.detail !== null) c.detail = r.detail;
  if (r.expires_at !== null) c.expiresAt = r.expires_at;
  return c;
}

function toToken(r: TokenRow): EnrollmentToken {
  return {
    id: r.id, profile: r.profile, createdAt: r.created_at, expiresAt: r.expires_at, ...(r.max_uses !== null ? { maxUses: r.max_uses } : {}),
    uses: r.uses, revoked: Boolean(r.revoked), createdBy: r.created_by,
  };
}

function toApiToken(r: ApiTokenRow): ApiTokenInfo {
  return {
    id: r.id, name: r.name, role: r.role, createdAt: r.created_at, ...(r.expires_at ? { expiresAt: r.expires_at } : {}),
    ...(r.last_used_at ? { lastUsedAt: r.last_used_at } : {}), revoked: Boolean(r.revoked),
  };
}
