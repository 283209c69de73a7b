// The same fleet commands against a real `emmctl server` on a loopback port (HTTP driver):
// listings, the compliance gate, the wipe guard, already pending, enrollment URL, audit actor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createToken, killAll, startServerProcess, type ServerProcess } from '../server/helpers.js';
import { seedStore, type SeededStore } from './devices.seed.js';

let fleet: SeededStore;
let server: ServerProcess;
let env: Record<string, string>;
const cli = (...args: string[]) => runCli(args, { env });

beforeAll(async () => {
  fleet = await seedStore();
  const token = await createToken(fleet.dataDir, 'admin', 'ci-admin');
  server = await startServerProcess(fleet.dataDir);
  // No EMMCTL_DATA_DIR: the commands must go over HTTP.
  env = { HOME: fleet.env.HOME!, EMMCTL_CONFIG_DIR: fleet.env.EMMCTL_CONFIG_DIR!, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token };
});
afterAll(async () => {
  await server?.stop();
  killAll();
  fleet.cleanup();
});

describe('against emmctl server', () => {
  it('devices list and compliance stream the same records as the embedded store', async () => {
    const devices = await cli('devices', 'list', '-o', 'json', '--filter', 'platform=android', '--sort', 'name');
    expect(devices.code, devices.stderr).toBe(0);
    expect((JSON.parse(devices.stdout) as Array<{ name: string }>).map((d) => d.name)).toEqual(['ana-pixel', 'bo-galaxy', 'cy-pixel']);
    const gate = await cli('compliance', '--fail-on', 'noncompliant', '-o', 'json');
    expect(gate.code).toBe(5);
    const records = JSON.parse(gate.stdout) as Array<{ name: string; status: string; failures: Array<{ rule: string }> }>;
    expect(records).toHaveLength(5);
    expect(records.find((r) => r.name === 'cy-pixel')).toMatchObject({ status: 'noncompliant', failures: [{ rule: 'encryption' }] });
    expect(gate.stderr).toMatch(/5 devices: compliant 2 \(40\.0%\), noncompliant 3/);
  });

  it('wipe: refused without --yes off a terminal, queued with it, then already pending; audit keeps reason and actor', async () => {
    const id = fleet.ids['ed-iphone']!;
    const refused = await cli('wipe', id);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--yes/);
    const none = await cli('commands', 'list', '--device', id, '-o', 'json');
    expect(JSON.parse(none.stdout)).toEqual([]);

    const queued = await cli('wipe', id, '--yes', '--reason', 'left the company', '-o', 'json');
    expect(queued.code, queued.stderr).toBe(0);
    const [record] = JSON.parse(queued.stdout) as Array<{ outcome: string; commandId: string }>;
    expect(record).toMatchObject({ outcome: 'queued' });
    const again = await cli('wipe', id, '--yes', '-o', 'json');
    expect(JSON.parse(again.stdout)[0]).toMatchObject({ outcome: 'already-pending', commandId: record!.commandId });

    const audit = await cli('audit', '--since', '1h', '-o', 'json');
    expect(audit.code, audit.stderr).toBe(0);
    const wipe = (JSON.parse(audit.stdout) as Array<{ action: string; actor: string; target: string; detail?: { reason?: string } }>).filter((a) => a.action === 'command.wipe');
    expect(wipe).toHaveLength(1);
    expect(wipe[0]!.actor).toContain('ci-admin');
    expect(wipe[0]!.detail?.reason).toBe('left the company');
  });

  it('enroll token create prints the server enrollment URL', async () => {
    const r = await cli('enroll', 'token', 'create', '--profile', 'corp', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout);
    expect(t.enrollmentUrl).toBe(`${server.url}/v1/agent/enroll?token=${encodeURIComponent(t.secret)}`);
  });
});
