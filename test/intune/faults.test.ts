// Intune's failure modes through the built CLI: an apply stopped part-way by a failing write
// (what was applied and what not, exit 1) and converged by a re-run; a group that Intune does
// not see yet when a policy is assigned to it (retried, not a failure); a 429 storm on device
// actions and on configuration writes (every action sent exactly once, every object created once).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startFakeGraph, type FakeGraph, type FakeGraphOptions } from './fake-graph.js';
import { INTUNE_REPO } from './helpers.js';

describe('intune: partial applies, eventual consistency and throttling', () => {
  let fake: FakeGraph;
  let dir: { path: string; cleanup: () => void };
  let env: Record<string, string>;
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, { env, input, cwd: dir.path, timeoutMs: 120_000 });

  async function setUp(options: FakeGraphOptions = {}): Promise<void> {
    fake = await startFakeGraph(options);
    mkdirSync(join(dir.path, 'policies'), { recursive: true });
    writeFileSync(join(dir.path, 'policies', 'intune.yaml'), INTUNE_REPO);
    const add = await cli(['context', 'add', 'corp', '--intune', '--tenant-id', fake.tenantId, '--client-id', fake.clientId, '--client-secret-stdin', '--graph-endpoint', fake.graphUrl, '--login-endpoint', fake.loginUrl, '--use'], fake.secret);
    expect(add.code).toBe(0);
  }
  const created = (path: RegExp) => fake.requests.filter((r) => r.method === 'POST' && r.status >= 200 && r.status < 300 && path.test(r.path)).length;

  beforeEach(() => {
    dir = tempDir('emmctl-intune-faults-');
    env = { XDG_DATA_HOME: join(dir.path, 'data'), EMMCTL_CONFIG_DIR: join(dir.path, 'config') };
  });
  afterEach(async () => {
    await fake?.close();
    dir.cleanup();
  });

  it('stops at the first failing change, says what was and was not applied, and a re-run converges', async () => {
    await setUp();
    // Writes: 2 groups, then the enrollment profile, then the first policy's create: that one fails.
    fake.faults.failWrite({ nth: 4, status: 500, message: 'Intune is having a moment' });
    const first = await cli(['apply', '--yes']);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/apply stopped at create Policy\/android-baseline: Graph failed to create emmctl:android-baseline:android-owner with HTTP 500/);
    expect(first.stderr).toContain('Applied: create Group/apple-byod, create Group/corp-android, create EnrollmentProfile/corp-android.');
    expect(first.stderr).toContain('Not applied: create Policy/android-baseline, create Policy/apple-byod, create CompliancePolicy/baseline');
    expect(first.stderr).toContain('run `emmctl plan` to see what is left');
    const left = await cli(['plan']);
    expect(left.stdout).toContain('Plan: 3 to create, 0 to update, 0 to delete.');
    const second = await cli(['apply', '--yes']);
    expect(second.stdout).toContain('Apply complete: 3 created, 0 updated, 0 deleted.');
    expect((await cli(['plan', '--detailed-exitcode'])).code).toBe(0);
    expect(created(/^\/groups$/)).toBe(2);
    expect(fake.schemaProblems).toEqual([]);
  });

  it('retries an assignment to a group Intune does not see yet, instead of failing', async () => {
    await setUp();
    fake.faults.groupVisibility({ requests: 6 });
    const apply = await cli(['apply', '--yes']);
    expect(apply.code).toBe(0);
    const refused = fake.requests.filter((r) => r.path.endsWith('/assign') && r.status >= 400);
    expect(refused.length).toBeGreaterThan(0);
    expect((await cli(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('rides out a 429 storm on configuration writes without creating anything twice', async () => {
    await setUp();
    const storm = fake.faults.throttle({ fraction: 0.25, seed: 7, retryAfterSeconds: 1, match: { method: 'POST' } });
    const apply = await cli(['apply', '--yes']);
    expect(apply.code).toBe(0);
    expect(storm.hits).toBeGreaterThan(0);
    storm.clear();
    expect(created(/^\/groups$/)).toBe(2);
    expect(created(/^\/deviceManagement\/deviceConfigurations$/)).toBe([...fake.state.policies.values()].filter((p) => p.kind === 'configuration').length);
    expect((await cli(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('sends every device action exactly once through a 429 storm on $batch responses', async () => {
    await setUp({ devices: Array.from({ length: 8 }, (_, i) => ({ platform: 'android' as const, ownership: 'company' as const, deviceName: `RUGGED-${i}` })), actionReadsToDone: 1000 });
    const storm = fake.faults.throttle({ fraction: 0.5, seed: 3, retryAfterSeconds: 1, match: { inBatch: true, path: /\/remoteLock$/ } });
    const lock = await cli(['lock', '--filter', 'name=RUGGED-*', '--reason', 'storm', '-o', 'json']);
    expect(lock.code).toBe(0);
    expect(storm.hits).toBeGreaterThan(0);
    const sent = fake.requests.filter((r) => r.status === 204 && r.path.endsWith('/remoteLock'));
    const perDevice = new Map<string, number>();
    for (const r of sent) perDevice.set(r.path, (perDevice.get(r.path) ?? 0) + 1);
    expect(perDevice.size).toBe(8);
    expect([...perDevice.values()].every((n) => n === 1)).toBe(true);
    // Running it again queues nothing new: every device already has its lock pending.
    storm.clear();
    const again = await cli(['lock', '--filter', 'name=RUGGED-*', '-o', 'json']);
    expect((JSON.parse(again.stdout) as Array<{ outcome: string }>).map((r) => r.outcome)).toEqual(Array(8).fill('already-pending'));
    expect(fake.requests.filter((r) => r.status === 204 && r.path.endsWith('/remoteLock'))).toHaveLength(8);
  });

  it('keeps a wipe whose answer was lost as "may have been sent" (exit 7) and never sends it again', async () => {
    await setUp({ devices: [{ platform: 'android', ownership: 'company', deviceName: 'LOST-1' }], actionReadsToDone: 1000 });
    const [device] = JSON.parse((await cli(['devices', 'list', '-o', 'json'])).stdout) as Array<{ id: string }>;
    fake.faults.failWrite({ nth: 1, applied: true, match: { inBatch: true, path: /\/wipe$/ } });
    const first = await cli(['wipe', device!.id, '--yes']);
    expect(first.code).toBe(7);
    expect(first.stderr).toContain('1 wipe command may have been sent to Intune (the answer was lost); running it again is safe');
    const again = await cli(['wipe', device!.id, '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout + again.stderr).toMatch(/already pending/);
    expect(fake.requests.filter((r) => r.path.endsWith('/wipe'))).toHaveLength(1);
  });

  it('follows a device action to its result with --wait: done, or failed (exit 1)', async () => {
    await setUp({ devices: [{ platform: 'ios', deviceName: 'WAIT-1' }, { platform: 'ios', deviceName: 'WAIT-2' }] });
    const devices = JSON.parse((await cli(['devices', 'list', '--sort', 'name', '-o', 'json'])).stdout) as Array<{ id: string }>;
    const ok = await cli(['lock', devices[0]!.id, '--wait', '--timeout', '60s', '-o', 'json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual([expect.objectContaining({ status: 'acknowledged' })]);
    fake.faults.failAction({ action: 'rebootNow', deviceId: devices[1]!.id });
    const failed = await cli(['reboot', devices[1]!.id, '--wait', '--timeout', '60s', '-o', 'json']);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toEqual([expect.objectContaining({ status: 'failed' })]);
  });
});
