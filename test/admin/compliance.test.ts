// `emmctl compliance` end to end: table, wide, JSON shape, stderr summary, the --fail-on gate (exit 5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { seedStore, type SeededStore } from './devices.seed.js';

let fleet: SeededStore;
const cli = (...args: string[]) => runCli(args, { env: fleet.env });

beforeAll(async () => {
  fleet = await seedStore();
});
afterAll(() => fleet.cleanup());

describe('compliance', () => {
  it('prints the table on stdout and the summary on stderr', async () => {
    const r = await cli('compliance', '--sort', 'name');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^DEVICE\s+ID\s+OWNER\s+PLATFORM\s+OS\s+STATUS\s+FAILING RULES\s+LAST SEEN$/);
    expect(lines).toHaveLength(6);
    expect(r.stdout).toMatch(/bo-galaxy\s+dev_\S+\s+bo@example.com\s+android\s+12\s+noncompliant\s+minOsVersion\s+\d{4}-/);
    expect(r.stdout).toMatch(/cy-pixel\s+dev_\S+\s+cy@other.org\s+android\s+14\s+noncompliant\s+encryption\s+/);
    expect(r.stdout).toMatch(/ana-pixel\s+dev_\S+\s+ana@example.com\s+android\s+14\s+compliant\s+\d{4}-/);
    expect(r.stdout).not.toMatch(/devices:/);
    expect(r.stderr).toContain('5 devices: compliant 2 (40.0%), noncompliant 3 (60.0%), in-grace 0 (0.0%), unknown 0 (0.0%)');
    expect(r.stderr).toMatch(/baseline: 5 devices — compliant 2 \(40\.0%\), noncompliant 3 \(60\.0%\)/);
  });

  it('wide shows expected vs actual', async () => {
    const r = await cli('compliance', '-o', 'wide', '--filter', 'name=bo-galaxy');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/EXPECTED VS ACTUAL/);
    expect(r.stdout).toMatch(/minOsVersion: >= 13 vs 12/);
  });

  it('-o json records carry the documented fields', async () => {
    const r = await cli('compliance', '-o', 'json', '--filter', 'platform=ios', '--sort', 'name');
    expect(r.code, r.stderr).toBe(0);
    const records = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({
      deviceId: fleet.ids['ed-iphone'], name: 'ed-iphone', platform: 'ios', osVersion: '16.7', owner: 'ed@example.com', status: 'noncompliant',
      failures: [{ policy: 'baseline', rule: 'minOsVersion', expected: expect.stringContaining('17.0'), actual: '16.7' }],
    });
    expect(typeof records[1]!.lastCheckIn).toBe('string');
    expect(records[0]).toMatchObject({ name: 'di-iphone', status: 'compliant', failures: [] });
  });

  it('--fail-on noncompliant exits 5 after printing everything; passes when no device is in that state', async () => {
    const gate = await cli('compliance', '--fail-on', 'noncompliant', '-o', 'json');
    expect(gate.code).toBe(5);
    expect(JSON.parse(gate.stdout)).toHaveLength(5);
    expect(gate.stderr).toMatch(/compliance gate failed: 3 noncompliant \(--fail-on noncompliant\)/);
    const pass = await cli('compliance', '--fail-on', 'noncompliant', '--filter', 'compliance=compliant');
    expect(pass.code, pass.stderr).toBe(0);
    const unknownOnly = await cli('compliance', '--fail-on', 'unknown,in-grace');
    expect(unknownOnly.code, unknownOnly.stderr).toBe(0);
  });

  it('rejects an unknown --fail-on status with exit 2', async () => {
    const r = await cli('compliance', '--fail-on', 'broken');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"broken" is not a gate status/);
  });

  it('-o csv streams one row per device with the header', async () => {
    const r = await cli('compliance', '-o', 'csv');
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split('\r\n');
    expect(rows[0]).toBe('DEVICE,ID,OWNER,PLATFORM,OS,STATUS,FAILING RULES,EXPECTED VS ACTUAL,POLICIES,LAST SEEN,STEPS FIRED,DUE,NEXT ACTION,NEXT AT');
    expect(rows).toHaveLength(6);
  });
});

describe('unknown commands', () => {
  it('suggest the closest one, exit 2', async () => {
    const r = await runCli(['complience']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'complience'/);
    expect(r.stderr).toMatch(/Did you mean compliance\?/);
    expect(r.stdout).toBe('');
  });
});
