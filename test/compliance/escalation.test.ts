import { describe, expect, it } from 'vitest';
import { dueEscalations, evaluateCompliance, nextEscalationAt } from '../../src/compliance/index.js';
import type { RuleFailure } from '../../src/model/fleet.js';
import { DAY, NOW, STANDARD_ACTIONS, compliance, device, later, posture } from './fixtures.js';

const since = NOW.toISOString();
const base = compliance('base', { encryption: 'required' }, STANDARD_ACTIONS);
const apps = compliance('apps', { requiredApps: ['com.x'] }, [{ after: '0d', do: 'notify' }, { after: '2d', do: 'lock' }]);
const fail = (policy: string): RuleFailure => ({ policy, rule: 'r', expected: 'e', actual: 'a' });

const due = (now: Date, failures: RuleFailure[], fired: Iterable<string> = []) =>
  dueEscalations({ policies: [base, apps], failures, noncompliantSince: since, now, fired: new Set(fired) });

describe('dueEscalations', () => {
  it('fires nothing without failures', () => {
    expect(due(later(100 * DAY), [])).toEqual([]);
  });

  it('fires each step whose offset has elapsed, boundary included', () => {
    expect(due(later(DAY - 1), [fail('base')])).toEqual([]);
    expect(due(later(DAY), [fail('base')])).toEqual([{ key: 'base#0', policy: 'base', index: 0, action: 'markNoncompliant' }]);
    expect(due(later(3 * DAY), [fail('base')]).map((s) => s.key)).toEqual(['base#0', 'base#1']);
  });

  it('fires only steps of failing policies', () => {
    expect(due(later(0), [fail('apps')])).toEqual([{ key: 'apps#0', policy: 'apps', index: 0, action: 'notify' }]);
  });

  it('orders by offset across policies, then policy, then index', () => {
    expect(due(later(31 * DAY), [fail('base'), fail('apps')]).map((s) => `${s.key}:${s.action}`)).toEqual([
      'apps#0:notify', 'base#0:markNoncompliant', 'apps#1:lock', 'base#1:lock', 'base#2:retire',
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
    const fired = new Set(['base#0', 'base#1']);
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
    expect(nextEscalationAt(input(later(DAY), ['base#0']))).toBe(NOW.getTime() + 3 * DAY);
    // Overdue and unfired: due already, so the caller runs it at once.
    expect(nextEscalationAt(input(later(5 * DAY), []))).toBe(NOW.getTime() + DAY);
    expect(nextEscalationAt(input(later(31 * DAY), ['base#0', 'base#1', 'base#2']))).toBeUndefined();
    expect(nextEscalationAt({ ...input(later(0), []), failures: [] })).toBeUndefined();
  });
});
