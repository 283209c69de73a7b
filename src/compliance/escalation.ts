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

export interface EscalationInput {
  policies: CompliancePolicyDocument[];
  failures: RuleFailure[];
  noncompliantSince: string;
  now: Date;
  fired: ReadonlySet<string>;
}

export function escalationKey(policy: string, afterMs: number, action: string): string {
  return `${policy}\0${afterMs}\0${action}`;
}

/**
 * Every distinct step of the failing policies, ordered by due time, then policy name, then list
 * position (so two steps at one offset run in the order written). A step listed twice in one
 * policy is one step.
 */
function failingSteps(input: Omit<EscalationInput, 'now' | 'fired'>): DueEscalation[] {
  if (input.failures.length === 0) return [];
  // A channel's failure names an emmctl Policy: no CompliancePolicy's steps are its own.
  const failing = new Set(input.failures.filter((f) => f.channel === undefined).map((f) => f.policy));
  const since = parseInstant(input.noncompliantSince, 'noncompliantSince');
  const steps: Array<DueEscalation & { index: number }> = [];
  for (const p of input.policies) {
    const policy = p.metadata.name;
    if (!failing.has(policy)) continue;
    const seen = new Set<string>();
    (p.spec.actions ?? []).forEach((a, index) => {
      const afterMs = parseDuration(a.after);
      const key = escalationKey(policy, afterMs, a.do);
      if (seen.has(key)) return;
      seen.add(key);
      steps.push({ key, policy, after: a.after, afterMs, action: a.do, dueAt: since + afterMs, index });
    });
  }
  steps.sort((x, y) => x.dueAt - y.dueAt || (x.policy < y.policy ? -1 : x.policy > y.policy ? 1 : x.index - y.index));
  return steps.map(({ index: _index, ...step }) => step);
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
  const now = input.now.getTime();
  const due: DueEscalation[] = [];
  for (const s of failingSteps(input)) {
    if (input.fired.has(s.key)) continue;
    if (s.dueAt <= now) due.push(s);
    else return { due, next: s };
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
