// `emmctl simulate` end to end through the built CLI: a seeded fleet enrolls and checks in through
// the real agent API (in-process server over a real SQLite store, or a real server process),
// keeps its identity across runs, executes commands queued between runs, and is deterministic.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandOutcome, simulatedDevice } from '../../src/agent/fleet.js';
import type { SimulationSummary } from '../../src/agent/simulator.js';
import type { Device, DeviceCommand, DeviceCompliance } from '../../src/model/fleet.js';
import { ROOT, dataDirs, runCli } from '../helpers/cli.js';
import { createApiToken, startServerProcess } from '../helpers/server.js';

const POLICIES = join(ROOT, 'test', 'agent', 'fixtures', 'fleet-policies.yaml');
const freshDir = dataDirs('emmctl-simulate-');

async function cli(args: string[], env: Record<string, string> = {}) {
  const r = await runCli(args, { env });
  if (r.code !== 0) throw new Error(`emmctl ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

async function simulate(dataDir: string, args: string[]): Promise<SimulationSummary> {
  const r = await cli(['simulate', '--data-dir', dataDir, '-o', 'json', ...args]);
  return JSON.parse(r.stdout) as SimulationSummary;
}

async function devices(dataDir: string): Promise<Device[]> {
  return JSON.parse((await cli(['devices', 'list', '--data-dir', dataDir, '-o', 'json'])).stdout) as Device[];
}

async function appliedStore(): Promise<string> {
  const dataDir = freshDir();
  await cli(['apply', POLICIES, '--yes', '--data-dir', dataDir]);
  return dataDir;
}

describe('emmctl simulate (in-process server over the embedded store)', () => {
  let dataDir: string;

  it('enrolls and checks in a seeded fleet that splits into compliant and non-compliant devices', async () => {
    dataDir = await appliedStore();
    const r = await cli(['simulate', '--devices', '20', '--once', '--seed', '7', '--data-dir', dataDir, '-o', 'json']);
    const summary = JSON.parse(r.stdout) as SimulationSummary;
    expect(summary).toMatchObject({ devices: 20, seed: 7, enrolled: 20, notEnrolled: 0, checkIns: 20, rounds: 1, errors: 0, profileCreated: null });
    expect(summary.checkInsPerSecond).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/enrolled +20 new/);
    expect(r.stderr).toMatch(/checked in +20/);

    const listed = await devices(dataDir);
    expect(listed).toHaveLength(20);
    expect(listed.every((d) => d.profile === 'corp-devices' || d.profile === 'byod-phones')).toBe(true);
    expect(listed.some((d) => d.profile === 'corp-devices')).toBe(true);
    for (const d of listed) {
      expect(d.state).toBe('enrolled');
      expect(d.owner).toMatch(/^[a-z]+\.[a-z]+@example\.com$/);
      // Ownership is the profile's, whatever the simulated device says of itself.
      expect(d.ownership).toBe(d.profile === 'byod-phones' ? 'personal' : 'corporate');
      // Only company-owned devices were pre-registered from the "purchase record", department and all.
      if (d.labels.department !== undefined) expect(d.labels.department).toMatch(/^(engineering|sales|operations|support|finance|hr)$/);
      if (d.ownership === 'personal') expect(d.labels.department).toBeUndefined();
    }
    expect(listed.some((d) => d.labels.department !== undefined)).toBe(true);
    const compliance = JSON.parse((await cli(['compliance', '--data-dir', dataDir, '-o', 'json'])).stdout) as DeviceCompliance[];
    const statuses = new Set(compliance.map((c) => c.status));
    expect(statuses.has('compliant')).toBe(true);
    expect(statuses.has('noncompliant')).toBe(true);
    expect(compliance.filter((c) => c.status === 'noncompliant').every((c) => c.failures.length > 0)).toBe(true);

    const stateFile = join(dataDir, 'simulator-state.json');
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
  });

  it('checks the same fleet in again without enrolling duplicates, and reports the applied configuration', async () => {
    const again = await simulate(dataDir, ['--devices', '20', '--once']);
    expect(again).toMatchObject({ seed: 7, enrolled: 0, checkIns: 20, errors: 0 });
    const listed = await devices(dataDir);
    expect(listed).toHaveLength(20);
    // The second check-in carries the configuration version the first one received.
    const mobile = listed.find((d) => d.platform === 'android' || d.platform === 'ios')!;
    const detail = JSON.parse((await cli(['devices', 'show', mobile.id, '--data-dir', dataDir, '-o', 'json'])).stdout) as Device & { effectiveConfiguration: { version: string } };
    expect(detail.posture?.appliedConfigVersion).toBe(detail.effectiveConfiguration.version);
  });

  it('adds devices when the count grows', async () => {
    const more = await simulate(dataDir, ['--devices', '25', '--once']);
    expect(more).toMatchObject({ enrolled: 5, checkIns: 25, errors: 0 });
    expect(await devices(dataDir)).toHaveLength(25);
  });

  it('executes the commands queued since the last run; a wiped device stops checking in', async () => {
    const listed = await devices(dataDir);
    const bySerial = new Map(Array.from({ length: 25 }, (_, i) => simulatedDevice(7, i)).map((s) => [s.serial, s]));
    // Pick devices whose seeded outcome for the command is success, so the test asserts acknowledgement.
    const willAck = (d: Device, type: string) => commandOutcome(7, d.serial!, type).status === 'acknowledged';
    const lockee = listed.find((d) => willAck(d, 'lock'))!;
    const wipee = listed.find((d) => d.id !== lockee.id && willAck(d, 'wipe'))!;
    expect(bySerial.has(lockee.serial!)).toBe(true);
    await cli(['lock', lockee.id, '--reason', 'lost on the train', '--data-dir', dataDir]);
    await cli(['wipe', wipee.id, '--yes', '--reason', 'stolen', '--data-dir', dataDir]);

    const run = await simulate(dataDir, ['--devices', '25', '--once']);
    expect(run.commands).toMatchObject({ executed: 2, acknowledged: 2, failed: 0, byType: { lock: 1, wipe: 1 } });
    expect(run).toMatchObject({ enrolled: 0, wiped: 1, errors: 0 });

    const commands = JSON.parse((await cli(['commands', 'list', '--data-dir', dataDir, '-o', 'json'])).stdout) as Array<DeviceCommand & { commandId?: string }>;
    const statusOf = (deviceId: string) => commands.find((c) => c.deviceId === deviceId)?.status;
    expect(statusOf(lockee.id)).toBe('acknowledged');
    expect(statusOf(wipee.id)).toBe('acknowledged');
    expect((await devices(dataDir)).find((d) => d.id === wipee.id)?.state).toBe('wiped');

    // The wiped device forgot its identity: it neither checks in nor enrolls again.
    const after = await simulate(dataDir, ['--devices', '25', '--once']);
    expect(after).toMatchObject({ enrolled: 0, checkIns: 24, wiped: 1, errors: 0 });
    const state = JSON.parse(readFileSync(join(dataDir, 'simulator-state.json'), 'utf8')) as { fleets: Record<string, { devices: Array<{ deviceId: string; credential?: string; state: string }> }> };
    const entry = state.fleets[`embedded:${dataDir}`]!.devices.find((e) => e?.deviceId === wipee.id)!;
    expect(entry).toMatchObject({ state: 'wiped' });
    expect(entry.credential).toBeUndefined();
  });

  it('refuses another seed for an existing fleet', async () => {
    const r = await runCli(['simulate', '--devices', '5', '--seed', '8', '--data-dir', dataDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/was created with --seed 7, not 8/);
    expect(r.stderr).toMatch(/--state OTHER_FILE/);
  });

  it('checks in on an interval for a duration', async () => {
    const run = await simulate(dataDir, ['--devices', '25', '--interval', '0.2', '--duration', '0.5']);
    // Rounds start at 0, 0.2 and 0.4 s; the next would start at 0.6 s, past the duration.
    expect(run.rounds).toBe(3);
    expect(run.checkIns).toBe(3 * 24);
  });
});

describe('emmctl simulate with the example policy repo (policies/)', () => {
  it('gives the quick start a fleet that is mostly, not entirely, compliant, with a finance team', async () => {
    const dataDir = freshDir();
    await cli(['apply', join(ROOT, 'policies'), '--yes', '--data-dir', dataDir]);
    const summary = await simulate(dataDir, ['--devices', '60', '--seed', '42']);
    expect(summary).toMatchObject({ enrolled: 60, notEnrolled: 0, errors: 0 });
    const compliance = JSON.parse((await cli(['compliance', '--data-dir', dataDir, '-o', 'json'])).stdout) as DeviceCompliance[];
    const compliant = compliance.filter((c) => c.status === 'compliant').length;
    expect(compliant).toBeGreaterThan(30);
    expect(compliant).toBeLessThan(60);
    const rules = new Set(compliance.flatMap((c) => c.failures.map((f) => f.rule)));
    expect(rules.size).toBeGreaterThanOrEqual(3);
    const finance = JSON.parse((await cli(['devices', 'list', '--filter', 'group=finance-team', '--data-dir', dataDir, '-o', 'json'])).stdout) as Device[];
    expect(finance.length).toBeGreaterThan(0);
  });
});

describe('seeded determinism', () => {
  const fingerprint = (list: Device[]) =>
    list
      .map((d) => ({ serial: d.serial, name: d.name, platform: d.platform, ownership: d.ownership, owner: d.owner, model: d.model, posture: { ...d.posture, appliedConfigVersion: undefined } }))
      .sort((a, b) => a.serial!.localeCompare(b.serial!));

  it('the same seed gives the same fleet in another store; another seed a different one', async () => {
    const [a, b, c] = [await appliedStore(), await appliedStore(), await appliedStore()];
    await simulate(a, ['--devices', '15', '--once', '--seed', '99']);
    await simulate(b, ['--devices', '15', '--once', '--seed', '99']);
    await simulate(c, ['--devices', '15', '--once', '--seed', '100']);
    const [fa, fb, fc] = [fingerprint(await devices(a)), fingerprint(await devices(b)), fingerprint(await devices(c))];
    expect(fa).toEqual(fb);
    expect(fa.map((d) => d.serial)).not.toEqual(fc.map((d) => d.serial));
  });

  it('a fleet mixes platforms, ownership, out-of-date OS versions and risky postures', () => {
    const fleet = Array.from({ length: 2000 }, (_, i) => simulatedDevice(42, i));
    const share = (pred: (d: (typeof fleet)[number]) => boolean) => fleet.filter(pred).length / fleet.length;
    for (const p of ['android', 'ios', 'ipados', 'windows', 'macos']) expect(share((d) => d.platform === p)).toBeGreaterThan(0.04);
    expect(share((d) => d.ownership === 'personal')).toBeGreaterThan(0.1);
    expect(share((d) => !d.posture.encrypted)).toBeGreaterThan(0.01);
    expect(share((d) => !d.posture.passcodeSet)).toBeGreaterThan(0.01);
    expect(share((d) => d.posture.compromised)).toBeGreaterThan(0.003);
    expect(share((d) => d.posture.compromised)).toBeLessThan(0.05);
    expect(share((d) => d.platform === 'android' && Number(d.posture.osVersion) < 13)).toBeGreaterThan(0.02);
    expect(new Set(fleet.map((d) => d.serial)).size).toBe(fleet.length);
    const failing = Array.from({ length: 2000 }, (_, i) => commandOutcome(42, fleet[i]!.serial, 'lock')).filter((o) => o.status === 'failed');
    expect(failing.length / 2000).toBeGreaterThan(0.02);
    expect(failing.length / 2000).toBeLessThan(0.1);
    expect(failing.every((o) => typeof o.detail === 'string' && o.detail.length > 0)).toBe(true);
  });

  it('device N is the same whatever the fleet size', () => {
    expect(simulatedDevice(5, 17)).toEqual(simulatedDevice(5, 17));
    expect(simulatedDevice(5, 17).serial).not.toBe(simulatedDevice(5, 18).serial);
  });
});

describe('emmctl simulate on an empty store', () => {
  it('creates an enrollment profile for all platforms so the fleet can enroll, and says so', async () => {
    const dataDir = freshDir();
    const r = await cli(['simulate', '--devices', '6', '--data-dir', dataDir, '-o', 'json']);
    const summary = JSON.parse(r.stdout) as SimulationSummary;
    expect(summary).toMatchObject({ enrolled: 6, checkIns: 6, profileCreated: 'simulated-devices' });
    expect(r.stderr).toMatch(/warning: the store has no EnrollmentProfile: created EnrollmentProfile\/simulated-devices/);
    expect((await devices(dataDir)).every((d) => d.profile === 'simulated-devices')).toBe(true);
    // Only once: the next run finds the profile and creates nothing.
    const again = await simulate(dataDir, ['--devices', '8']);
    expect(again).toMatchObject({ enrolled: 2, profileCreated: null });
  });
});

describe('emmctl simulate --server (a real server process)', () => {
  it('enrolls with the given token, keeps identity in --state, and needs no token once enrolled', async () => {
    const dataDir = freshDir();
    const admin = await createApiToken(join(dataDir, 'store'), 'admin', 'sim-admin');
    const server = await startServerProcess(join(dataDir, 'store'), ['--no-access-log']);
    try {
      const env = { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: admin };
      await cli(['apply', POLICIES, '--yes'], env);
      const stateFile = join(dataDir, 'fleet.json');

      const noToken = await runCli(['simulate', '--devices', '4', '--server', server.url, '--state', stateFile]);
      expect(noToken.code).toBe(2);
      expect(noToken.stderr).toMatch(/4 simulated devices are not enrolled with http:\/\/127\.0\.0\.1:\d+ yet: pass --enroll-token/);

      const created = JSON.parse((await cli(['enroll', 'token', 'create', '--profile', 'corp-devices', '-o', 'json'], env)).stdout) as { secret: string };
      const first = JSON.parse((await cli(['simulate', '--devices', '12', '--server', server.url, '--enroll-token', created.secret, '--state', stateFile, '-o', 'json'])).stdout) as SimulationSummary;
      // One corporate profile for all platforms: the personal devices enroll too, as corporate (ownership is the profile's).
      expect(first).toMatchObject({ enrolled: 12, checkIns: 12, errors: 0, store: null });
      expect(statSync(stateFile).mode & 0o777).toBe(0o600);

      const second = JSON.parse((await cli(['simulate', '--devices', '12', '--state', stateFile, '-o', 'json'], { EMMCTL_SERVER: server.url })).stdout) as SimulationSummary;
      expect(second).toMatchObject({ enrolled: 0, checkIns: 12, errors: 0 });
      const listed = JSON.parse((await cli(['devices', 'list', '-o', 'json'], env)).stdout) as Device[];
      expect(listed).toHaveLength(12);
      expect(readFileSync(stateFile, 'utf8')).not.toContain(created.secret);
    } finally {
      await server.stop();
    }
  });

  it('says an unreachable server is unreachable, once', async () => {
    const dataDir = freshDir();
    const r = await runCli(['simulate', '--devices', '50', '--server', 'http://127.0.0.1:9', '--enroll-token', 'x', '--data-dir', dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr.match(/cannot reach emmctl server at http:\/\/127\.0\.0\.1:9: ECONNREFUSED — is it running\?/g)).toHaveLength(1);
  });
});

describe('flags', () => {
  it('rejects --once with --interval, and a zero device count', async () => {
    const dataDir = freshDir();
    const both = await runCli(['simulate', '--devices', '3', '--once', '--interval', '5', '--data-dir', dataDir]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--once cannot be combined with --interval or --duration/);
    const zero = await runCli(['simulate', '--devices', '0', '--data-dir', dataDir]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--devices expects a whole number of at least 1, got "0"/);
  });
});
