// Device posture × compliance rules → status and the failing rules, expected vs actual.
// Pure: the clock and the start of the current non-compliance episode come in as arguments.
import type { ComplianceStatus, Device, Posture, RuleFailure } from '../model/fleet.js';
import type { CompliancePolicyDocument, ComplianceRules } from '../model/policy.generated.js';
import { EmmctlError } from '../errors.js';
import { parseDuration } from './duration.js';
import { compareVersions } from './versions.js';

export const DAY_MS = 86_400_000;

export interface ComplianceInput {
  device: Device;
  /** The compliance policies assigned to the device (see policiesForGroups). */
  policies: CompliancePolicyDocument[];
  now: Date;
  /** Start of the current non-compliance episode, if the device was already failing. */
  noncompliantSince?: string;
  /** Policies known not to be evaluable (a stored document that fails the schema): name → why. */
  unevaluable?: ReadonlyMap<string, string>;
}

export interface ComplianceResult {
  status: ComplianceStatus;
  failures: RuleFailure[];
  /** Names of the policies evaluated, sorted. */
  policies: string[];
  /** Some rule fails (status noncompliant or in-grace); the store starts/keeps an episode. */
  failing: boolean;
  /** Why the status is `unknown` when policies are assigned but some cannot be evaluated. */
  reason?: string;
}

/**
 * Evaluates a device against its assigned compliance policies.
 *
 * - `unknown`: the device never reported posture (no posture or no check-in time) — there is
 *   nothing to judge, whatever is assigned. Like Intune's "Not evaluated".
 * - `compliant` with `policies: []` when no compliance policy is assigned: nothing is required,
 *   so nothing fails (the store's gates treat it like any compliant device).
 * - `compliant`: every rule of every assigned policy holds.
 * - failing, then `in-grace` or `noncompliant`: the grace period ends at
 *   noncompliantSince + the earliest `markNoncompliant` offset among the FAILING policies.
 *   A failing policy without actions, or whose actions have no `markNoncompliant` step, makes the
 *   device noncompliant at once (the schema: "without actions a failing device is marked
 *   non-compliant at once"). The boundary belongs to noncompliant: at exactly
 *   since + after the device is noncompliant, the same instant dueEscalations fires the step.
 *   Without `noncompliantSince` the episode starts at `now`, so a failing device is in-grace
 *   exactly when every failing policy's first markNoncompliant offset is > 0.
 *
 * Failures are listed by policy name, then in the schema's rule order; a rule failed by two
 * policies appears once per policy, since each may carry different escalation steps.
 */
export function evaluateCompliance(input: ComplianceInput): ComplianceResult {
  const { device, now } = input;
  const policies = isSortedByName(input.policies) ? input.policies : [...input.policies].sort(byName);
  const names = policies.map((p) => p.metadata.name);
  const posture = device.posture;
  if (!posture || device.lastCheckIn === undefined) return { status: 'unknown', failures: [], policies: names, failing: false };

  const failures: RuleFailure[] = [];
  const ctx: RuleContext = { device, posture, now: now.getTime(), apps: undefined };
  // A policy that cannot be evaluated (stored before validation, or hand-edited) makes the status
  // unknown with the reason, never an exception: a check-in must not fail because of stored data.
  // The other policies still count, so their failures and escalation steps go on.
  const reasons: string[] = [];
  for (const p of policies) {
    const why = input.unevaluable?.get(p.metadata.name) ?? evaluable(p, ctx, failures);
    if (why !== undefined) reasons.push(`CompliancePolicy "${p.metadata.name}" cannot be evaluated: ${why}`);
  }
  // What the device's channel says it did not apply fails whatever compliance policies say (none may be assigned).
  if (posture.channelFailures?.length) failures.push(...posture.channelFailures);
  if (reasons.length) return { status: 'unknown', failures, policies: names, failing: failures.length > 0, reason: reasons.join('; ') };
  if (failures.length === 0) return { status: 'compliant', failures, policies: names, failing: false };

  const since = input.noncompliantSince === undefined ? ctx.now : parseInstant(input.noncompliantSince, 'noncompliantSince');
  const graceMs = gracePeriodMs(policies, failures);
  const status: ComplianceStatus = ctx.now < since + graceMs ? 'in-grace' : 'noncompliant';
  return { status, failures, policies: names, failing: true };
}

const HOUR_MS = 3_600_000;

/**
 * The first instant (epoch ms) after `input.now` at which evaluateCompliance(input) with only the
 * clock moved might answer differently from `result`, or Infinity: a stored result stands for
 * every instant in [now, that). The clock alone moves three things: a `maxCheckInAgeDays` rule
 * lapsing (one ms past the limit), the hour an age failure prints ("last check-in 15d3h ago"),
 * and the end of the grace period of an episode whose start is known. Any instant given too
 * early only costs a re-evaluation; one too late would be a wrong answer, so every policy's age
 * rule counts, failing or not.
 */
export function resultHoldsUntil(input: ComplianceInput, result: ComplianceResult): number {
  const { device } = input;
  if (!device.posture || device.lastCheckIn === undefined) return Infinity;
  const now = input.now.getTime();
  let until = Infinity;
  const last = Date.parse(device.lastCheckIn);
  if (!Number.isNaN(last)) {
    for (const p of input.policies) {
      const days = (p.spec?.rules as ComplianceRules | undefined)?.maxCheckInAgeDays;
      if (days === undefined || input.unevaluable?.has(p.metadata.name)) continue;
      // The same arithmetic as checkCheckInAge: it fails once now - last > limit.
      const limit = days * DAY_MS;
      if (Number.isNaN(limit)) continue;
      if (now - last > limit) until = Math.min(until, last + (Math.floor((now - last) / HOUR_MS) + 1) * HOUR_MS);
      else until = Math.min(until, last + Math.floor(limit) + 1);
    }
  }
  if (result.status === 'in-grace' && input.noncompliantSince !== undefined) {
    until = Math.min(until, parseInstant(input.noncompliantSince, 'noncompliantSince') + gracePeriodMs(input.policies, result.failures));
  }
  return until;
}

/**
 * How long after an episode starts the device turns noncompliant: the smallest offset of a
 * `markNoncompliant` step among the failing policies, 0 when any failing policy has none.
 */
export function gracePeriodMs(policies: readonly CompliancePolicyDocument[], failures: readonly RuleFailure[]): number {
  const failing = new Set(failures.filter((f) => f.channel === undefined).map((f) => f.policy));
  let grace = Infinity;
  for (const p of policies) {
    if (!failing.has(p.metadata.name)) continue;
    grace = Math.min(grace, firstMarkMs(p));
    if (grace === 0) break;
  }
  return grace === Infinity ? 0 : grace;
}

/** Runs the policy's rules into `out`; on failure leaves `out` as it was and says why. */
function evaluable(p: CompliancePolicyDocument, ctx: RuleContext, out: RuleFailure[]): string | undefined {
  const before = out.length;
  try {
    checkRules(p.metadata.name, p.spec.rules, ctx, out);
    for (const a of p.spec.actions ?? []) parseDuration(a.after);
    return undefined;
  } catch (error) {
    out.length = before;
    return error instanceof Error ? error.message : String(error);
  }
}

function firstMarkMs(p: CompliancePolicyDocument): number {
  let first = Infinity;
  for (const a of p.spec.actions ?? []) {
    if (a.do === 'markNoncompliant') first = Math.min(first, parseDuration(a.after));
  }
  return first === Infinity ? 0 : first;
}

interface RuleContext {
  device: Device;
  posture: Posture;
  now: number;
  /** Installed apps as a set, built on first use: most devices meet no app rule. */
  apps: Set<string> | undefined;
}

function checkRules(policy: string, r: ComplianceRules, ctx: RuleContext, out: RuleFailure[]): void {
  const { device, posture } = ctx;
  const fail = (rule: string, expected: string, actual: string) => out.push({ policy, rule, expected, actual });

  const min = r.minOsVersion?.[device.platform];
  if (min !== undefined && compareVersions(posture.osVersion, min) < 0) {
    fail('minOsVersion', `>= ${min}`, posture.osVersion === '' ? 'unknown' : posture.osVersion);
  }
  if (r.encryption === 'required' && !posture.encrypted) fail('encryption', 'encrypted', 'not encrypted');
  if (r.passcode === 'required' && !posture.passcodeSet) fail('passcode', 'passcode set', 'no passcode');
  if (r.compromised === 'blocked' && posture.compromised) {
    fail('compromised', 'not compromised', device.platform === 'android' ? 'rooted' : device.platform === 'ios' || device.platform === 'ipados' ? 'jailbroken' : 'compromised');
  }
  if (r.maxCheckInAgeDays !== undefined) checkCheckInAge(r.maxCheckInAgeDays, ctx, fail);
  if (r.minPatchLevel !== undefined) checkPatchLevel(r.minPatchLevel, ctx, fail);
  if (r.requiredApps || r.blockedApps) {
    const apps = (ctx.apps ??= new Set(posture.installedApps));
    for (const app of r.requiredApps ?? []) if (!apps.has(app)) fail('requiredApps', `installed: ${app}`, 'missing');
    for (const app of r.blockedApps ?? []) if (apps.has(app)) fail('blockedApps', `not installed: ${app}`, 'installed');
  }
}

type Fail = (rule: string, expected: string, actual: string) => void;

// Exactly N days since the last check-in still passes; one millisecond more fails. A check-in
// "in the future" (device clock ahead) counts as fresh.
function checkCheckInAge(maxDays: number, ctx: RuleContext, fail: Fail): void {
  const expected = `checked in within ${maxDays}d`;
  const last = Date.parse(ctx.device.lastCheckIn!);
  if (Number.isNaN(last)) return fail('maxCheckInAgeDays', expected, `unreadable check-in time "${ctx.device.lastCheckIn}"`);
  const age = ctx.now - last;
  if (age > maxDays * DAY_MS) fail('maxCheckInAgeDays', expected, `last check-in ${formatAge(age)} ago`);
}

/** `15d`, `14d3h`, `5h`, `<1h`: an age the way an admin reads it. */
export function formatAge(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  const d = Math.floor(hours / 24);
  const h = hours % 24;
  if (d === 0) return h === 0 ? '<1h' : `${h}h`;
  return h === 0 ? `${d}d` : `${d}d${h}h`;
}

// Patch levels are ISO dates, so they compare as text once normalised to YYYY-MM-DD ("2024-05"
// means 2024-05-01). Only Android reports one (ro.build.version.security_patch): an Android device
// without it fails, since it cannot show it is patched; other platforms without it are not judged.
function checkPatchLevel(min: string, ctx: RuleContext, fail: Fail): void {
  const expected = `>= ${min}`;
  const reported = ctx.posture.patchLevel;
  if (reported === undefined || reported === '') {
    if (ctx.device.platform === 'android') fail('minPatchLevel', expected, 'unknown');
    return;
  }
  const have = normaliseDate(reported);
  if (have === undefined) return fail('minPatchLevel', expected, `unreadable "${reported}"`);
  const want = normaliseDate(min) ?? min;
  if (have < want) fail('minPatchLevel', expected, reported);
}

function normaliseDate(text: string): string | undefined {
  const m = /^\s*(\d{4})-(\d{2})(?:-(\d{2}))?/.exec(text);
  return m ? `${m[1]}-${m[2]}-${m[3] ?? '01'}` : undefined;
}

export function parseInstant(text: string, what: string): number {
  const t = Date.parse(text);
  // Only a caller's bug gets here (the store writes ISO times), so no user-facing hint.
  if (Number.isNaN(t)) throw new EmmctlError(`${what} is not a timestamp: "${text}"`);
  return t;
}

// Stores keep documents sorted by name already; skipping the copy matters at 100k devices.
function isSortedByName(list: readonly CompliancePolicyDocument[]): boolean {
  for (let i = 1; i < list.length; i++) if (byName(list[i - 1]!, list[i]!) > 0) return false;
  return true;
}

function byName(a: CompliancePolicyDocument, b: CompliancePolicyDocument): number {
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}
