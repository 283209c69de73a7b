// The admin's whole day, end to end, through the built CLI: validate → plan → apply →
// devices enroll and check in (simulator) → compliance table and CI gate → a wipe refused
// without --yes, then queued → the device executes it → command history → audit log.
// Runs twice: on the embedded store, and against a real `emmctl server` on a loopback port.
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { createApiToken, startServerProcess, type ServerProcess } from '../helpers/server.js';

// Every platform the simulator produces may enroll with this extra profile, so one enrollment
// token serves the whole simulated fleet when it enrolls through a server.
const LAB_PROFILE = `apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata:
  name: lab-any
spec:
  platforms: [android, ios, ipados, macos, windows]
  ownership: corporate
`;

const DEVICES = '24';
const SEED = '7';

interface Story {
  env: Record<string, string>;
  simulateArgs(): Promise<string[]>;
  cleanup(): Promise<void>;
}

function json<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

describe.each([
  ['embedded store', async (work: string): Promise<Story> => {
    const env = { EMMCTL_DATA_DIR: join(work, 'data') };
    return { env, simulateArgs: async () => [], cleanup: async () => {} };
  }],
  ['emmctl server over HTTP', async (work: string): Promise<Story> => {
    const serverData = join(work, 'server-data');
    const token = await createApiToken(serverData, 'admin', 'story-admin');
    const server: ServerProcess = await startServerProcess(serverData, ['--no-access-log']);
    const env = { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token };
    return {
      env,
      // Devices enroll through the server's agent API with a token made by the admin CLI.
      simulateArgs: async () => {
        const created = json<{ secret: string }>(await runCli(['enroll', 'token', 'create', '--profile', 'lab-any', '-o', 'json'], { env }));
        return ['--enroll-token', created.secret, '--state', join(work, 'simulator-state.json')];
      },
      cleanup: async () => void (await server.stop()),
    };
  }],
])('the admin story on the %s', (_name, setUp) => {
  let work: { path: string; cleanup: () => void };
  let story: Story;
  let repo: string;
  let simulateArgs: string[];
  const cli = (args: string[], input?: string) => runCli(args, { cwd: repo, env: story.env, input });

  beforeAll(async () => {
    work = tempDir('emmctl-story-');
    repo = join(work.path, 'repo');
    cpSync(join(ROOT, 'policies'), join(repo, 'policies'), { recursive: true });
    writeFileSync(join(repo, 'policies', 'enrollment', 'lab.yaml'), LAB_PROFILE);
    story = await setUp(work.path);
  });
  afterAll(async () => {
    await story?.cleanup();
    work?.cleanup();
  });

  it('validates the policy repo and plans every resource as a create', async () => {
    expect((await cli(['validate'])).code).toBe(0);
    const plan = await cli(['plan', '--detailed-exitcode']);
    expect(plan.code, plan.stderr).toBe(4);
    expect(plan.stdout).toMatch(/\+ create Group\/android-corporate/);
    expect(plan.stdout).toMatch(/Plan: 21 to create, 0 to update, 0 to delete\./);
  });

  it('refuses to apply without --yes off a terminal, then applies, then is in sync', async () => {
    const refused = await cli(['apply']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--yes/);
    expect((await cli(['plan', '--detailed-exitcode'])).code).toBe(4);

    const applied = await cli(['apply', '--yes']);
    expect(applied.code, applied.stderr).toBe(0);
    expect((await cli(['plan', '--detailed-exitcode'])).code).toBe(0);
    expect((await cli(['apply', '--yes'])).stdout).toMatch(/No changes\./);
  });

  it('enrolls a simulated fleet whose compliance table fails the CI gate with reasons', async () => {
    simulateArgs = await story.simulateArgs();
    const sim = await cli(['simulate', '--devices', DEVICES, '--once', '--seed', SEED, ...simulateArgs]);
    expect(sim.code, sim.stderr).toBe(0);

    const devices = json<Array<{ id: string; state: string }>>(await cli(['devices', 'list', '-o', 'json']));
    expect(devices).toHaveLength(Number(DEVICES));
    expect(devices.every((d) => d.state === 'enrolled')).toBe(true);

    const records = json<Array<{ deviceId: string; status: string; failures: Array<{ rule: string; expected: string; actual: string }> }>>(
      await cli(['compliance', '-o', 'json']),
    );
    expect(records).toHaveLength(Number(DEVICES));
    const failing = records.filter((r) => r.status === 'noncompliant');
    expect(failing.length).toBeGreaterThan(0);
    expect(failing.length).toBeLessThan(records.length);
    for (const r of failing) expect(r.failures.length, JSON.stringify(r)).toBeGreaterThan(0);
    for (const r of records.filter((x) => x.status === 'compliant')) expect(r.failures).toEqual([]);

    const gate = await cli(['compliance', '--fail-on', 'noncompliant']);
    expect(gate.code).toBe(5);

    // A device reports the configuration version it applied at its next check-in.
    const shown = await cli(['devices', 'show', devices[0]!.id]);
    expect(shown.stdout).toMatch(/Effective configuration version [0-9a-f]{16}  pending: not applied yet/);
  });

  it('wipes a non-compliant device only with --yes, the device executes it, and the audit log tells who and why', async () => {
    const [target] = json<Array<{ deviceId: string; name: string }>>(await cli(['compliance', '-o', 'json', '--filter', 'compliance=noncompliant']));
    expect(target).toBeDefined();

    const refused = await cli(['wipe', target!.deviceId, '--reason', 'reported stolen']);
    expect(refused.code).toBe(2);
    expect(json<unknown[]>(await cli(['commands', 'list', '--device', target!.deviceId, '-o', 'json']))).toEqual([]);

    const queued = json<Array<{ commandId: string; outcome: string }>>(
      await cli(['wipe', target!.deviceId, '--reason', 'reported stolen', '--yes', '-o', 'json']),
    );
    expect(queued).toEqual([expect.objectContaining({ outcome: 'queued' })]);
    const commandId = queued[0]!.commandId;

    // The same wipe again is not queued twice.
    const again = json<Array<{ outcome: string; commandId: string }>>(await cli(['wipe', target!.deviceId, '--yes', '-o', 'json']));
    expect(again).toEqual([expect.objectContaining({ outcome: 'already-pending', commandId })]);

    const sim = await cli(['simulate', '--devices', DEVICES, '--once', '--seed', SEED, ...simulateArgs]);
    expect(sim.code, sim.stderr).toBe(0);

    const others = json<Array<{ deviceId: string }>>(await cli(['compliance', '-o', 'json', '--filter', 'compliance=compliant']));
    expect((await cli(['devices', 'show', others[0]!.deviceId])).stdout).toMatch(/Effective configuration version [0-9a-f]{16}  applied by the device/);

    const command = json<{ status: string; reason: string; type: string }>(await cli(['commands', 'show', commandId, '-o', 'json']));
    expect(command).toMatchObject({ type: 'wipe', reason: 'reported stolen' });
    // The simulator's outcomes are seeded per device: with this seed the wipe succeeds.
    expect(command.status).toBe('acknowledged');
    expect(json<{ state: string }>(await cli(['devices', 'show', target!.deviceId, '-o', 'json'])).state).toBe('wiped');
    // A wiped device is no longer managed: it leaves the compliance view (and can never trip the
    // gate again) but stays visible on request.
    const managed = json<Array<{ deviceId: string }>>(await cli(['compliance', '-o', 'json']));
    expect(managed.map((r) => r.deviceId)).not.toContain(target!.deviceId);
    expect(managed).toHaveLength(Number(DEVICES) - 1);
    const wiped = json<Array<{ deviceId: string; state: string }>>(await cli(['compliance', '-o', 'json', '--filter', 'state=wiped']));
    expect(wiped).toEqual([expect.objectContaining({ deviceId: target!.deviceId, state: 'wiped' })]);

    const audit = json<Array<{ action: string; target: string; actor: string; detail?: Record<string, unknown> }>>(await cli(['audit', '--since', '1h', '-o', 'json']));
    const wipe = audit.find((a) => a.action === 'command.wipe' && a.target === `device/${target!.deviceId}`);
    expect(wipe).toBeDefined();
    expect(wipe!.detail).toMatchObject({ reason: 'reported stolen' });
    expect(wipe!.actor).toMatch(story.env.EMMCTL_SERVER ? /^story-admin$/ : /^local:/);
    expect(audit.some((a) => a.action === 'command.result' && a.target === `command/${commandId}`)).toBe(true);
    expect(audit.filter((a) => a.action === 'apply').length).toBe(21);
  });
});
