// The Android channel when things go wrong, with a real `emmctl server` process on the fake
// Google: a 429 storm during a device sync (the client backs off, nothing is lost), a lost
// issueCommand answer (looked up, never sent twice: counted at the fake), and kill -9 of the
// server in the middle of a sync and in the middle of a send (Google carried the LOCK out, the
// answer is held back by a proxy until the server is dead), then a restart on the same store
// (nothing duplicated, nothing lost).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { createApiToken, killAll, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { startDroppingProxy, type DroppingProxy } from '../http/dropping-proxy.js';
import { startFakeAmapi, type FakeAmapi } from './fake-amapi.js';
import { ANDROID_REPO, androidServerArgs, passes, tokenValue, waitFor, WIFI_PSK } from './runtime-helpers.js';

interface DeviceJson { id: string; serial?: string; state: string; platform: string }
interface CommandJson { id: string; type: string; status: string; deviceId: string }

// No automatic lock here: every command in these tests is one the test queued and counts. A
// second profile lets two devices enroll: AMAPI tokens are one-time or unlimited, so emmctl counts.
const REPO = `${ANDROID_REPO.replace('    - { after: 0s, do: lock }\n', '')}---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata:
  name: android-pair
spec:
  platforms: [android]
  ownership: corporate
  group: android-fleet
  maxUses: 2
`;

describe('android: faults between the server and Google', () => {
  let fake: FakeAmapi;
  let proxy: DroppingProxy;
  let work: { path: string; cleanup: () => void };
  let data: string;
  let server: ServerProcess;
  let env: Record<string, string>;
  let repo: string;
  let value: string;
  const enrolled: string[] = [];
  const cli = (args: string[]): Promise<CliResult> => runCli(args, { cwd: repo, env });
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await cli([...args, '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const start = async () => {
    server = await startServerProcess(data, androidServerArgs(fake, { endpoint: proxy.url }));
    env.EMMCTL_SERVER = server.url;
  };
  const androidDevices = async () => (await json<DeviceJson[]>(['devices', 'list', '--limit', '1000'])).filter((d) => d.platform === 'android');
  const serialOf = (name: string) => String((fake.devices.get(name)!.hardwareInfo as { serialNumber: string }).serialNumber);
  const issued = (device: string, type: string) =>
    fake.requests.filter((r) => r.call === 'enterprises.devices.issueCommand' && r.path.includes(device) && (r.body as { type?: string } | undefined)?.type === type).length;
  const idOf = async (name: string) => {
    const serial = serialOf(name);
    const d = (await androidDevices()).find((x) => x.serial === serial);
    if (!d) throw new Error(`no emmctl device has serial ${serial}`);
    return d.id;
  };
  /** Waits until emmctl lists exactly the devices enrolled at the fake, each once. */
  const allTaken = async () => {
    const want = enrolled.map(serialOf).sort();
    return waitFor(`${want.length} devices in emmctl`, async () => {
      const have = (await androidDevices()).filter((d) => d.state === 'enrolled').map((d) => d.serial!).sort();
      return have.length >= want.length ? have : undefined;
    });
  };

  beforeAll(async () => {
    fake = await startFakeAmapi({ seed: 21 });
    // Between the server and Google, so a test can hold an answer back.
    proxy = await startDroppingProxy(fake.url);
    work = tempDir('emmctl-android-faults-');
    repo = join(work.path, 'repo');
    data = join(work.path, 'data');
    mkdirSync(join(repo, 'policies'), { recursive: true });
    writeFileSync(join(repo, 'policies', 'android.yaml'), REPO);
    env = { EMMCTL_TOKEN: await createApiToken(data, 'admin', 'faults-admin'), WIFI_PSK };
    await start();
    expect((await cli(['apply', '--yes'])).code).toBe(0);
    const created = await json<{ android: { qrCode: string } }>(['enroll', 'token', 'create', '--profile', 'android-corp']);
    value = tokenValue(created.android.qrCode);
  });
  afterEach(() => {
    expect(fake.schemaErrors).toEqual([]);
  });
  afterAll(async () => {
    await server?.stop();
    killAll();
    await proxy?.close();
    await fake?.close();
    work?.cleanup();
  });

  it('backs off through a 429 storm during a sync and loses no device', async () => {
    enrolled.push(...(await fake.devices.enrollMany(value, 6)));
    const before = fake.requests.length;
    fake.faults.quotaStorm(4, 1);
    const have = await allTaken();
    expect(have).toEqual(enrolled.map(serialOf).sort());
    const during = fake.requests.slice(before);
    // The storm was met (four 429s), and the sync went on after it.
    expect(during.filter((r) => r.status === 429)).toHaveLength(4);
    expect(during.some((r) => r.call === 'enterprises.devices.list' && r.status === 200)).toBe(true);
    expect(server.stderr()).not.toMatch(/"level":"error"/);
  });

  it('looks a lost issueCommand answer up instead of sending it again', async () => {
    const target = enrolled[0]!;
    const id = await idOf(target);
    fake.faults.loseNextResponse('issueCommand');
    const queued = await json<Array<{ commandId: string }>>(['lock', id, '--yes']);
    const commandId = queued[0]!.commandId;
    // The answer was lost: Google has the LOCK, emmctl does not know it yet.
    await waitFor('the lost answer', async () => (fake.requests.some((r) => r.lost && r.call === 'enterprises.devices.issueCommand') ? true : undefined));
    await waitFor('the lookup', async () => (fake.requests.some((r) => r.call === 'enterprises.devices.operations.list' && r.path.includes(target)) ? true : undefined));
    fake.devices.report(target);
    const done = await waitFor('the lock acknowledged', async () => {
      const c = await json<CommandJson>(['commands', 'show', commandId]);
      if (c.status !== 'acknowledged') fake.devices.report(target);
      return c.status === 'acknowledged' ? c : undefined;
    });
    expect(done.type).toBe('lock');
    expect(issued(target, 'LOCK')).toBe(1);
    expect(fake.devices.executed(target).filter((e) => e.type === 'LOCK')).toHaveLength(1);
    await passes(fake, 3);
    expect(issued(target, 'LOCK')).toBe(1);
  });

  it('survives kill -9 in the middle of a sync: after the restart every device is there once', async () => {
    // More devices than one devices.list page (100): the server is killed while it waits for the
    // second page, the first page's devices taken in, the rest not.
    let held = false;
    const lost = proxy.lost;
    proxy.lose = (method, url) => {
      if (held || method !== 'GET' || !/\/devices\?/.test(url) || !url.includes('pageToken=')) return false;
      held = true;
      return 'hang';
    };
    enrolled.push(...(await fake.devices.enrollMany(value, 110)));
    await waitFor('a sync waiting for its second page', async () => (proxy.lost === lost + 1 ? true : undefined));
    server.child.kill('SIGKILL');
    await server.exited;
    proxy.lose = () => false;
    const atKill = await runCli(['devices', 'list', '--data-dir', data, '--limit', '1000', '-o', 'json']);
    expect(atKill.code, atKill.stderr).toBe(0);
    const partial = (JSON.parse(atKill.stdout) as DeviceJson[]).filter((d) => d.platform === 'android');
    expect(new Set(partial.map((d) => d.serial)).size).toBe(partial.length);
    await start();
    const have = await allTaken();
    expect(have).toEqual(enrolled.map(serialOf).sort());
    const devices = await androidDevices();
    expect(new Set(devices.map((d) => d.serial)).size).toBe(devices.length);
    const tokens = await json<Array<{ uses: number }>>(['enroll', 'token', 'list']);
    expect(tokens[0]!.uses).toBe(enrolled.length);
    const audit = await json<Array<{ action: string }>>(['audit', '--since', '1h', '--limit', '1000']);
    expect(audit.filter((a) => a.action === 'enroll')).toHaveLength(enrolled.length);
  });

  it('survives kill -9 in the middle of sending commands: each device is locked once', async () => {
    const targets = enrolled.slice(1, 9);
    const ids = await Promise.all(targets.map(idOf));
    // The first LOCK reaches Google and is carried out there; its answer never comes back.
    let held = false;
    const lost = proxy.lost;
    proxy.lose = (method, url) => {
      if (held || method !== 'POST' || !url.includes(':issueCommand')) return false;
      held = true;
      return 'hang';
    };
    const queued = await json<Array<{ commandId: string }>>(['lock', ...ids, '--yes', '--max-devices', String(ids.length)]);
    expect(queued).toHaveLength(ids.length);
    await waitFor('a LOCK carried out at Google with its answer held back', async () => (proxy.lost === lost + 1 ? true : undefined));
    server.child.kill('SIGKILL');
    await server.exited;
    proxy.lose = () => false;
    await start();
    await waitFor('every lock acknowledged', async () => {
      for (const t of targets) fake.devices.report(t);
      const cmds = await Promise.all(queued.map((q) => json<CommandJson>(['commands', 'show', q.commandId])));
      return cmds.every((c) => c.status === 'acknowledged') ? cmds : undefined;
    }, 60_000);
    for (const t of targets) {
      expect(issued(t, 'LOCK'), t).toBe(1);
      expect(fake.devices.executed(t).filter((e) => e.type === 'LOCK'), t).toHaveLength(1);
    }
    // The held one was found by its lookup, not sent again.
    expect(server.stderr()).toMatch(/the lost answer was found as enterprises\/[^ ]+\/operations\//);
  });

  it('revokes emmctl\'s token when Google refuses its token, and says so', async () => {
    fake.faults.failNext('enrollmentTokens.create', 400, 'INVALID_ARGUMENT');
    const r = await cli(['enroll', 'token', 'create', '--profile', 'android-corp']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/INVALID_ARGUMENT/);
    expect(r.stderr).toMatch(/emmctl token et_[0-9a-f]+ was revoked, so no device can enroll with it/);
    const id = /emmctl token (et_[0-9a-f]+) was revoked/.exec(r.stderr)![1]!;
    const tokens = await json<Array<{ id: string; revoked: boolean }>>(['enroll', 'token', 'list']);
    expect(tokens.find((t) => t.id === id)).toMatchObject({ revoked: true });
  });

  it('says a lost enrollmentTokens.create answer as such, and revokes emmctl\'s token so nothing half-made can enroll', async () => {
    const before = fake.requests.filter((r) => r.call === 'enterprises.enrollmentTokens.create').length;
    fake.faults.loseNextResponse('enrollmentTokens.create');
    const r = await cli(['enroll', 'token', 'create', '--profile', 'android-corp']);
    // No usable token was made either way (exit 1): what is unknown is only whether Google keeps one, which emmctl refuses.
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/may or may not have been created at Google \(the answer was lost\); emmctl token et_[0-9a-f]+ was revoked/);
    expect(r.stdout).toBe('');
    const made = fake.requests.filter((x) => x.call === 'enterprises.enrollmentTokens.create').slice(before);
    expect(made.filter((x) => x.status === 200)).toHaveLength(1);
    const tokens = await json<Array<{ id: string; revoked: boolean; uses: number }>>(['enroll', 'token', 'list']);
    const last = tokens[tokens.length - 1]!;
    expect(last.revoked).toBe(true);
  });

  it('counts a token\'s uses itself: the device past maxUses is refused and removed at Google, and the used-up token deleted there', async () => {
    const created = await json<{ id: string; android: { qrCode: string; tokenName: string } }>(['enroll', 'token', 'create', '--profile', 'android-pair']);
    const pair = tokenValue(created.android.qrCode);
    // Google's token is unlimited (AMAPI has nothing between one use and any number).
    expect(fake.requests.filter((r) => r.call === 'enterprises.enrollmentTokens.create').pop()?.body).toMatchObject({ oneTimeOnly: false });
    const three = [await fake.devices.enroll(pair), await fake.devices.enroll(pair), await fake.devices.enroll(pair)];
    await waitFor('one of the three removed at Google', async () => (three.filter((n) => fake.devices.get(n) === undefined).length === 1 ? true : undefined));
    const kept = three.filter((n) => fake.devices.get(n) !== undefined);
    const removed = three.find((n) => fake.devices.get(n) === undefined)!;
    expect(fake.requests.filter((r) => r.method === 'DELETE' && r.path.endsWith(removed))).toHaveLength(1);
    const serials = (await androidDevices()).map((d) => d.serial);
    for (const n of kept) expect(serials).toContain(serialOf(n));
    const tokens = await json<Array<{ id: string; uses: number; maxUses?: number }>>(['enroll', 'token', 'list']);
    expect(tokens.find((t) => t.id === created.id)).toMatchObject({ uses: 2, maxUses: 2 });
    await waitFor('the used-up token deleted at Google', async () => (fake.requests.some((r) => r.method === 'DELETE' && r.path.endsWith(created.android.tokenName)) ? true : undefined));
    const audit = await json<Array<{ action: string; detail?: Record<string, unknown> }>>(['audit', '--since', '1h', '--limit', '1000']);
    expect(audit.filter((a) => a.action === 'enroll.refused' && a.detail?.token === created.id)).toHaveLength(1);
  });
});
