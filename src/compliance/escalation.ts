// Escalation: each `actions` step of a failing compliance policy fires once per non-compliance
// episode, at its `after` offset from the episode's start. A step is identified by what it is —
// its policy, its offset and its action — never by its position in the list, so inserting,
// removing or reordering steps neither repeats nor skips one. The store remembers which steps
// fired and forgets them when the device is compliant again, which ends the episode.
import type { Device, RuleFailure } from '../model/fleet.js';
import type { ComplianceAction, CompliancePolicyDocument } from '../model/policy.generated.js';
import { parseDuration } from './duration.js';
import { evaluateCompliance, parseInstant } from './evaluate.js';

export type EscalationAction = ComplianceAction['do'];

/** One step of a policy as it fires: what it is, and when it is due in the episode at hand. */
export interface DueEscalation {
  /** escalationKey(policy, afterMs, action): the store's fired-once key. */
  key: string;
  policy: string;
  /** The offset as written in the policy (`3d`); two spellings of one offset (`1d`, `24h`) are one step. */
  after: string;
  afterMs: number;
  action: EscalationAction;
  /** Epoch ms: the episode's start + after. */
  dueAt: number;
}

export function escalationKey(policy: string, afterMs: number, action: string): string {
  return `${policy}\0${afterMs}\0${action}`;
}

/** A step of a failing policy before an episode gives it a due time: the same for every device with the same failures. */
export type PlannedEscalation = Omit<DueEscalation, 'dueAt'>;

export interface EscalationInput {
  policies: CompliancePolicyDocument[];
  failures: RuleFailure[];
  noncompliantSince: string;
  now: Date;
  fired: ReadonlySet<string>;
  /**
   * escalationPlan(policies, failures), when the caller has it already (a listing computes it
   * once for the many devices that share one stored evaluation); computed here when absent.
   */
  plan?: readonly PlannedEscalation[];
}

/**
 * Every distinct step of the failing policies, ordered by offset (due order in any episode), then
 * policy name, then list position (so two steps at one offset run in the order written). A step
 * listed twice in one policy is one step.
 */
export function escalationPlan(policies: readonly CompliancePolicyDocument[], failures: readonly RuleFailure[]): PlannedEscalation[] {
  if (failures.length === 0) return [];
  // A channel's failure names an emmctl Policy: no CompliancePolicy's steps are its own.
  const failing = new Set(failures.filter((f) => f.channel === undefined).map((f) => f.policy));
  const steps: Array<PlannedEscalation & { index: number }> = [];
  for (const p of policies) {
    const policy = p.metadata.name;
    if (!failing.has(policy)) continue;
    const seen = new Set<string>();
    (p.spec.actions ?? []).forEach((a, index) => {
      const afterMs = parseDuration(a.after);
      const key = escalationKey(policy, afterMs, a.do);
      if (seen.has(key)) return;
      seen.add(key);
      steps.push({ key, policy, after: a.after, afterMs, action: a.do, index });
    });
  }
  steps.sort((x, y) => x.afterMs - y.afterMs || (x.policy < y.policy ? -1 : x.policy > y.policy ? 1 : x.index - y.index));
  return steps.map(({ index: _index, ...step }) => step);
}

/** The plan's steps in the episode that started at noncompliantSince, in due order. */
function failingSteps(input: Omit<EscalationInput, 'now' | 'fired'>): DueEscalation[] {
  if (input.failures.length === 0) return [];
  const since = parseInstant(input.noncompliantSince, 'noncompliantSince');
  return (input.plan ?? escalationPlan(input.policies, input.failures)).map((s) => ({ ...s, dueAt: since + s.afterMs }));
}

/**
 * The steps due now: steps of policies with at least one failure whose offset has elapsed
 * (elapsed >= after) and whose key is not in `fired`. Steps of policies that pass are never
 * due, even inside a running episode. In due order, so a store that was down for a while
 * catches up in the order the steps were meant to happen.
 */
export function dueEscalations(input: EscalationInput): DueEscalation[] {
  const now = input.now.getTime();
  return failingSteps(input).filter((s) => s.dueAt <= now && !input.fired.has(s.key));
}

/** The first step not fired and not yet due at `now`: what happens next, and when. */
export function upcomingEscalation(input: EscalationInput): DueEscalation | undefined {
  return escalationOutlook(input).next;
}

/** dueEscalations and upcomingEscalation at once, for a view that shows both. */
export function escalationOutlook(input: EscalationInput): { due: DueEscalation[]; next?: DueEscalation } {
  const due: DueEscalation[] = [];
  if (input.failures.length === 0) return { due };
  const now = input.now.getTime();
  const since = parseInstant(input.noncompliantSince, 'noncompliantSince');
  // Steps are made only for what is returned: a listing asks this of every failing device.
  for (const s of input.plan ?? escalationPlan(input.policies, input.failures)) {
    if (input.fired.has(s.key)) continue;
    const step: DueEscalation = { key: s.key, policy: s.policy, after: s.after, afterMs: s.afterMs, action: s.action, dueAt: since + s.afterMs };
    if (step.dueAt <= now) due.push(step);
    else return { due, next: step };
  }
  return { due };
}

/**
 * When the earliest not-yet-fired step of a failing policy is due (epoch ms; at or before `now`
 * when one is overdue), or undefined when none is left — lets a caller schedule the next
 * evaluation instead of polling.
 */
export function nextEscalationAt(input: EscalationInput): number | undefined {
  return failingSteps(input).find((s) => !input.fired.has(s.key))?.dueAt;
}

/**
 * The first instant in [from, to] at which the device fails its policies, or undefined when it
 * passes throughout, assuming its posture stays as last reported. Only the check-in age changes
 * with the clock alone, so the candidates are `from` and each moment a `maxCheckInAgeDays` lapses.
 * Used by what-if evaluation to say when an episode that has not begun would start.
 */
export function failureOnset(device: Device, policies: CompliancePolicyDocument[], from: Date, to: Date, unevaluable?: ReadonlyMap<string, string>): Date | undefined {
  const candidates = [from.getTime()];
  const last = device.lastCheckIn === undefined ? NaN : Date.parse(device.lastCheckIn);
  if (!Number.isNaN(last)) {
    for (const p of policies) {
      const days = p.spec.rules.maxCheckInAgeDays;
      if (days !== undefined) candidates.push(last + days * 86_400_000 + 1);
    }
  }
  for (const t of [...new Set(candidates)].sort((a, b) => a - b)) {
    if (t < from.getTime() || t > to.getTime()) continue;
    if (evaluateCompliance({ device, policies, now: new Date(t), unevaluable }).failing) return new Date(t);
  }
  return undefined;
}
