// Two `emmctl server` replicas with the Android channel on one PostgreSQL database and one fake
// Google: each device is enrolled once and each command sent once however many replicas run the
// channel's jobs, and when the replica holding the jobs' leases is killed (kill -9), the other
// takes them over (new devices taken in, commands sent), still once each.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { cliDatabase, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { createApiToken, killAll, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { startFakeAmapi, type FakeAmapi } from './fake-amapi.js';
import { ANDROID_REPO, androidServerArgs, tokenValue, waitFor, WIFI_PSK } from './runtime-helpers.js';

interface DeviceJson { id: string; serial?: string; state: string; platform: string }

const REPO = ANDROID_REPO.replace('    - { after: 0s, do: lock }\n', '');

describe('android: two replicas on one PostgreSQL database', () => {
  let fake: FakeAmapi;
  let db: FreshDatabase;
  let work: { path: string; cleanup: () => void };
  let replicas: ServerProcess[];
  let token: string;
  let repo: string;
  const cliVia = (server: ServerProcess, args: string[]): Promise<CliResult> => runCli(args, { cwd: repo, env: { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token, WIFI_PSK } });
  const json = async <T>(server: ServerProcess, args: string[]): Promise<T> => {
    const r = await cliVia(server, [...args, '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const serialOf = (name: string) => String((fake.devices.get(name)!.hardwareInfo as { serialNumber: string }).serialNumber);
  const issued = (device: string) => fake.requests.filter((r) => r.call === 'enterprises.devices.issueCommand' && r.path.includes(device)).length;

  beforeAll(async () => {
    fake = await startFakeAmapi({ seed: 33 });
    db = await freshDatabase();
    work = tempDir('emmctl-android-replicas-');
    repo = join(work.path, 'repo');
    mkdirSync(join(repo, 'policies'), { recursive: true });
    writeFileSync(join(repo, 'policies', 'android.yaml'), REPO);
    const store = cliDatabase(db);
    token = await createApiToken(store, 'admin', 'replicas-admin');
    replicas = await Promise.all([startServerProcess(store, androidServerArgs(fake)), startServerProcess(store, androidServerArgs(fake))]);
  });
  afterEach(() => {
    expect(fake.schemaErrors).toEqual([]);
  });
  afterAll(async () => {
    for (const r of replicas ?? []) await r.stop();
    killAll();
    await fake?.close();
    await db?.drop();
    work?.cleanup();
  });

  it('enrolls each device once and sends each command once, and the survivor takes the jobs over after kill -9', async () => {
    const [a, b] = replicas;
    expect((await cliVia(a!, ['apply', '--yes'])).code).toBe(0);
    const created = await json<{ android: { qrCode: string } }>(b!, ['enroll', 'token', 'create', '--profile', 'android-corp']);
    const value = tokenValue(created.android.qrCode);
    const first = await fake.devices.enrollMany(value, 12);
    const enrolledIn = async (server: ServerProcess, names: string[]) => {
      const want = names.map(serialOf).sort();
      return waitFor(`${want.length} devices through ${server.url}`, async () => {
        const have = (await json<DeviceJson[]>(server, ['devices', 'list', '--limit', '1000'])).filter((d) => d.platform === 'android' && d.state === 'enrolled');
        return want.every((s) => have.some((d) => d.serial === s)) ? have : undefined;
      }, 60_000);
    };
    let devices = await enrolledIn(a!, first);
    expect(devices).toHaveLength(first.length);

    // The replica that took the devices in holds the jobs' leases: it dies.
    const holder = replicas.find((r) => /"message":"devices: \d+ listed, \d+ enrolled/.test(r.stderr()))!;
    expect(holder).toBeDefined();
    const survivor = holder === a ? b! : a!;
    holder.child.kill('SIGKILL');
    await holder.exited;

    const second = await fake.devices.enrollMany(value, 6);
    devices = await enrolledIn(survivor, [...first, ...second]);
    expect(devices).toHaveLength(first.length + second.length);
    expect(new Set(devices.map((d) => d.serial)).size).toBe(devices.length);
    const tokens = await json<Array<{ uses: number }>>(survivor, ['enroll', 'token', 'list']);
    expect(tokens[0]!.uses).toBe(first.length + second.length);

    const targets = [...first.slice(0, 3), ...second.slice(0, 3)];
    const ids = targets.map((n) => devices.find((d) => d.serial === serialOf(n))!.id);
    const queued = await json<Array<{ commandId: string }>>(survivor, ['lock', ...ids, '--yes', '--max-devices', String(ids.length)]);
    await waitFor('every lock acknowledged', async () => {
      for (const t of targets) fake.devices.report(t);
      const cmds = await Promise.all(queued.map((q) => json<{ status: string }>(survivor, ['commands', 'show', q.commandId])));
      return cmds.every((c) => c.status === 'acknowledged') ? true : undefined;
    }, 60_000);
    for (const t of targets) expect(issued(t), t).toBe(1);
    const audit = await json<Array<{ action: string }>>(survivor, ['audit', '--since', '1h', '--limit', '1000']);
    expect(audit.filter((x) => x.action === 'enroll')).toHaveLength(first.length + second.length);
  });
});
