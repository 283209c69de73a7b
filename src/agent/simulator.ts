// The fleet simulator: N simulated devices speak the real agent protocol over HTTP — enroll,
// check in with posture, apply configuration (reporting its version at the next check-in),
// execute commands — against a given server or an in-process one over the embedded store.
// It keeps the fleet's identity in a state file so runs add up: the same count checks the same
// devices in, a larger count adds devices, and commands queued between runs get executed.
// It doubles as the load generator (bench/checkin.bench.mjs).
import { join, resolve } from 'node:path';
import { BackendError, EmmctlError, UsageError } from '../errors.js';
import { PLATFORMS, type StoredResource } from '../model/fleet.js';
import type { EnrollmentProfileDocument, Platform, Ownership } from '../model/policy.generated.js';
import { normalizeServerUrl } from '../backends/http/url.js';
import { AgentClient, isUnreachable } from './client.js';
import { commandOutcome, simulatedDevice, type SimulatedDevice } from './fleet.js';
import type { PendingCommand } from '../model/protocol.js';
import { readState, writeState, type DeviceEntry, type FleetState, type StateFile } from './state.js';

export const DEFAULT_SEED = 1;
export const DEFAULT_CONCURRENCY = 32;
export const DEFAULT_INTERVAL_SEC = 60;
export const STATE_FILE_NAME = 'simulator-state.json';
/** Created only when the store has no EnrollmentProfile at all, so simulate works on an empty store. */
export const FALLBACK_PROFILE = 'simulated-devices';

export interface SimulateOptions {
  /** How many devices (indexes 0..N-1 of the seeded fleet). */
  devices: number;
  /** A running `emmctl server`; when absent an in-process server over `dataDir` is started. */
  server?: string;
  /** Enrollment token secret, needed with `server` when devices still have to enroll. */
  enrollToken?: string;
  seed?: number;
  /** Interval mode when intervalSec or durationSec is given; otherwise one check-in per device. */
  intervalSec?: number;
  /** Interval mode: stop after this long; without it, run until interrupted (state is saved every round). */
  durationSec?: number;
  concurrency?: number;
  /** The embedded store (in-process mode) and the default place of the state file. */
  dataDir?: string;
  stateFile?: string;
  timeoutMs?: number;
  info?: (line: string) => void;
  warn?: (line: string) => void;
  /** Called a few times a second during long phases ("enrolling 1200/10000"); the CLI shows it on a terminal only. */
  progress?: (text: string) => void;
  /**
   * Stops the run early (Ctrl-C): no new request starts, the ones in flight finish, the state is
   * saved and the summary comes back with `interrupted: true`.
   */
  signal?: AbortSignal;
}

export interface SimulationSummary {
  server: string;
  /** The data dir of the in-process server, or null with --server. */
  store: string | null;
  stateFile: string;
  seed: number;
  devices: number;
  enrolled: number;
  /** Devices that could not enroll (no profile for their platform, rejected by the token's profile). */
  notEnrolled: number;
  notEnrolledReasons: string[];
  /** Wiped devices no longer check in (they forgot their identity). */
  wiped: number;
  retired: number;
  rounds: number;
  checkIns: number;
  commands: { executed: number; acknowledged: number; failed: number; byType: Record<string, number> };
  errors: number;
  errorSamples: string[];
  retries: number;
  durationMs: number;
  checkInSeconds: number;
  checkInsPerSecond: number;
  profileCreated: string | null;
  /** Stopped early by `signal` (Ctrl-C). */
  interrupted: boolean;
}

interface Runtime {
  opts: SimulateOptions;
  client: AgentClient;
  fleet: FleetState;
  seed: number;
  summary: SimulationSummary;
  save: () => void;
  /** Throttled progress: reports `text()` at most every 200 ms. */
  tick: (text: () => string) => void;
  fatal?: Error;
  /** No new request should start: a fatal error, or the run was interrupted. */
  stopped: () => boolean;
}

export async function simulateFleet(opts: SimulateOptions): Promise<SimulationSummary> {
  validate(opts);
  const started = Date.now();
  const inProcess = !opts.server;
  if (inProcess && !opts.dataDir) throw new UsageError('simulate without --server needs a data dir for its in-process server');
  const stateFile = resolve(opts.stateFile ?? join(opts.dataDir!, STATE_FILE_NAME));
  // Keyed by where the devices are enrolled, so one --state file can serve several stores or servers.
  const fleetKey = inProcess ? `embedded:${resolve(opts.dataDir!)}` : normalizeServerUrl(opts.server!);
  const state = readState(stateFile);
  const existing = state.fleets[fleetKey];
  if (existing && opts.seed !== undefined && existing.seed !== opts.seed) {
    throw new UsageError(
      `the simulated fleet in ${stateFile} was created with --seed ${existing.seed}, not ${opts.seed}`,
      `run with --seed ${existing.seed} to check the same devices in, or pass --state OTHER_FILE for a new fleet`,
    );
  }
  const fleet: FleetState = existing ?? { seed: opts.seed ?? DEFAULT_SEED, devices: [] };
  state.fleets[fleetKey] = fleet;
  const specs = Array.from({ length: opts.devices }, (_, i) => simulatedDevice(fleet.seed, i));
  checkSerials(fleet, specs, stateFile);

  let server: { url: string; close(): Promise<void> } | undefined;
  let url = opts.server!;
  if (inProcess) {
    const { startServer } = await import('../server/http.js');
    // A private server on loopback for the lifetime of this command, with only the simulator as
    // client: its rate limits would only slow the simulated fleet down.
    server = await startServer({ dataDir: opts.dataDir!, listen: '127.0.0.1:0', log: false, rateLimit: { device: false, enroll: false } });
    url = server.url;
  }
  const client = new AgentClient({ server: url, maxSockets: opts.concurrency ?? DEFAULT_CONCURRENCY, timeoutMs: opts.timeoutMs });
  const summary: SimulationSummary = {
    server: client.server,
    store: inProcess ? resolve(opts.dataDir!) : null,
    stateFile,
    seed: fleet.seed,
    devices: opts.devices,
    enrolled: 0,
    notEnrolled: 0,
    notEnrolledReasons: [],
    wiped: 0,
    retired: 0,
    rounds: 0,
    checkIns: 0,
    commands: { executed: 0, acknowledged: 0, failed: 0, byType: {} },
    errors: 0,
    errorSamples: [],
    retries: 0,
    durationMs: 0,
    checkInSeconds: 0,
    checkInsPerSecond: 0,
    profileCreated: null,
    interrupted: false,
  };
  let lastTick = 0;
  const tick = (text: () => string) => {
    if (!opts.progress || Date.now() - lastTick < 200) return;
    lastTick = Date.now();
    opts.progress(text());
  };
  const rt: Runtime = {
    opts, client, fleet, seed: fleet.seed, summary, save: () => writeState(stateFile, state), tick,
    stopped: () => Boolean(rt.fatal) || Boolean(opts.signal?.aborted),
  };
  try {
    const toEnroll = specs.filter((s) => !fleet.devices[s.index]);
    if (toEnroll.length) {
      const secrets = inProcess ? await inProcessTokens(opts.dataDir!, toEnroll, rt) : remoteToken(opts, toEnroll);
      await enrollAll(rt, toEnroll, secrets);
      rt.save();
      if (rt.fatal) throw rt.fatal;
    }
    if (!opts.signal?.aborted) await checkInRounds(rt, specs);
    if (rt.fatal) throw rt.fatal;
  } finally {
    summary.interrupted = Boolean(opts.signal?.aborted);
    summary.retries = client.retries;
    summary.durationMs = Date.now() - started;
    client.close();
    await server?.close();
  }
  for (const spec of specs) {
    const entry = fleet.devices[spec.index];
    if (entry?.state === 'wiped') summary.wiped++;
    if (entry?.state === 'retired') summary.retired++;
  }
  return summary;
}

function validate(opts: SimulateOptions): void {
  if (!Number.isInteger(opts.devices) || opts.devices < 1) throw new UsageError(`--devices must be a whole number of at least 1 (got ${opts.devices})`);
  if (opts.devices > 1_000_000) throw new UsageError(`--devices ${opts.devices} is more than the simulator supports (1,000,000)`);
  if (opts.seed !== undefined && (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff)) throw new UsageError(`--seed must be a whole number from 0 to 4294967295 (got ${opts.seed})`);
  if (opts.concurrency !== undefined && (!Number.isInteger(opts.concurrency) || opts.concurrency < 1 || opts.concurrency > 1024)) throw new UsageError(`--concurrency must be from 1 to 1024 (got ${opts.concurrency})`);
  if (opts.intervalSec !== undefined && !(opts.intervalSec > 0)) throw new UsageError(`--interval must be a positive number of seconds (got ${opts.intervalSec})`);
  if (opts.durationSec !== undefined && !(opts.durationSec > 0)) throw new UsageError(`--duration must be a positive number of seconds (got ${opts.durationSec})`);
}

/** A state file written with another seed would pair credentials with the wrong devices. */
function checkSerials(fleet: FleetState, specs: SimulatedDevice[], stateFile: string): void {
  for (const spec of specs) {
    const entry = fleet.devices[spec.index];
    if (entry && entry.serial !== spec.serial) {
      throw new EmmctlError(`simulator state ${stateFile} does not match the generated fleet (device ${spec.index}: ${entry.serial} ≠ ${spec.serial})`, {
        hint: 'the state file was written by another emmctl version or edited; pass --state OTHER_FILE for a new fleet',
      });
    }
  }
}

// ---- enrollment ----

type TokenFor = (spec: SimulatedDevice) => string | { skip: string };

function remoteToken(opts: SimulateOptions, toEnroll: SimulatedDevice[]): TokenFor {
  if (!opts.enrollToken) {
    throw new UsageError(
      `${toEnroll.length} simulated device${toEnroll.length === 1 ? ' is' : 's are'} not enrolled with ${opts.server} yet: pass --enroll-token (or EMMCTL_ENROLL_TOKEN)`,
      'create one with `emmctl enroll token create --profile NAME` against that server',
    );
  }
  const secret = opts.enrollToken;
  return () => secret;
}

/** Picks each device's profile: same platform and ownership first, then same platform; by name for determinism. */
export function chooseProfile(profiles: StoredResource[], platform: Platform, ownership: Ownership): string | undefined {
  const docs = profiles
    .filter((p) => p.kind === 'EnrollmentProfile')
    .map((p) => p.document as EnrollmentProfileDocument)
    .filter((d) => d.spec.platforms.includes(platform))
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  return (docs.find((d) => d.spec.ownership === ownership) ?? docs[0])?.metadata.name;
}

/**
 * In-process mode acts as the admin too, directly on the store: it pre-registers the company-owned
 * devices (with a department label) and creates enrollment tokens: one per profile used,
 * with as many uses as devices enroll with it and a short lifetime. On a store with no
 * EnrollmentProfile at all (nothing applied yet) it creates one, `simulated-devices`, for every
 * platform — a visible, audited resource that `emmctl plan` lists as unmanaged and `apply --prune`
 * removes — so `emmctl simulate` works on a fresh machine. When profiles exist, the simulator
 * respects them: a device whose platform no profile allows does not enroll (and is reported).
 */
async function inProcessTokens(dataDir: string, toEnroll: SimulatedDevice[], rt: Runtime): Promise<TokenFor> {
  const { openBackend } = await import('../backends/index.js');
  const admin = await openBackend({ kind: 'embedded', dataDir });
  try {
    let profiles = await admin.listResources('EnrollmentProfile');
    if (profiles.length === 0) {
      const document: EnrollmentProfileDocument = {
        apiVersion: 'emmctl/v1',
        kind: 'EnrollmentProfile',
        metadata: {
          name: FALLBACK_PROFILE,
          description: 'Created by `emmctl simulate` because the store had no enrollment profile; remove with `emmctl apply --prune`.',
          labels: { 'emmctl.dev/created-by': 'simulate' },
        },
        spec: { platforms: [...PLATFORMS] as EnrollmentProfileDocument['spec']['platforms'], ownership: 'corporate' },
      };
      await admin.applyChanges([{ op: 'create', kind: 'EnrollmentProfile', name: FALLBACK_PROFILE, document }]);
      rt.summary.profileCreated = FALLBACK_PROFILE;
      rt.opts.warn?.(`the store has no EnrollmentProfile: created EnrollmentProfile/${FALLBACK_PROFILE} (all platforms) so simulated devices can enroll; apply your own profiles with \`emmctl apply\``);
      profiles = await admin.listResources('EnrollmentProfile');
    }
    const byDevice = new Map<number, string>();
    const uses = new Map<string, number>();
    for (const spec of toEnroll) {
      const profile = chooseProfile(profiles, spec.platform, spec.ownership);
      if (!profile) continue;
      byDevice.set(spec.index, profile);
      uses.set(profile, (uses.get(profile) ?? 0) + 1);
    }
    // Company-owned devices arrive pre-registered from the purchase record, with their department
    // as a label (groups such as `department: finance` select on it); personal devices just enroll.
    // Only a profile of the same ownership may claim a pre-registration, so the others just enroll too.
    const ownershipOf = new Map(profiles.map((p) => [p.name, (p.document as EnrollmentProfileDocument).spec.ownership]));
    const preregister = toEnroll.filter((s) => s.ownership === 'corporate' && ownershipOf.get(byDevice.get(s.index) ?? '') === s.ownership);
    if (preregister.length) {
      await admin.preregisterDevices(preregister.map((s) => ({ serial: s.serial, platform: s.platform, ownership: s.ownership, owner: s.owner, name: s.name, labels: { department: s.department } })));
    }
    const secrets = new Map<string, string>();
    for (const [profile, maxUses] of uses) {
      const created = await admin.createEnrollmentToken({ profile, maxUses, expiresInSeconds: 3600 });
      secrets.set(profile, created.secret);
    }
    return (spec) => {
      const profile = byDevice.get(spec.index);
      return profile ? secrets.get(profile)! : { skip: `no EnrollmentProfile allows ${spec.platform}` };
    };
  } finally {
    await admin.close();
  }
}

async function enrollAll(rt: Runtime, toEnroll: SimulatedDevice[], tokenFor: TokenFor): Promise<void> {
  const { client, fleet, summary } = rt;
  const reasons = new Map<string, number>();
  let lastSave = Date.now();
  let done = 0;
  rt.opts.info?.(`enrolling ${toEnroll.length} simulated device${toEnroll.length === 1 ? '' : 's'} with ${client.server}`);
  await pool(toEnroll, rt.opts.concurrency ?? DEFAULT_CONCURRENCY, rt.stopped, async (spec) => {
    const token = tokenFor(spec);
    if (typeof token !== 'string') {
      summary.notEnrolled++;
      reasons.set(token.skip, (reasons.get(token.skip) ?? 0) + 1);
      return;
    }
    try {
      const r = await client.enroll({
        token,
        platform: spec.platform,
        serial: spec.serial,
        name: spec.name,
        model: spec.model,
        owner: spec.owner,
        ownership: spec.ownership,
        osVersion: spec.posture.osVersion,
      });
      fleet.devices[spec.index] = { serial: spec.serial, deviceId: r.deviceId, credential: r.credential, state: 'enrolled' };
      summary.enrolled++;
    } catch (error) {
      if (error instanceof BackendError && (error.code === 'invalid' || error.code === 'conflict')) {
        // The token's profile does not take this platform, or the serial belongs to a device
        // enrolled before (a lost --state file): a property of the setup, not a failure.
        summary.notEnrolled++;
        reasons.set(error.message, (reasons.get(error.message) ?? 0) + 1);
      } else if (isUnreachable(error) || (error instanceof BackendError && error.code === 'unauthorized')) {
        // Nothing else will enroll either (server down; token unknown, expired, used up or revoked).
        rt.fatal ??= error as Error;
      } else {
        recordError(rt, `enroll ${spec.serial}`, error);
      }
    }
    done++;
    rt.tick(() => `enrolling ${done}/${toEnroll.length}`);
    if (Date.now() - lastSave > 2000) {
      lastSave = Date.now();
      rt.save();
    }
  });
  summary.notEnrolledReasons = [...reasons].map(([reason, n]) => `${n} × ${reason}`);
}

// ---- check-ins ----

async function checkInRounds(rt: Runtime, specs: SimulatedDevice[]): Promise<void> {
  const { opts, summary } = rt;
  const interval = opts.intervalSec !== undefined || opts.durationSec !== undefined;
  const intervalMs = (opts.intervalSec ?? DEFAULT_INTERVAL_SEC) * 1000;
  const start = Date.now();
  const end = opts.durationSec !== undefined ? start + opts.durationSec * 1000 : Infinity;
  let busyMs = 0;
  for (;;) {
    const active = specs.filter((s) => {
      const e = rt.fleet.devices[s.index];
      return e?.credential && e.state !== 'wiped';
    });
    const roundStart = Date.now();
    const before = { checkIns: summary.checkIns, commands: summary.commands.executed };
    // In interval mode each device checks in at its own offset in the interval, a steady load like a real fleet's.
    const schedule = interval ? (i: number) => roundStart + (i / Math.max(1, active.length)) * intervalMs : undefined;
    let done = 0;
    const round = summary.rounds + 1;
    await pool(active, opts.concurrency ?? DEFAULT_CONCURRENCY, rt.stopped, async (spec) => {
      await checkInOne(rt, spec);
      done++;
      rt.tick(() => `${interval ? `round ${round}: ` : ''}checked in ${done}/${active.length}`);
    }, schedule, opts.signal);
    busyMs += Date.now() - roundStart;
    summary.rounds++;
    rt.save();
    if (!interval || rt.stopped()) break;
    opts.info?.(`round ${summary.rounds}: ${summary.checkIns - before.checkIns} check-ins, ${summary.commands.executed - before.commands} commands, ${summary.errors} errors so far`);
    const next = start + summary.rounds * intervalMs;
    if (next >= end) break;
    opts.progress?.(`round ${summary.rounds} done; next at ${new Date(next).toISOString().slice(11, 19)}`);
    await sleep(next - Date.now(), opts.signal);
    if (opts.signal?.aborted) break;
  }
  summary.checkInSeconds = busyMs / 1000;
  summary.checkInsPerSecond = busyMs > 0 ? summary.checkIns / (busyMs / 1000) : 0;
}

async function checkInOne(rt: Runtime, spec: SimulatedDevice): Promise<void> {
  const entry = rt.fleet.devices[spec.index]!;
  const credential = entry.credential!;
  let commands: PendingCommand[];
  try {
    const posture = entry.appliedConfigVersion ? { ...spec.posture, appliedConfigVersion: entry.appliedConfigVersion } : spec.posture;
    const r = await rt.client.checkIn(credential, { posture });
    rt.summary.checkIns++;
    // Applying the configuration is instantaneous here; the version goes back at the next check-in.
    entry.appliedConfigVersion = r.configuration.version;
    commands = r.commands;
  } catch (error) {
    if (isUnreachable(error)) rt.fatal ??= error as Error;
    else if (error instanceof BackendError && error.code === 'unauthorized') {
      recordError(rt, `check-in of ${spec.serial}`, new EmmctlError(`the server no longer accepts the credential of ${entry.deviceId}`), `was the server's data reset? move ${rt.summary.stateFile} aside to start a new fleet`);
    } else recordError(rt, `check-in of ${spec.serial}`, error);
    return;
  }
  for (const command of commands) {
    if (!(await execute(rt, spec, entry, credential, command))) break;
  }
}

/** Runs one command; false when the device has no identity left (wiped) and stops there. */
async function execute(rt: Runtime, spec: SimulatedDevice, entry: DeviceEntry, credential: string, command: PendingCommand): Promise<boolean> {
  const { summary } = rt;
  const outcome = commandOutcome(rt.seed, spec.serial, command.type);
  try {
    await rt.client.reportResult(credential, command.id, outcome);
  } catch (error) {
    // Cancelled by an admin between the check-in and the report: the server keeps its decision.
    if (error instanceof BackendError && (error.code === 'conflict' || error.code === 'not_found')) return true;
    if (isUnreachable(error)) rt.fatal ??= error as Error;
    else recordError(rt, `${command.type} result of ${spec.serial}`, error);
    return true;
  }
  summary.commands.executed++;
  summary.commands.byType[command.type] = (summary.commands.byType[command.type] ?? 0) + 1;
  if (outcome.status === 'failed') {
    summary.commands.failed++;
    return true;
  }
  summary.commands.acknowledged++;
  if (command.type === 'wipe') {
    // Factory reset: the device forgets who it was and stops checking in.
    entry.state = 'wiped';
    delete entry.credential;
    delete entry.appliedConfigVersion;
    return false;
  }
  if (command.type === 'retire') {
    // Corporate data removed; the server sends it an empty configuration from now on.
    entry.state = 'retired';
  }
  return true;
}

function recordError(rt: Runtime, what: string, error: unknown, hint?: string): void {
  rt.summary.errors++;
  if (rt.summary.errorSamples.length < 5) {
    const message = error instanceof Error ? error.message : String(error);
    rt.summary.errorSamples.push(`${what}: ${message}${hint ? ` (${hint})` : ''}`);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs fn over items with at most `concurrency` in flight; `at(i)` delays item i until that time.
 * Once `stop()` holds no item starts; those already running finish.
 */
async function pool<T>(items: T[], concurrency: number, stop: () => boolean, fn: (item: T) => Promise<void>, at?: (i: number) => number, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop()) {
      const i = next++;
      if (at) {
        await sleep(at(i) - Date.now(), signal);
        if (stop()) return;
      }
      await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export type { StateFile };
