// Escalation: each `actions` step of a failing compliance policy fires once per non-compliance
// episode, at its `after` offset from the episode's start. The store remembers which keys fired
// and forgets them when the device is compliant again, which ends the episode.
import type { RuleFailure } from '../model/fleet.js';
import type { ComplianceAction, CompliancePolicyDocument } from '../model/policy.generated.js';
import { parseDuration } from './duration.js';
import { parseInstant } from './evaluate.js';

export type EscalationAction = ComplianceAction['do'];

export interface DueEscalation {
  /** `${policy}#${index}`: index into the policy's `actions`; the store's fired-once key. */
  key: string;
  policy: string;
  index: number;
  action: EscalationAction;
}

export interface EscalationInput {
  policies: CompliancePolicyDocument[];
  failures: RuleFailure[];
  noncompliantSince: string;
  now: Date;
  fired: ReadonlySet<string>;
}

export function escalationKey(policy: string, index: number): string {
  return `${policy}#${index}`;
}

/**
 * The steps due now: steps of policies with at least one failure whose offset has elapsed
 * (elapsed >= after) and whose key is not in `fired`. Steps of policies that pass are never
 * due, even inside a running episode. Ordered by offset, then policy name, then index, so a
 * store that was down for a while catches up in the order the steps were meant to happen.
 */
export function dueEscalations(input: EscalationInput): DueEscalation[] {
  if (input.failures.length === 0) return [];
  const failing = new Set(input.failures.map((f) => f.policy));
  const elapsed = input.now.getTime() - parseInstant(input.noncompliantSince, 'noncompliantSince');
  const due: Array<DueEscalation & { at: number }> = [];
  for (const p of input.policies) {
    const policy = p.metadata.name;
    if (!failing.has(policy)) continue;
    (p.spec.actions ?? []).forEach((a, index) => {
      const key = escalationKey(policy, index);
      const at = parseDuration(a.after);
      if (elapsed >= at && !input.fired.has(key)) due.push({ key, policy, index, action: a.do, at });
    });
  }
  due.sort((x, y) => x.at - y.at || (x.policy < y.policy ? -1 : x.policy > y.policy ? 1 : x.index - y.index));
  return due.map(({ at: _at, ...step }) => step);
}

/**
 * When the earliest not-yet-fired step of a failing policy is due (epoch ms; at or before `now`
 * when one is overdue), or undefined when none is left — lets a caller schedule the next
 * evaluation instead of polling.
 */
export function nextEscalationAt(input: EscalationInput): number | undefined {
  if (input.failures.length === 0) return undefined;
  const failing = new Set(input.failures.map((f) => f.policy));
  const since = parseInstant(input.noncompliantSince, 'noncompliantSince');
  let next: number | undefined;
  for (const p of input.policies) {
    if (!failing.has(p.metadata.name)) continue;
    (p.spec.actions ?? []).forEach((a, index) => {
      if (input.fired.has(escalationKey(p.metadata.name, index))) return;
      const at = since + parseDuration(a.after);
      if (next === undefined || at < next) next = at;
    });
  }
  return next;
}
