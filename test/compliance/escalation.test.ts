import { describe, expect, it } from 'vitest';
import { dueEscalations, escalationKey, evaluateCompliance, failureOnset, nextEscalationAt, upcomingEscalation } from '../../src/compliance/index.js';
import type { RuleFailure } from '../../src/model/fleet.js';
import { DAY, NOW, STANDARD_ACTIONS, compliance, device, later, posture } from './fixtures.js';

const since = NOW.toISOString();
const base = compliance('base', { encryption: 'required' }, STANDARD_ACTIONS);
const apps = compliance('apps', { requiredApps: ['com.x'] }, [{ after: '0d', do: 'notify' }, { after: '2d', do: 'lock' }]);
const fail = (policy: string): RuleFailure => ({ policy, rule: 'r', expected: 'e', actual: 'a' });

const due = (now: Date, failures: RuleFailure[], fired: Iterable<string> = []) =>
  dueEscalations({ policies: [base, apps], failures, noncompliantSince: since, now, fired: new Set(fired) });
/** A step's key as the store writes it: policy, offset, action. */
const k = (policy: string, after: number, action: string) => escalationKey(policy, after, action);
const label = (s: { policy: string; after: string; action: string }) => `${s.policy}:${s.after}:${s.action}`;

describe('dueEscalations', () => {
  it('fires nothing without failures', () => {
    expect(due(later(100 * DAY), [])).toEqual([]);
  });

  it('fires each step whose offset has elapsed, boundary included', () => {
    expect(due(later(DAY - 1), [fail('base')])).toEqual([]);
    expect(due(later(DAY), [fail('base')])).toEqual([{ key: k('base', DAY, 'markNoncompliant'), policy: 'base', after: '1d', afterMs: DAY, action: 'markNoncompliant', dueAt: NOW.getTime() + DAY }]);
    expect(due(later(3 * DAY), [fail('base')]).map(label)).toEqual(['base:1d:markNoncompliant', 'base:3d:lock']);
  });

  it('fires only steps of failing policies', () => {
    expect(due(later(0), [fail('apps')]).map(label)).toEqual(['apps:0d:notify']);
  });

  it("fires no step for a device channel's failure, even one naming a CompliancePolicy's name (it names an emmctl Policy)", () => {
    expect(due(later(31 * DAY), [{ ...fail('base'), channel: 'android' }])).toEqual([]);
    expect(due(later(0), [{ ...fail('base'), channel: 'android' }, fail('apps')]).map(label)).toEqual(['apps:0d:notify']);
    // Alone, it leaves no grace period: non-compliant at once.
    const result = evaluateCompliance({ device: device({ posture: posture({ channelFailures: [{ ...fail('base'), channel: 'android' }] }) }), policies: [base], now: NOW });
    expect(result).toMatchObject({ status: 'noncompliant', failing: true, failures: [{ policy: 'base', channel: 'android' }] });
  });

  it('orders by offset across policies, then policy, then index', () => {
    expect(due(later(31 * DAY), [fail('base'), fail('apps')]).map(label)).toEqual([
      'apps:0d:notify', 'base:1d:markNoncompliant', 'apps:2d:lock', 'base:3d:lock', 'base:30d:retire',
    ]);
  });

  it('fires each step once per episode: a store that records fired keys never sees it again', () => {
    const fired = new Set<string>();
    const log: string[] = [];
    // Evaluate every 6 hours for 40 days, like a store reconciling on a timer.
    for (let t = 0; t <= 40 * DAY; t += DAY / 4) {
      for (const step of due(later(t), [fail('base')], fired)) {
        fired.add(step.key);
        log.push(`${t / DAY}d:${step.action}`);
      }
    }
    expect(log).toEqual(['1d:markNoncompliant', '3d:lock', '30d:retire']);
  });

  it('a new episode (fired keys cleared on return to compliance) fires the steps again', () => {
    const fired = new Set([k('base', DAY, 'markNoncompliant'), k('base', 3 * DAY, 'lock')]);
    expect(due(later(3 * DAY), [fail('base')], fired)).toEqual([]);
    const newSince = later(10 * DAY).toISOString();
    const steps = dueEscalations({ policies: [base], failures: [fail('base')], noncompliantSince: newSince, now: later(13 * DAY), fired: new Set() });
    expect(steps.map((s) => s.action)).toEqual(['markNoncompliant', 'lock']);
  });

  it('agrees with evaluateCompliance on when the device turns noncompliant', () => {
    const d = device({ posture: posture({ encrypted: false }) });
    for (const t of [0, DAY - 1, DAY, 2 * DAY]) {
      const r = evaluateCompliance({ device: d, policies: [base], now: later(t), noncompliantSince: since });
      const marked = dueEscalations({ policies: [base], failures: r.failures, noncompliantSince: since, now: later(t), fired: new Set() }).some((s) => s.action === 'markNoncompliant');
      expect({ t, status: r.status }).toEqual({ t, status: marked ? 'noncompliant' : 'in-grace' });
    }
  });
});

describe('nextEscalationAt', () => {
  it('is the next unfired step of a failing policy, or undefined', () => {
    const input = (now: Date, fired: string[]) => ({ policies: [base, apps], failures: [fail('base')], noncompliantSince: since, now, fired: new Set(fired) });
    expect(nextEscalationAt(input(later(0), []))).toBe(NOW.getTime() + DAY);
    expect(nextEscalationAt(input(later(DAY), [k('base', DAY, 'markNoncompliant')]))).toBe(NOW.getTime() + 3 * DAY);
    // Overdue and unfired: due already, so the caller runs it at once.
    expect(nextEscalationAt(input(later(5 * DAY), []))).toBe(NOW.getTime() + DAY);
    expect(nextEscalationAt(input(later(31 * DAY), [k('base', DAY, 'markNoncompliant'), k('base', 3 * DAY, 'lock'), k('base', 30 * DAY, 'retire')]))).toBeUndefined();
    expect(nextEscalationAt({ ...input(later(0), []), failures: [] })).toBeUndefined();
  });
});

describe('step identity: what a step is, not where it sits in the list', () => {
  const steps = (actions: Array<{ after: string; do: 'markNoncompliant' | 'notify' | 'lock' | 'retire' }>) => compliance('base', { encryption: 'required' }, actions);
  const original = steps([{ after: '0d', do: 'markNoncompliant' }, { after: '1d', do: 'notify' }, { after: '3d', do: 'lock' }, { after: '30d', do: 'retire' }]);
  /** Fires what is due at each time, like a store, and returns the log; `policyAt` may change the policy between evaluations. */
  function run(times: number[], policyAt: (t: number) => ReturnType<typeof steps>): string[] {
    const fired = new Set<string>();
    const log: string[] = [];
    for (const t of times) {
      for (const step of dueEscalations({ policies: [policyAt(t)], failures: [fail('base')], noncompliantSince: since, now: later(t), fired })) {
        fired.add(step.key);
        log.push(`${t / DAY}d:${step.after}:${step.action}`);
      }
    }
    return log;
  }

  it('removing a fired step neither skips nor repeats the later ones', () => {
    const removed = steps([{ after: '0d', do: 'markNoncompliant' }, { after: '3d', do: 'lock' }, { after: '30d', do: 'retire' }]);
    expect(run([0, DAY, 3 * DAY, 31 * DAY, 32 * DAY], (t) => (t < 31 * DAY ? original : removed))).toEqual([
      '0d:0d:markNoncompliant', '1d:1d:notify', '3d:3d:lock', '31d:30d:retire',
    ]);
  });

  it('reordering fires nothing again; an inserted step whose time has passed fires once, at once', () => {
    const reordered = steps([{ after: '30d', do: 'retire' }, { after: '3d', do: 'lock' }, { after: '2d', do: 'notify' }, { after: '1d', do: 'notify' }, { after: '0d', do: 'markNoncompliant' }]);
    expect(run([0, DAY, 3 * DAY, 5 * DAY, 6 * DAY, 30 * DAY, 31 * DAY], (t) => (t < 5 * DAY ? original : reordered))).toEqual([
      '0d:0d:markNoncompliant', '1d:1d:notify', '3d:3d:lock', '5d:2d:notify', '30d:30d:retire',
    ]);
  });

  it('one offset written two ways, or a step listed twice, is one step', () => {
    const twice = steps([{ after: '1d', do: 'lock' }, { after: '24h', do: 'lock' }, { after: '1d', do: 'notify' }]);
    expect(run([DAY, 2 * DAY], () => twice)).toEqual(['1d:1d:lock', '1d:1d:notify']);
  });

  it('upcomingEscalation is the first step not fired and not yet due', () => {
    const input = (t: number, fired: string[] = []) => ({ policies: [original], failures: [fail('base')], noncompliantSince: since, now: later(t), fired: new Set(fired) });
    expect(upcomingEscalation(input(0, [k('base', 0, 'markNoncompliant')]))).toMatchObject({ action: 'notify', after: '1d', dueAt: NOW.getTime() + DAY });
    // Due but unfired steps are not "next": they are due now.
    expect(upcomingEscalation(input(5 * DAY))).toMatchObject({ action: 'retire', dueAt: NOW.getTime() + 30 * DAY });
    expect(upcomingEscalation(input(31 * DAY))).toBeUndefined();
  });
});

describe('failureOnset', () => {
  it('finds when a device that passes now starts failing by check-in age alone', () => {
    const stale = compliance('stale', { maxCheckInAgeDays: 14 });
    const d = device({ lastCheckIn: NOW.toISOString() });
    expect(failureOnset(d, [stale], NOW, later(10 * DAY))).toBeUndefined();
    expect(failureOnset(d, [stale], NOW, later(20 * DAY))?.toISOString()).toBe(new Date(NOW.getTime() + 14 * DAY + 1).toISOString());
    expect(failureOnset(device({ posture: posture({ encrypted: false }) }), [base], NOW, later(DAY))?.toISOString()).toBe(NOW.toISOString());
  });
});
