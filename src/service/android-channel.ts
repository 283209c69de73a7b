// The Android channel at run time: emmctl's fleet rules (FleetService) on one side, Google's
// Android Management API (AmapiClient) on the other, and the pure translation modules of
// src/channels/android/ between them. The store stays the source of truth; this class only moves
// state across the seam:
//
//   enrollment tokens   emmctl token first, then the profile's initial policy and an AMAPI token;
//                       a failure after the emmctl token revokes it (no half-made token stays usable)
//   policies            one AMAPI policy per (configuration, mode), patched once per name, devices
//                       moved with devices.patch policyName, policies nobody uses deleted
//   devices             devices.list (paged, within the client's quota window) and Pub/Sub pushes →
//                       intakeChannelDevice; a device the enrollment rules refuse is removed at Google
//   commands            the ledger: beginChannelSend (exactly one sender) → issueCommand / delete →
//                       recordChannelSent; a lost answer is marked unknown and looked up (operations
//                       of the device, or the device itself for a delete) before anything is sent again
//   used-up tokens      deleted at Google once emmctl counts them used up, revoked or expired
//
// Each background job runs under its own lease row (FleetService.takeLease), so with several
// replicas one runs each job at a time; the ledger and the store's unique keys keep a job that
// two replicas do run anyway (a lease lost to a slow pass) from sending anything twice.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BackendError } from '../errors.js';
import type { Actor } from '../model/access.js';
import type { RuleFailure, StoredResource } from '../model/fleet.js';
import type { ChannelCommand, ChannelConfiguration, ChannelDeviceIntake, ChannelFinalStatus, ChannelIntakeResult, ChannelMode, ChannelOperation } from '../model/channels.js';
import type { CreatedEnrollmentToken, EffectiveConfiguration } from '../model/requests.js';
import type { EnrollmentProfileDocument, Ownership, WifiNetwork } from '../model/policy.generated.js';
import type { AmapiPolicy } from '../channels/android/amapi-types.js';
import { compilePolicy, parsePolicyId, policyIdFor, policyName, type AndroidDeviceMode } from '../channels/android/compile.js';
import { commandOutcome, commandRequest, type AmapiCommandRequest } from '../channels/android/commands.js';
import { enrollmentMode, enrollmentTokenRequest, MIN_TOKEN_TTL_SECONDS, readCreatedToken, readEnrollmentData, type AmapiEnrollmentTokenRequest } from '../channels/android/enrollment.js';
import { readPush, type AmapiNotification } from '../channels/android/notifications.js';
import { readDevice, type AndroidDeviceReport } from '../channels/android/posture.js';
import type { Lease } from '../store/repos/leases.js';

type ModeCode = ChannelMode;
/** How long a published policy no device or token names yet is kept (see syncPolicies). */
const POLICY_DELETE_GRACE_MS = 10 * 60_000;
const MODES: Record<ModeCode, AndroidDeviceMode> = {
  fm: { ownership: 'corporate', managementMode: 'fully-managed' },
  wpc: { ownership: 'corporate', managementMode: 'work-profile' },
  wpp: { ownership: 'personal', managementMode: 'work-profile' },
};

function modeCode(mode: AndroidDeviceMode): ModeCode {
  if (mode.ownership === 'personal') return 'wpp';
  return mode.managementMode === 'fully-managed' ? 'fm' : 'wpc';
}

type Operation = { name: string; done?: boolean; error?: unknown; metadata?: Record<string, unknown>; response?: unknown };

/** What the channel asks of Google: AmapiClient (src/channels/android/client.ts) is one. */
export interface AndroidApi {
  patchPolicy(name: string, policy: AmapiPolicy): Promise<{ name: string; version?: string }>;
  deletePolicy(name: string): Promise<'deleted' | 'not-found' | 'in-use'>;
  listDevices(enterprise: string, pageToken?: string, pageSize?: number): Promise<{ devices: unknown[]; nextPageToken?: string }>;
  getDevice(name: string): Promise<unknown | undefined>;
  setDevicePolicy(name: string, policyName: string): Promise<unknown>;
  deleteDevice(name: string, opts?: { wipeReasonMessage?: string; wipeDataFlags?: string[] }): Promise<'deleted' | 'not-found'>;
  issueCommand(name: string, command: { type: string; duration?: string }): Promise<Operation>;
  getOperation(name: string): Promise<Operation | undefined>;
  listOperations(deviceName: string, pageToken?: string): Promise<{ operations: Operation[]; nextPageToken?: string }>;
  createEnrollmentToken(enterprise: string, body: AmapiEnrollmentTokenRequest): Promise<unknown>;
  deleteEnrollmentToken(name: string): Promise<'deleted' | 'not-found'>;
}

/** What the channel asks of the fleet rules: FleetService (src/service/fleet-service.ts) is one. */
export interface ChannelFleet {
  createEnrollmentToken(input: { profile: string; expiresInSeconds?: number; maxUses?: number }, actor: Actor): Promise<CreatedEnrollmentToken>;
  revokeEnrollmentToken(id: string, actor: Actor): Promise<unknown>;
  listResources(kind?: 'EnrollmentProfile'): Promise<StoredResource[]>;
  takeLease(name: string, holder: string, ttlMs: number): Promise<Lease | undefined>;
  releaseLease(lease: Lease): Promise<boolean>;
  intakeChannelDevice(i: ChannelDeviceIntake, source?: string): Promise<ChannelIntakeResult>;
  channelConfigurations(channel: 'android', opts: { after?: string; limit: number }): Promise<{ items: ChannelConfiguration[]; next?: string }>;
  profileConfiguration(profile: string, channel?: 'android'): Promise<{ configuration: EffectiveConfiguration; ownership: Ownership }>;
  recordChannelPolicy(deviceId: string, policy: string, previous: string | null): Promise<boolean>;
  publishedPolicy(channel: 'android', name: string): Promise<string | undefined>;
  recordPublishedPolicy(channel: 'android', name: string, digest: string): Promise<void>;
  unreferencedPolicies(channel: 'android', publishedBefore: Date): Promise<string[]>;
  forgetPublishedPolicy(channel: 'android', name: string): Promise<void>;
  recordChannelToken(tokenId: string, channel: 'android', ref: string, policy: string): Promise<void>;
  channelTokensToDelete(channel: 'android'): Promise<Array<{ tokenId: string; ref: string }>>;
  markChannelTokenDeleted(tokenId: string): Promise<void>;
  channelCommandsToSend(channel: 'android', limit: number): Promise<ChannelCommand[]>;
  beginChannelSend(commandId: string, request: unknown): Promise<boolean>;
  recordChannelSent(commandId: string, operation: string | null): Promise<void>;
  markChannelUnknown(commandId: string): Promise<void>;
  retryChannelSend(commandId: string, attempts: number): Promise<boolean>;
  channelOperationsToCheck(channel: 'android', limit: number, opts?: { sendingStaleMs?: number }): Promise<ChannelOperation[]>;
  finishChannelCommand(commandId: string, status: ChannelFinalStatus, detail?: string, source?: string): Promise<void>;
}

export interface AndroidChannelOptions {
  /** enterprises/LC…. */
  enterprise: string;
  api: AndroidApi;
  fleet: ChannelFleet;
  now?: () => Date;
  /** One JSON line per event worth an operator's eye (no secrets, no bodies). */
  log?: (line: string) => void;
  /** How often the jobs run (the server's tick). */
  tickMs?: number;
  /**
   * The Pub/Sub subscription pushes must name (projects/P/subscriptions/S); without it the
   * subscription of the push is taken as is (the verified OIDC token already says it is Google's).
   */
  subscription?: string;
  /** devices.list page size (AMAPI allows up to 100 by default). */
  pageSize?: number;
  /**
   * How long after a send whose answer was lost (or whose sender died before recording it) the
   * ledger looks it up at Google: longer than any send can take (a quota wait of up to 100 s and
   * the request's timeout), so a slow send is never taken for a lost one and sent again.
   */
  lookupDelayMs?: number;
}

export interface PushResult {
  type: AmapiNotification['type'];
  outcome?: 'enrolled' | 'updated' | 'stale' | 'refused' | 'skipped' | 'followed';
}

/** The source recorded in the audit log for what Google reported. */
const SOURCE = 'amapi';
const CHANNEL = 'android' as const;
/**
 * Operations of the device whose createTime is at most this much before our sentAt still count as
 * ours (clocks differ a little). Small: an earlier command of the same type to the same device
 * inside it would be taken for this one (never a second send, at worst a send missed).
 */
const CLOCK_SKEW_MS = 10_000;
export const DEFAULT_LOOKUP_DELAY_MS = 300_000;
const BATCH = 100;
const JOBS = ['policies', 'devices', 'commands', 'tokens'] as const;
type Job = (typeof JOBS)[number];

export class AndroidChannel {
  readonly enterprise: string;
  private readonly api: AndroidApi;
  private readonly fleet: ChannelFleet;
  private readonly clock: () => Date;
  private readonly log: (line: string) => void;
  private readonly tickMs: number;
  private readonly leaseMs: number;
  private readonly subscription?: string;
  private readonly pageSize: number;
  private readonly lookupDelayMs: number;
  /** Commands this process is sending right now: never looked up (or resent) from under their sender. */
  private readonly inFlight = new Set<string>();
  /** Devices of the enterprise that no emmctl token enrolled, warned about once. */
  private readonly strangers = new Set<string>();
  private readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly leases = new Map<Job, Lease>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private closed = false;

  constructor(opts: AndroidChannelOptions) {
    if (!/^enterprises\/[^/]+$/.test(opts.enterprise)) throw new BackendError('invalid', `not an Android enterprise name: ${JSON.stringify(opts.enterprise)} (expected enterprises/LC…)`);
    this.enterprise = opts.enterprise;
    this.api = opts.api;
    this.fleet = opts.fleet;
    this.clock = opts.now ?? (() => new Date());
    this.log = opts.log ?? (() => {});
    this.tickMs = opts.tickMs ?? 30_000;
    // A lease outlives a few ticks, so its holder renews it long before it runs out; a holder
    // that died (kill -9) is replaced once it has.
    this.leaseMs = Math.max(5_000, 3 * this.tickMs);
    this.subscription = opts.subscription;
    this.pageSize = opts.pageSize ?? 100;
    this.lookupDelayMs = opts.lookupDelayMs ?? DEFAULT_LOOKUP_DELAY_MS;
  }

  // ---- enrollment tokens ----------------------------------------------------------------------

  /**
   * An enrollment token for `input.profile`. A profile that does not take Android devices gets
   * emmctl's own token only. For an Android profile: the emmctl token, then the profile's initial
   * policy published, then enrollmentTokens.create; when a step after the emmctl token fails, the
   * emmctl token is revoked (so a device that enrolls with a token Google did make is refused at
   * intake) and the error says so. The answer's qrCode carries Google's token value: it is
   * returned once, never stored and never logged.
   */
  async createEnrollmentToken(input: { profile: string; expiresInSeconds?: number; maxUses?: number }, actor: Actor): Promise<CreatedEnrollmentToken> {
    const profile = await this.profileDocument(input.profile);
    if (!profile || !profile.spec.platforms.includes('android')) return this.fleet.createEnrollmentToken(input, actor);
    const created = await this.fleet.createEnrollmentToken(input, actor);
    const tokenId = created.token.id;
    let amapiRef: string | undefined;
    try {
      const { configuration, ownership } = await this.fleet.profileConfiguration(input.profile, CHANNEL);
      const mode = enrollmentMode(ownership);
      const policy = await this.publish(configuration, mode, { force: true });
      const ttlSeconds = Math.max(MIN_TOKEN_TTL_SECONDS, Math.ceil((Date.parse(created.token.expiresAt) - this.clock().getTime()) / 1000));
      let plan;
      try {
        plan = enrollmentTokenRequest({ tokenId, profile: input.profile, ownership, policyName: policy, ttlSeconds, maxUses: created.token.maxUses });
      } catch (error) {
        throw new BackendError('invalid', `enrollment profile "${input.profile}": ${(error as Error).message}`);
      }
      const made = readCreatedToken(await this.api.createEnrollmentToken(this.enterprise, plan.body));
      amapiRef = made.name;
      await this.fleet.recordChannelToken(tokenId, CHANNEL, made.name, policy);
      this.event('info', `enrollment token ${tokenId}: AMAPI token ${made.name} with initial policy ${policy}`);
      return { ...created, android: { qrCode: made.qrCode, tokenName: made.name, expiresAt: made.expirationTimestamp ?? created.token.expiresAt } };
    } catch (error) {
      await this.undoToken(tokenId, amapiRef, actor);
      throw tokenFailure(error, tokenId, amapiRef);
    }
  }

  private async undoToken(tokenId: string, amapiRef: string | undefined, actor: Actor): Promise<void> {
    try {
      await this.fleet.revokeEnrollmentToken(tokenId, actor);
    } catch (error) {
      this.event('error', `enrollment token ${tokenId} could not be revoked after the Android token failed: ${message(error)}`);
    }
    if (amapiRef === undefined) return;
    try {
      await this.api.deleteEnrollmentToken(amapiRef);
    } catch (error) {
      this.event('error', `AMAPI token ${amapiRef} could not be deleted after its emmctl token failed: ${message(error)}`);
    }
  }

  private async profileDocument(name: string): Promise<EnrollmentProfileDocument | undefined> {
    const found = (await this.fleet.listResources('EnrollmentProfile')).find((r) => r.kind === 'EnrollmentProfile' && r.name === name);
    return found?.document as EnrollmentProfileDocument | undefined;
  }

  // ---- policies ---------------------------------------------------------------------------------

  /**
   * The configuration compiled for `mode` and upserted at Google (policies.patch) unless the
   * store says this exact body is there already; returns the policy's full name.
   */
  private async publish(configuration: EffectiveConfiguration, mode: AndroidDeviceMode, opts: { force?: boolean; seen?: Set<string> } = {}): Promise<string> {
    const name = policyName(this.enterprise, policyIdFor(configuration.version, mode));
    if (opts.seen?.has(name)) return name;
    const compiled = compilePolicy({ configuration, mode, wifiPassphrases: passphrases(configuration) });
    const digest = policyDigest(compiled.policy);
    if (opts.force || (await this.fleet.publishedPolicy(CHANNEL, name)) !== digest) {
      await this.api.patchPolicy(name, compiled.policy);
      await this.fleet.recordPublishedPolicy(CHANNEL, name, digest);
      if (compiled.unmappable.length) this.event('warning', `policy ${name}: ${compiled.unmappable.length} setting(s) AMAPI cannot express were left out (${compiled.unmappable.map((u) => `${u.path} [${u.ruleId}]`).join(', ')}); see emmctl validate --android`);
    }
    opts.seen?.add(name);
    return name;
  }

  /** Every enrolled device on the policy compiled from its configuration now; policies nobody references deleted. */
  async syncPolicies(): Promise<{ published: number; moved: number; deleted: number }> {
    const seen = new Set<string>();
    let moved = 0;
    let after: string | undefined;
    do {
      const page = await this.fleet.channelConfigurations(CHANNEL, { after, limit: BATCH });
      for (const item of page.items) {
        if (item.state !== 'enrolled') continue;
        const name = await this.publish(item.configuration, MODES[item.mode], { seen });
        if (item.policy === name) continue;
        try {
          await this.api.setDevicePolicy(item.ref, name);
        } catch (error) {
          // A device deleted at Google: the device sync marks it gone; nothing to move.
          if (isNotFound(error)) continue;
          throw error;
        }
        if (await this.fleet.recordChannelPolicy(item.deviceId, name, item.policy ?? null)) moved++;
      }
      after = page.next;
      if (after !== undefined) await this.renew('policies');
    } while (after !== undefined);
    let deleted = 0;
    // Not one published in the last POLICY_DELETE_GRACE_MS: an enrollment token being made on
    // another replica (or this one) publishes its initial policy first and names it only once
    // Google has made the token; deleted in between, Google refuses the token ("not found").
    const publishedBefore = new Date(this.clock().getTime() - POLICY_DELETE_GRACE_MS);
    for (const name of await this.fleet.unreferencedPolicies(CHANNEL, publishedBefore)) {
      if (seen.has(name)) continue;
      const r = await this.api.deletePolicy(name);
      // in-use: a device at Google still has it (one not moved yet); tried again next pass.
      if (r === 'in-use') continue;
      await this.fleet.forgetPublishedPolicy(CHANNEL, name);
      deleted++;
    }
    return { published: seen.size, moved, deleted };
  }

  // ---- devices ----------------------------------------------------------------------------------

  /**
   * devices.list, every page, into the fleet's rules; refused devices removed at Google. After a
   * whole listing, an enrolled device it did not show is asked for by name: Google answers 404
   * for a device removed there (outside emmctl), and the rules take it as gone.
   */
  async syncDevices(): Promise<{ seen: number; enrolled: number; refused: number; skipped: number; gone: number }> {
    const totals = { seen: 0, enrolled: 0, refused: 0, skipped: 0, gone: 0 };
    const listed = new Set<string>();
    let pageToken: string | undefined;
    do {
      const page = await this.api.listDevices(this.enterprise, pageToken, this.pageSize);
      for (const body of page.devices) {
        totals.seen++;
        const name = (body as { name?: unknown } | null)?.name;
        if (typeof name === 'string') listed.add(name);
        const outcome = await this.intake(body, 'devices.list');
        if (outcome === 'enrolled') totals.enrolled++;
        else if (outcome === 'refused') totals.refused++;
        else if (outcome === 'skipped') totals.skipped++;
      }
      pageToken = page.nextPageToken;
      if (pageToken !== undefined) await this.renew('devices');
    } while (pageToken !== undefined);
    let after: string | undefined;
    do {
      const page = await this.fleet.channelConfigurations(CHANNEL, { after, limit: BATCH });
      for (const item of page.items) {
        if (item.state !== 'enrolled' || listed.has(item.ref)) continue;
        // Enrolled since the listing began (a push), or removed at Google: its own answer says which.
        if ((await this.api.getDevice(item.ref)) !== undefined) continue;
        await this.fleet.intakeChannelDevice(goneIntake(item.ref), SOURCE);
        totals.gone++;
      }
      after = page.next;
    } while (after !== undefined);
    return totals;
  }

  /** One AMAPI Device (from a list page or a push) into intakeChannelDevice. */
  private async intake(body: unknown, via: string): Promise<'enrolled' | 'updated' | 'stale' | 'refused' | 'skipped'> {
    let report: AndroidDeviceReport;
    try {
      report = readDevice(body);
    } catch (error) {
      // Google relays what the device says: one device out of shape must not stop the others.
      this.event('warning', `${via}: a device was skipped: ${message(error)}`);
      return 'skipped';
    }
    const intake = toIntake(report, body);
    if (intake && !intake.gone && intake.tokenId === undefined) {
      // Not enrolled with an emmctl token (another tool's, or the Google console's): not emmctl's
      // to manage, and never removed by it.
      if (!this.strangers.has(report.name)) this.event('warning', `device ${report.name} did not enroll with an emmctl token; emmctl leaves it alone`);
      this.strangers.add(report.name);
      return 'skipped';
    }
    if (!intake) {
      if (report.state !== 'PROVISIONING') this.event('warning', `${via}: device ${report.name} was skipped: it reports no ownership and management mode yet`);
      return 'skipped';
    }
    let r: ChannelIntakeResult;
    try {
      r = await this.fleet.intakeChannelDevice(intake, SOURCE);
    } catch (error) {
      // A device whose report breaks the rules' bounds (a serial emmctl cannot store, ...) is
      // skipped, not allowed to stop the sync of every other device; the store being down is not.
      if (error instanceof BackendError && (error.code === 'invalid' || error.code === 'protocol')) {
        this.event('warning', `${via}: device ${report.name} was skipped: ${message(error)}`);
        return 'skipped';
      }
      throw error;
    }
    if (r.outcome === 'enrolled' && r.deviceId !== undefined && report.policyName !== undefined && parsePolicyId(report.policyName)) {
      // It enrolled on its token's policy: recorded, so the policy sync moves it only when its configuration differs.
      await this.fleet.recordChannelPolicy(r.deviceId, report.policyName, null);
    }
    if (r.outcome !== 'refused') return r.outcome;
    this.event('warning', `device ${report.name} was refused (${r.reason ?? 'enrollment rules'}): removing it at Google`);
    try {
      await this.api.deleteDevice(report.name, report.mode?.ownership === 'personal' ? { wipeReasonMessage: 'This device may not enroll with this organisation\'s token.' } : {});
    } catch (error) {
      // Tried again at the next sync (the device is still listed, and still refused).
      this.event('error', `device ${report.name} could not be removed at Google: ${message(error)}`);
    }
    return 'refused';
  }

  // ---- commands ---------------------------------------------------------------------------------

  /** Queued commands of Android devices sent to Google, each exactly once (the ledger decides who sends). */
  async dispatchCommands(): Promise<{ sent: number; unknown: number; finished: number }> {
    const totals = { sent: 0, unknown: 0, finished: 0 };
    for (const { command, ref, mode } of await this.fleet.channelCommandsToSend(CHANNEL, BATCH)) {
      const plan = commandRequest({ type: command.type, device: ref, mode: MODES[mode], reason: command.reason, expiresAt: command.expiresAt, now: this.clock() });
      if (!plan.ok) {
        await this.fleet.finishChannelCommand(command.id, plan.status, plan.detail, SOURCE);
        totals.finished++;
        continue;
      }
      if (!(await this.fleet.beginChannelSend(command.id, plan.request))) continue;
      const r = await this.send(command.id, plan.request, command.expiresAt);
      totals[r]++;
    }
    return totals;
  }

  /** Sends one ledgered request; the ledger row is this caller's (beginChannelSend or retryChannelSend said so). */
  private async send(commandId: string, request: AmapiCommandRequest, expiresAt?: string): Promise<'sent' | 'unknown' | 'finished'> {
    this.inFlight.add(commandId);
    try {
      return await this.sendNow(commandId, request, expiresAt);
    } finally {
      this.inFlight.delete(commandId);
    }
  }

  private async sendNow(commandId: string, request: AmapiCommandRequest, expiresAt?: string): Promise<'sent' | 'unknown' | 'finished'> {
    try {
      if (request.method === 'delete') {
        const r = await this.api.deleteDevice(request.device, request.wipeReasonMessage === undefined ? {} : { wipeReasonMessage: request.wipeReasonMessage });
        await this.fleet.recordChannelSent(commandId, null);
        await this.fleet.finishChannelCommand(commandId, 'acknowledged', r === 'not-found' ? 'Google had already removed the device' : 'the device was removed at Google (devices.delete)', SOURCE);
        return 'finished';
      }
      const op = await this.api.issueCommand(request.device, request.body);
      await this.fleet.recordChannelSent(commandId, op.name);
      return (await this.follow(commandId, op, expiresAt)) ? 'finished' : 'sent';
    } catch (error) {
      const outcome = callOutcome(error);
      if (outcome === 'unknown' || (outcome === 'not-sent' && isRetryable(error))) {
        // Never sent again before a lookup proves it did not land (followOperations).
        await this.fleet.markChannelUnknown(commandId);
        this.event('warning', `command ${commandId}: ${outcome === 'unknown' ? 'Google\'s answer was lost; it is looked up before anything is sent again' : `not sent (${message(error)}); tried again later`}`);
        return 'unknown';
      }
      await this.fleet.finishChannelCommand(commandId, 'failed', message(error), SOURCE);
      return 'finished';
    }
  }

  /** The Operation's state into the command; true when the command is finished. */
  private async follow(commandId: string, op: unknown, expiresAt?: string): Promise<boolean> {
    const outcome = commandOutcome(op, { now: this.clock(), expiresAt });
    if (outcome.status === 'sent') return false;
    await this.fleet.finishChannelCommand(commandId, outcome.status, outcome.detail, SOURCE);
    return true;
  }

  /**
   * Sent commands followed to their end (operations.get); commands whose answer was lost looked
   * up: for issueCommand, the device's operations of the same type created since it was sent;
   * for devices.delete, the device itself. Only when the lookup finds nothing is it sent again.
   */
  async followOperations(): Promise<{ checked: number; finished: number; resent: number }> {
    const totals = { checked: 0, finished: 0, resent: 0 };
    const now = this.clock().getTime();
    for (const row of await this.fleet.channelOperationsToCheck(CHANNEL, BATCH, { sendingStaleMs: this.lookupDelayMs })) {
      const request = row.request as AmapiCommandRequest;
      if (this.inFlight.has(row.commandId)) continue;
      // A request whose answer was lost may still be on its way through Google: give it time to land before looking.
      if (row.state === 'unknown' && now - Date.parse(row.sentAt) < this.lookupDelayMs) continue;
      totals.checked++;
      if (row.state === 'sent') {
        if (row.operation === null) {
          // A delete recorded as sent but not finished (the process died in between): it was answered.
          await this.fleet.finishChannelCommand(row.commandId, 'acknowledged', 'the device was removed at Google (devices.delete)', SOURCE);
          totals.finished++;
          continue;
        }
        const op = await this.api.getOperation(row.operation);
        if (op === undefined) {
          await this.fleet.finishChannelCommand(row.commandId, 'failed', `Google no longer knows the operation ${row.operation}`, SOURCE);
          totals.finished++;
        } else if (await this.follow(row.commandId, op, row.expiresAt)) totals.finished++;
        continue;
      }
      const landed = await this.lookUp(request, row.sentAt);
      if (landed === 'deleted') {
        await this.fleet.recordChannelSent(row.commandId, null);
        await this.fleet.finishChannelCommand(row.commandId, 'acknowledged', 'the device was removed at Google (devices.delete; found gone after the answer was lost)', SOURCE);
        totals.finished++;
      } else if (landed) {
        await this.fleet.recordChannelSent(row.commandId, landed.name);
        this.event('info', `command ${row.commandId}: the lost answer was found as ${landed.name}; not sent again`);
        if (await this.follow(row.commandId, landed, row.expiresAt)) totals.finished++;
      } else if (row.expiresAt !== undefined && Date.parse(row.expiresAt) <= now) {
        await this.fleet.finishChannelCommand(row.commandId, 'expired', 'the command expired before Google was known to have it', SOURCE);
        totals.finished++;
      } else if (await this.fleet.retryChannelSend(row.commandId, row.attempts)) {
        // The lookup proved nothing landed: this caller (the only one, by attempts) sends again.
        totals.resent++;
        const r = await this.send(row.commandId, request, row.expiresAt);
        if (r === 'finished') totals.finished++;
      }
    }
    return totals;
  }

  /** Did the request land? The Operation it made, 'deleted' for a delete that did, undefined when nothing shows it did. */
  private async lookUp(request: AmapiCommandRequest, sentAt: string): Promise<Operation | 'deleted' | undefined> {
    if (request.method === 'delete') {
      const device = await this.api.getDevice(request.device);
      if (device === undefined) return 'deleted';
      const state = (device as { state?: unknown }).state;
      return state === 'DELETED' ? 'deleted' : undefined;
    }
    const since = Date.parse(sentAt) - CLOCK_SKEW_MS;
    let best: { op: Operation; at: number } | undefined;
    let pageToken: string | undefined;
    do {
      const page = await this.api.listOperations(request.device, pageToken);
      for (const op of page.operations) {
        const meta = op.metadata ?? {};
        const at = typeof meta.createTime === 'string' ? Date.parse(meta.createTime) : NaN;
        if (meta.type !== request.body.type || Number.isNaN(at) || at < since) continue;
        // The earliest match: a later one of the same type is another command's.
        if (!best || at < best.at) best = { op, at };
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    return best?.op;
  }

  // ---- tokens -----------------------------------------------------------------------------------

  /** AMAPI tokens of emmctl tokens used up, revoked or expired, deleted at Google. */
  async deleteUsedTokens(): Promise<number> {
    let n = 0;
    for (const { tokenId, ref } of await this.fleet.channelTokensToDelete(CHANNEL)) {
      await this.api.deleteEnrollmentToken(ref);
      await this.fleet.markChannelTokenDeleted(tokenId);
      n++;
    }
    return n;
  }

  // ---- push notifications -------------------------------------------------------------------

  /** One verified Pub/Sub push body: ENROLLMENT and STATUS_REPORT into the intake, COMMAND follows the ledger. */
  async handlePush(body: unknown): Promise<PushResult> {
    const given = body !== null && typeof body === 'object' ? (body as { subscription?: unknown }).subscription : undefined;
    const notification = readPush(body, this.subscription ?? (typeof given === 'string' ? given : ''));
    const { type } = notification;
    if (type === 'ENROLLMENT' || type === 'STATUS_REPORT') {
      return { type, outcome: await this.intake(notification.payload, `Pub/Sub ${type}`) };
    }
    if (type === 'COMMAND') {
      // The ledger knows which command the operation is; the next pass follows it (soon, not now:
      // a push must be answered quickly, or Pub/Sub sends it again).
      this.kick();
      return { type, outcome: 'followed' };
    }
    return { type };
  }

  // ---- the background jobs ------------------------------------------------------------------

  /** Runs the jobs every tick (and once now). */
  start(): void {
    this.timer = setInterval(() => this.kick(), this.tickMs);
    this.timer.unref();
    setImmediate(() => this.kick());
  }

  /** One pass soon: now, or right after the pass under way. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** One pass of every job this replica holds the lease of. Errors are logged; the next tick tries again. */
  async pass(): Promise<void> {
    for (const job of JOBS) {
      if (this.closed) return;
      try {
        if (!(await this.hold(job))) continue;
        await this.run(job);
      } catch (error) {
        this.event('error', `android ${job} sync failed: ${message(error)}`);
      }
    }
  }

  private async run(job: Job): Promise<void> {
    switch (job) {
      case 'policies': {
        const r = await this.syncPolicies();
        if (r.moved || r.deleted) this.event('info', `policies: ${r.published} in use, ${r.moved} device(s) moved, ${r.deleted} deleted`);
        return;
      }
      case 'devices': {
        const r = await this.syncDevices();
        if (r.enrolled || r.refused || r.gone) this.event('info', `devices: ${r.seen} listed, ${r.enrolled} enrolled, ${r.refused} refused, ${r.gone} gone at Google`);
        return;
      }
      case 'commands': {
        await this.dispatchCommands();
        await this.followOperations();
        return;
      }
      case 'tokens':
        await this.deleteUsedTokens();
        return;
    }
  }

  private async hold(job: Job): Promise<boolean> {
    const lease = await this.fleet.takeLease(`android:${job}`, this.holder, this.leaseMs);
    if (lease) this.leases.set(job, lease);
    else this.leases.delete(job);
    return lease !== undefined;
  }

  /** Between pages of a long job: renew its lease; a job whose lease another replica took stops. */
  private async renew(job: Job): Promise<void> {
    if (this.closed) throw new BackendError('unavailable', 'the server is shutting down');
    if (!(await this.hold(job))) throw new BackendError('conflict', `another replica took the android ${job} lease`);
  }

  /** Stops the jobs: the pass under way finishes, the leases are given up for another replica. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    for (const lease of this.leases.values()) {
      try {
        await this.fleet.releaseLease(lease);
      } catch {
        // expires by itself
      }
    }
    this.leases.clear();
  }

  private event(level: 'info' | 'warning' | 'error', text: string): void {
    this.log(JSON.stringify({ time: new Date().toISOString(), level, channel: CHANNEL, message: text }));
  }
}

/** The AMAPI device as the fleet's intake; undefined while it reports no ownership and mode. */
function toIntake(report: AndroidDeviceReport, body: unknown): ChannelDeviceIntake | undefined {
  const gone = report.state === 'DELETED';
  const b = body as { hardwareInfo?: { serialNumber?: unknown; model?: unknown }; softwareInfo?: { androidVersion?: unknown }; enrollmentTime?: unknown };
  const id = report.name.slice(report.name.lastIndexOf('/') + 1);
  if (gone) return goneIntake(report.name);
  if (!report.mode) return undefined;
  const serialNumber = typeof b.hardwareInfo?.serialNumber === 'string' ? b.hardwareInfo.serialNumber : undefined;
  // A personal device's serialNumber is an enterprise-specific id, not the hardware serial: still
  // unique, and what an admin finds in the Google console, so it is the serial emmctl lists.
  const serial = report.posture?.serial ?? (serialNumber && serialNumber.length <= 64 ? serialNumber : id.slice(0, 64));
  const osVersion = report.posture?.osVersion ?? (typeof b.softwareInfo?.androidVersion === 'string' ? b.softwareInfo.androidVersion.slice(0, 64) : 'unknown');
  const model = report.posture?.model ?? (typeof b.hardwareInfo?.model === 'string' ? b.hardwareInfo.model.slice(0, 128) : undefined);
  const token = readEnrollmentData(report.enrollmentTokenData);
  const intake: ChannelDeviceIntake = {
    channel: CHANNEL,
    ref: report.name,
    serial,
    ownership: report.mode.ownership,
    mode: modeCode(report.mode),
    osVersion,
    failures: report.failures as RuleFailure[],
  };
  if (report.enrollmentTokenName !== undefined) intake.tokenRef = report.enrollmentTokenName;
  if (typeof b.enrollmentTime === 'string' && !Number.isNaN(Date.parse(b.enrollmentTime))) intake.enrolledAt = new Date(Date.parse(b.enrollmentTime)).toISOString();
  if (token) intake.tokenId = token.token;
  if (model !== undefined) intake.model = model;
  if (report.posture) intake.posture = report.posture;
  if (report.lastStatusReportTime !== undefined) intake.reportedAt = report.lastStatusReportTime;
  if (report.posture?.appliedConfigVersion !== undefined) intake.appliedConfigVersion = report.posture.appliedConfigVersion;
  return intake;
}

/** A device Google no longer has: only the ref counts (the rules take a known ref's own mode). */
function goneIntake(ref: string): ChannelDeviceIntake {
  return { channel: CHANNEL, ref, serial: ref.slice(ref.lastIndexOf('/') + 1).slice(0, 64), ownership: 'corporate', mode: 'fm', osVersion: 'unknown', failures: [], gone: true };
}

/** SSID → pre-shared key, from the device form of the configuration (secret values in place). */
function passphrases(configuration: EffectiveConfiguration): Map<string, string> {
  const out = new Map<string, string>();
  const wifi = configuration.settings.wifi;
  if (!Array.isArray(wifi)) return out;
  for (const net of wifi as WifiNetwork[]) if (typeof net.password === 'string') out.set(net.ssid, net.password);
  return out;
}

/**
 * What the store keeps to tell whether Google has this exact body: a hash of the policy with
 * the Wi-Fi keys left out (no digest of a secret is stored; a changed key changes the policy's
 * name anyway, which hashes the secrets' digests).
 */
function policyDigest(policy: AmapiPolicy): string {
  const text = JSON.stringify(policy, (k, v: unknown) => (k === 'Passphrase' ? undefined : v));
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

function callOutcome(error: unknown): 'not-sent' | 'unknown' | undefined {
  const o = (error as { outcome?: unknown } | null)?.outcome;
  return o === 'not-sent' || o === 'unknown' ? o : undefined;
}

function isRetryable(error: unknown): boolean {
  return (error as { amapi?: { retryable?: unknown } } | null)?.amapi?.retryable === true;
}

function isNotFound(error: unknown): boolean {
  return (error as { amapi?: { status?: unknown } } | null)?.amapi?.status === 'NOT_FOUND';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function tokenFailure(error: unknown, tokenId: string, amapiRef: string | undefined): Error {
  const undone = `emmctl token ${tokenId} was revoked${amapiRef ? ` and Google's token ${amapiRef} deleted` : ''}, so no device can enroll with it`;
  if (callOutcome(error) === 'unknown') {
    // Not a plain failure: said as what it is (503, "may or may not").
    return new BackendError('unavailable', `the Android enrollment token may or may not have been created at Google (the answer was lost); ${undone} (a device that enrolls with Google's token anyway is refused and removed)`, {
      hint: 'create a new token: emmctl enroll token create --profile NAME',
      cause: error,
    });
  }
  if (error instanceof BackendError) return new BackendError(error.code, `${error.message}; ${undone}`, { hint: error.hint, status: error.status });
  return new BackendError('unavailable', `the Android enrollment token could not be created: ${message(error)}; ${undone}`, { cause: error });
}
