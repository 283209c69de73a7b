import { describe, expect, it } from 'vitest';
import { evaluateCompliance } from '../../src/compliance/index.js';
import type { Device } from '../../src/model/fleet.js';
import type { CompliancePolicyDocument } from '../../src/model/policy.generated.js';
import { DAY, HOUR, NOW, STANDARD_ACTIONS, ago, compliance, device, later, posture } from './fixtures.js';

const evaluate = (d: Device, policies: CompliancePolicyDocument[], extra: { now?: Date; noncompliantSince?: string } = {}) =>
  evaluateCompliance({ device: d, policies, now: extra.now ?? NOW, noncompliantSince: extra.noncompliantSince });

describe('evaluateCompliance: status without rules to judge', () => {
  it('is unknown for a device that never reported posture, whatever is assigned', () => {
    const pre = device({ state: 'preregistered', posture: undefined, lastCheckIn: undefined });
    const r = evaluate(pre, [compliance('base', { encryption: 'required' })]);
    expect(r).toEqual({ status: 'unknown', failures: [], policies: ['base'], failing: false });
    expect(evaluate(pre, []).status).toBe('unknown');
  });

  it('is unknown with posture but no check-in time', () => {
    expect(evaluate(device({ lastCheckIn: undefined }), [compliance('base', { encryption: 'required' })]).status).toBe('unknown');
  });

  it('is compliant with no policies when none is assigned', () => {
    expect(evaluate(device({ posture: posture({ encrypted: false, compromised: true }) }), [])).toEqual({ status: 'compliant', failures: [], policies: [], failing: false });
  });

  it('lists the policies evaluated, sorted by name', () => {
    const r = evaluate(device(), [compliance('zeta', {}), compliance('alpha', {})]);
    expect(r).toEqual({ status: 'compliant', failures: [], policies: ['alpha', 'zeta'], failing: false });
  });
});

describe('evaluateCompliance: rules', () => {
  const one = (d: Device, rules: Parameters<typeof compliance>[1]) => evaluate(d, [compliance('p', rules)]).failures;

  it('minOsVersion: per platform, equal passes, older fails with expected/actual', () => {
    const rules = { minOsVersion: { android: '13', ios: '17.4.1', windows: '10.0.19045' } };
    expect(one(device({ posture: posture({ osVersion: '13' }) }), rules)).toEqual([]);
    expect(one(device({ posture: posture({ osVersion: '13.0' }) }), rules)).toEqual([]);
    expect(one(device({ posture: posture({ osVersion: '12' }) }), rules)).toEqual([{ policy: 'p', rule: 'minOsVersion', expected: '>= 13', actual: '12' }]);
    expect(one(device({ platform: 'ios', posture: posture({ osVersion: '17.4' }) }), rules)).toEqual([{ policy: 'p', rule: 'minOsVersion', expected: '>= 17.4.1', actual: '17.4' }]);
    expect(one(device({ platform: 'ios', posture: posture({ osVersion: '17.4.1' }) }), rules)).toEqual([]);
    expect(one(device({ platform: 'windows', posture: posture({ osVersion: '10.0.19044.3086' }) }), rules)).toHaveLength(1);
    expect(one(device({ platform: 'windows', posture: posture({ osVersion: '10.0.22631' }) }), rules)).toEqual([]);
    // Platforms not listed are not checked.
    expect(one(device({ platform: 'macos', posture: posture({ osVersion: '1' }) }), rules)).toEqual([]);
    expect(one(device({ posture: posture({ osVersion: '' }) }), rules)).toEqual([{ policy: 'p', rule: 'minOsVersion', expected: '>= 13', actual: 'unknown' }]);
  });

  it('encryption, passcode and compromised', () => {
    const rules = { encryption: 'required', passcode: 'required', compromised: 'blocked' } as const;
    expect(one(device(), rules)).toEqual([]);
    expect(one(device({ posture: posture({ encrypted: false, passcodeSet: false, compromised: true }) }), rules)).toEqual([
      { policy: 'p', rule: 'encryption', expected: 'encrypted', actual: 'not encrypted' },
      { policy: 'p', rule: 'passcode', expected: 'passcode set', actual: 'no passcode' },
      { policy: 'p', rule: 'compromised', expected: 'not compromised', actual: 'rooted' },
    ]);
    expect(one(device({ platform: 'ios', posture: posture({ compromised: true }) }), rules)[0]?.actual).toBe('jailbroken');
    expect(one(device({ platform: 'windows', posture: posture({ compromised: true }) }), rules)[0]?.actual).toBe('compromised');
    // Rules not present are not checked.
    expect(one(device({ posture: posture({ encrypted: false, passcodeSet: false, compromised: true }) }), {})).toEqual([]);
  });

  it('maxCheckInAgeDays: exactly N days passes, a millisecond more fails', () => {
    const rules = { maxCheckInAgeDays: 14 };
    expect(one(device({ lastCheckIn: ago(14 * DAY) }), rules)).toEqual([]);
    expect(one(device({ lastCheckIn: ago(14 * DAY + 1) }), rules)).toEqual([
      { policy: 'p', rule: 'maxCheckInAgeDays', expected: 'checked in within 14d', actual: 'last check-in 14d ago' },
    ]);
    expect(one(device({ lastCheckIn: ago(15 * DAY + 3 * HOUR) }), rules)[0]?.actual).toBe('last check-in 15d3h ago');
    // A device clock ahead of ours is not stale.
    expect(one(device({ lastCheckIn: later(DAY).toISOString() }), rules)).toEqual([]);
    expect(one(device({ lastCheckIn: ago(5 * HOUR) }), { maxCheckInAgeDays: 0 })[0]?.actual).toBe('last check-in 5h ago');
    expect(one(device({ lastCheckIn: 'yesterday' }), rules)[0]).toMatchObject({ rule: 'maxCheckInAgeDays', actual: 'unreadable check-in time "yesterday"' });
  });

  it('minPatchLevel: date compare, equal passes, missing fails only on android', () => {
    const rules = { minPatchLevel: '2026-01-01' };
    expect(one(device({ posture: posture({ patchLevel: '2026-01-01' }) }), rules)).toEqual([]);
    expect(one(device({ posture: posture({ patchLevel: '2025-12-05' }) }), rules)).toEqual([{ policy: 'p', rule: 'minPatchLevel', expected: '>= 2026-01-01', actual: '2025-12-05' }]);
    expect(one(device({ posture: posture({ patchLevel: '2026-01' }) }), rules)).toEqual([]);
    expect(one(device({ posture: posture({ patchLevel: '2025-12' }) }), rules)).toHaveLength(1);
    expect(one(device({ posture: posture({ patchLevel: undefined }) }), rules)).toEqual([{ policy: 'p', rule: 'minPatchLevel', expected: '>= 2026-01-01', actual: 'unknown' }]);
    expect(one(device({ platform: 'ios', posture: posture({ patchLevel: undefined }) }), rules)).toEqual([]);
    expect(one(device({ platform: 'windows', posture: posture({ patchLevel: '2025-01-01' }) }), rules)).toHaveLength(1);
    expect(one(device({ posture: posture({ patchLevel: 'January' }) }), rules)[0]?.actual).toBe('unreadable "January"');
  });

  it('requiredApps and blockedApps: one failure per app', () => {
    const rules = { requiredApps: ['com.company.portal', 'com.x', 'com.y'], blockedApps: ['com.bad', 'com.worse'] } as Parameters<typeof compliance>[1];
    const d = device({ posture: posture({ installedApps: ['com.company.portal', 'com.y', 'com.worse'] }) });
    expect(one(d, rules)).toEqual([
      { policy: 'p', rule: 'requiredApps', expected: 'installed: com.x', actual: 'missing' },
      { policy: 'p', rule: 'blockedApps', expected: 'not installed: com.worse', actual: 'installed' },
    ]);
    expect(one(device({ posture: posture({ installedApps: ['com.company.portal', 'com.x', 'com.y'] }) }), rules)).toEqual([]);
  });

  it('gives the same result whatever the order of the policies', () => {
    const d = device({ platform: 'android', lastCheckIn: ago(20 * DAY), posture: posture({ osVersion: '12', encrypted: false, installedApps: [] }) });
    const ps = [
      compliance('b', { minOsVersion: { android: '13' }, maxCheckInAgeDays: 7 }, [{ after: '2d', do: 'markNoncompliant' }]),
      compliance('a', { encryption: 'required', requiredApps: ['com.company.portal'] }, STANDARD_ACTIONS),
      compliance('c', { passcode: 'required' }),
    ];
    const want = evaluate(d, ps, { noncompliantSince: ago(12 * HOUR) });
    expect(want.status).toBe('in-grace');
    expect(want.failures).toHaveLength(4);
    expect(evaluate(d, [...ps].reverse(), { noncompliantSince: ago(12 * HOUR) })).toEqual(want);
    expect(evaluate(d, [ps[1]!, ps[2]!, ps[0]!], { noncompliantSince: ago(12 * HOUR) })).toEqual(want);
  });

  it('reports a rule once per policy that fails it, ordered by policy name', () => {
    const d = device({ posture: posture({ encrypted: false }) });
    const r = evaluate(d, [compliance('zz', { encryption: 'required' }), compliance('aa', { encryption: 'required', passcode: 'required' })]);
    expect(r.failures.map((f) => `${f.policy}:${f.rule}`)).toEqual(['aa:encryption', 'zz:encryption']);
    expect(r.policies).toEqual(['aa', 'zz']);
  });
});

describe('evaluateCompliance: grace and noncompliance', () => {
  const failingDevice = device({ posture: posture({ encrypted: false }) });
  const graced = compliance('graced', { encryption: 'required' }, STANDARD_ACTIONS);

  it('without actions a failing device is noncompliant at once', () => {
    const r = evaluate(failingDevice, [compliance('plain', { encryption: 'required' })]);
    expect(r.status).toBe('noncompliant');
    expect(r.failing).toBe(true);
  });

  it('with actions but no markNoncompliant step a failing device is noncompliant at once', () => {
    const r = evaluate(failingDevice, [compliance('lock-only', { encryption: 'required' }, [{ after: '3d', do: 'lock' }])]);
    expect(r.status).toBe('noncompliant');
  });

  it('markNoncompliant at 0d: noncompliant at once', () => {
    expect(evaluate(failingDevice, [compliance('zero', { encryption: 'required' }, [{ after: '0d', do: 'markNoncompliant' }])]).status).toBe('noncompliant');
  });

  it('a new episode (no noncompliantSince) starts now: in-grace when the mark is later', () => {
    expect(evaluate(failingDevice, [graced])).toMatchObject({ status: 'in-grace', failing: true });
  });

  it('moves from in-grace to noncompliant exactly at since + after', () => {
    const since = NOW.toISOString();
    expect(evaluate(failingDevice, [graced], { noncompliantSince: since, now: later(DAY - 1) }).status).toBe('in-grace');
    expect(evaluate(failingDevice, [graced], { noncompliantSince: since, now: later(DAY) }).status).toBe('noncompliant');
    expect(evaluate(failingDevice, [graced], { noncompliantSince: since, now: later(40 * DAY) }).status).toBe('noncompliant');
  });

  it('returns to compliant as soon as the rules pass, whatever the episode', () => {
    expect(evaluate(device(), [graced], { noncompliantSince: ago(10 * DAY) })).toMatchObject({ status: 'compliant', failing: false, failures: [] });
  });

  it('only failing policies decide the grace period', () => {
    const strictButPassing = compliance('apps', { requiredApps: ['com.company.portal'] }); // no actions: would be immediate
    const r = evaluate(failingDevice, [graced, strictButPassing], { noncompliantSince: ago(HOUR) });
    expect(r.status).toBe('in-grace');
  });

  it('the earliest mark among failing policies ends the grace', () => {
    const slow = compliance('slow', { encryption: 'required' }, [{ after: '7d', do: 'markNoncompliant' }]);
    const fast = compliance('fast', { passcode: 'required' }, [{ after: '12h', do: 'markNoncompliant' }, { after: '1h', do: 'markNoncompliant' }]);
    const both = device({ posture: posture({ encrypted: false, passcodeSet: false }) });
    expect(evaluate(both, [slow, fast], { noncompliantSince: ago(HOUR - 1) }).status).toBe('in-grace');
    expect(evaluate(both, [slow, fast], { noncompliantSince: ago(HOUR) }).status).toBe('noncompliant');
    // Only the slow policy failing: its 7 days apply.
    const onlyEncryption = device({ posture: posture({ encrypted: false }) });
    expect(evaluate(onlyEncryption, [slow, fast], { noncompliantSince: ago(2 * DAY) }).status).toBe('in-grace');
    // A failing policy with no mark step makes the device noncompliant at once.
    const noMark = compliance('no-mark', { passcode: 'required' }, [{ after: '5d', do: 'notify' }]);
    expect(evaluate(both, [slow, noMark], { noncompliantSince: ago(HOUR) }).status).toBe('noncompliant');
  });

  it('a stale check-in alone makes the device failing', () => {
    const stale = compliance('fresh', { maxCheckInAgeDays: 7 }, STANDARD_ACTIONS);
    const r = evaluate(device({ lastCheckIn: ago(8 * DAY) }), [stale], { noncompliantSince: ago(2 * DAY) });
    expect(r.status).toBe('noncompliant');
    expect(r.failures.map((f) => f.rule)).toEqual(['maxCheckInAgeDays']);
  });

  it('rejects a noncompliantSince that is not a time', () => {
    expect(() => evaluate(failingDevice, [graced], { noncompliantSince: 'soon' })).toThrow(/noncompliantSince is not a timestamp: "soon"/);
  });
});
