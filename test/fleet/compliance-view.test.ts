// src/fleet/compliance-view.ts: summary counting (per status, per policy from the device's own
// failures), the --fail-on decision, and the managed-devices default filter.
import { describe, expect, it } from 'vitest';
import { addToSummary, emptySummary, gateFailures, withManagedDefault } from '../../src/fleet/compliance-view.js';
import type { ComplianceStatus, DeviceCompliance, RuleFailure } from '../../src/model/fleet.js';

let n = 0;
function rec(status: ComplianceStatus, policies: string[], failingPolicies: string[] = []): DeviceCompliance {
  n++;
  const failures: RuleFailure[] = failingPolicies.map((policy) => ({ policy, rule: 'minOsVersion', expected: '>= 14', actual: '13' }));
  return { deviceId: `dev_${n}`, name: `d${n}`, platform: 'android', state: 'enrolled', status, failures, policies };
}

describe('compliance summary', () => {
  it('starts at zero for every status', () => {
    const s = emptySummary();
    expect(s).toEqual({ total: 0, byStatus: { compliant: 0, noncompliant: 0, 'in-grace': 0, unknown: 0 }, byPolicy: new Map() });
    expect(emptySummary().byStatus).not.toBe(s.byStatus);
  });

  it('counts devices by status and each policy by the device’s own failures', () => {
    const s = emptySummary();
    addToSummary(s, rec('compliant', ['base', 'strict']));
    addToSummary(s, rec('noncompliant', ['base', 'strict'], ['strict']));
    addToSummary(s, rec('in-grace', ['base', 'strict'], ['base']));
    addToSummary(s, rec('unknown', ['base']));
    addToSummary(s, rec('noncompliant', [], ['orphan']));
    expect(s.total).toBe(5);
    expect(s.byStatus).toEqual({ compliant: 1, noncompliant: 2, 'in-grace': 1, unknown: 1 });
    expect(Object.fromEntries(s.byPolicy)).toEqual({
      base: { compliant: 2, noncompliant: 0, 'in-grace': 1, unknown: 1 },
      strict: { compliant: 2, noncompliant: 1, 'in-grace': 0, unknown: 0 },
    });
  });

  it('fails the gate only on the statuses named, in the order given', () => {
    const s = emptySummary();
    addToSummary(s, rec('in-grace', ['base'], ['base']));
    addToSummary(s, rec('unknown', ['base']));
    expect(gateFailures(s, ['noncompliant'])).toEqual([]);
    expect(gateFailures(s, ['unknown', 'noncompliant', 'in-grace'])).toEqual(['unknown', 'in-grace']);
    expect(gateFailures(emptySummary(), ['noncompliant', 'unknown', 'in-grace'])).toEqual([]);
  });
});

describe('withManagedDefault', () => {
  it('leaves out wiped and retired devices, keeping the user’s filters first', () => {
    const platform = { field: 'platform', op: '=', value: 'ios' } as const;
    expect(withManagedDefault([platform] as never)).toEqual([
      platform,
      { field: 'state', op: '!=', value: 'wiped' },
      { field: 'state', op: '!=', value: 'retired' },
    ]);
    expect(withManagedDefault([])).toHaveLength(2);
  });

  it('lets a state filter of the user’s own replace the default', () => {
    const filters = [{ field: 'state', op: '=', value: 'wiped' }] as never;
    expect(withManagedDefault(filters)).toBe(filters);
  });
});
