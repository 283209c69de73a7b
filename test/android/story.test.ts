// The Android story end to end: the built CLI, a real `emmctl server` process with the Android
// channel, and the fake Google (fake-amapi.ts) with its simulated devices behind it. Apply the
// policies → an enrollment token with Google's QR payload → devices provision with the token
// value and report → the server syncs them (devices.list and Pub/Sub pushes) → devices list and
// compliance with reasons (AMAPI's own nonComplianceDetails among them) → a Policy change moves
// the devices to a new AMAPI policy → the escalation locks a failing device exactly once → wipe →
// devices.delete at Google and the device wiped → the audit log tells it all. Every body Google
// saw matched its discovery document; no secret reached a log.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { createApiToken, killAll, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { startFakeAmapi, type FakeAmapi } from './fake-amapi.js';
import { ANDROID_REPO, androidServerArgs, passes, tokenValue, waitFor, WIFI_PSK } from './runtime-helpers.js';

interface DeviceJson { id: string; name: string; serial?: string; state: string; platform: string; ownership: string; osVersion?: string; posture?: { appliedConfigVersion?: string } }
interface ComplianceJson { deviceId: string; status: string; failures: Array<{ policy: string; rule: string; expected: string; actual: string }> }

describe('android: the story through the CLI, a real server and the fake Google', () => {
  let fake: FakeAmapi;
  let work: { path: string; cleanup: () => void };
  let server: ServerProcess;
  let env: Record<string, string>;
  let repo: string;
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, { cwd: repo, env, input });
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await cli([...args, '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const AUDIENCE = 'https://emmctl.example.com/v1/android/pubsub';
  let qrPayload: string;
  let good: string;
  let bad: string;
  let serials: Map<string, string>;

  beforeAll(async () => {
    fake = await startFakeAmapi({ seed: 9 });
    work = tempDir('emmctl-android-story-');
    repo = join(work.path, 'repo');
    mkdirSync(join(repo, 'policies'), { recursive: true });
    writeFileSync(join(repo, 'policies', 'android.yaml'), ANDROID_REPO);
    const data = join(work.path, 'data');
    const token = await createApiToken(data, 'admin', 'story-admin');
    server = await startServerProcess(data, [...androidServerArgs(fake), '--pubsub-audience', AUDIENCE, '--pubsub-service-account', fake.push.email, '--pubsub-subscription', fake.push.subscription, '--google-certs-url', fake.certsUrl]);
    fake.push.to(`${server.url}/v1/android/pubsub`, AUDIENCE);
    env = { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token, WIFI_PSK };
  });
  afterEach(() => {
    expect(fake.schemaErrors).toEqual([]);
  });
  afterAll(async () => {
    await server?.stop();
    killAll();
    await fake?.close();
    work?.cleanup();
  });

  it('says the server has the Android channel', async () => {
    const r = await runCli(['devices', 'list'], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    const who = await fetch(`${server.url}/v1/whoami`, { headers: { authorization: `Bearer ${env.EMMCTL_TOKEN}` } });
    expect(await who.json()).toMatchObject({ channels: ['android'] });
    expect(server.stderr()).toContain(`Android enterprise ${fake.enterprise}`);
  });

  it('applies the policies and makes an enrollment token with Google\'s QR payload', async () => {
    const applied = await cli(['apply', '--yes']);
    expect(applied.code, applied.stderr).toBe(0);
    const created = await json<{ id: string; secret: string; android: { qrCode: string; tokenName: string; expiresAt: string } }>(['enroll', 'token', 'create', '--profile', 'android-corp', '--qr']);
    expect(created.android.tokenName).toMatch(new RegExp(`^${fake.enterprise}/enrollmentTokens/`));
    qrPayload = created.android.qrCode;
    const payload = JSON.parse(qrPayload) as Record<string, unknown>;
    expect(payload['android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME']).toBeDefined();
    // The token Google made carries the profile's initial policy, compiled for a fully managed device.
    const create = fake.requests.find((r) => r.call === 'enterprises.enrollmentTokens.create');
    expect(create?.body).toMatchObject({ policyName: expect.stringMatching(new RegExp(`^${fake.enterprise}/policies/emmctl-r1-fm-[0-9a-f]{16}$`)), oneTimeOnly: false, allowPersonalUsage: 'PERSONAL_USAGE_DISALLOWED' });
    expect(JSON.parse(String((create!.body as { additionalData: string }).additionalData))).toEqual({ emmctl: { token: created.id, profile: 'android-corp' } });
    // That policy was published first, with the Wi-Fi key from the stored secret in its body.
    const patch = fake.requests.find((r) => r.call === 'enterprises.policies.patch' && r.path.endsWith((create!.body as { policyName: string }).policyName.split('/').pop()!));
    expect(patch?.body).toMatchObject({ cameraAccess: 'CAMERA_ACCESS_DISABLED', encryptionPolicy: 'ENABLED_WITHOUT_PASSWORD', playStoreMode: 'BLACKLIST' });
    expect(JSON.stringify(patch!.body)).toContain(WIFI_PSK);
    // -o json carried the QR payload; it holds Google's token value, which the server never logs.
    expect(tokenValue(qrPayload)).toMatch(/./);
  });

  it('takes the devices that provision with the token into the fleet, with their posture', async () => {
    const value = tokenValue(qrPayload);
    good = await fake.devices.enroll(value, { serial: 'R58N00000001', androidVersion: '14' });
    bad = await fake.devices.enroll(value, { serial: 'R58N00000002', androidVersion: '14', compliant: false });
    const more = await fake.devices.enrollMany(value, 3);
    serials = new Map([good, bad, ...more].map((n) => [n, String((fake.devices.get(n)!.hardwareInfo as { serialNumber: string }).serialNumber)]));
    // Taken in from the enrollment push or the device listing, whichever comes first; the posture
    // may come with a status report after that, so both are waited for.
    const devices = await waitFor('five Android devices enrolled, with their posture', async () => {
      const list = await json<DeviceJson[]>(['devices', 'list']);
      const android = list.filter((d) => d.platform === 'android' && d.state === 'enrolled');
      return android.length === 5 && android.every((d) => /^\d+/.test(String(d.osVersion))) ? list : undefined;
    });
    expect(devices.map((d) => d.serial).sort()).toEqual([...serials.values()].sort());
    for (const d of devices) expect(d).toMatchObject({ ownership: 'corporate', osVersion: expect.stringMatching(/^\d+/) });
    const tokens = await json<Array<{ id: string; uses: number }>>(['enroll', 'token', 'list']);
    expect(tokens[0]!.uses).toBe(5);
  });

  it('shows compliance with reasons, Google\'s own non-compliance among them', async () => {
    const badId = await deviceIdOf(bad);
    const records = await waitFor('the failing device judged', async () => {
      const r = await json<ComplianceJson[]>(['compliance']);
      return r.find((x) => x.deviceId === badId)?.status === 'noncompliant' ? r : undefined;
    });
    const failing = records.find((x) => x.deviceId === badId)!;
    expect(failing.failures.map((f) => f.rule)).toEqual(expect.arrayContaining(['encryption', 'passcode', 'androidPolicy']));
    expect(failing.failures.find((f) => f.rule === 'androidPolicy')).toMatchObject({ expected: expect.stringContaining('AMAPI'), actual: expect.stringMatching(/^not applied: /) });
    const goodRow = records.find((x) => x.deviceId === (devicesBySerial.get(serials.get(good)!)))!;
    expect(goodRow.status).toBe('compliant');
    const gate = await cli(['compliance', '--fail-on', 'noncompliant']);
    expect(gate.code).toBe(5);
  });

  it('locks the failing device exactly once through Google, and follows the operation to acknowledged', async () => {
    const badId = await deviceIdOf(bad);
    const lock = await waitFor('the escalation\'s lock acknowledged', async () => {
      const cmds = await json<Array<{ id: string; type: string; status: string }>>(['commands', 'list', '--device', badId]);
      fake.devices.report(bad);
      return cmds.find((c) => c.type === 'lock' && c.status === 'acknowledged');
    });
    expect(lock).toBeDefined();
    expect(fake.devices.executed(bad).filter((e) => e.type === 'LOCK')).toHaveLength(1);
    // More ticks, more reports: still one LOCK sent and carried out.
    fake.devices.report();
    await passes(fake, 3);
    expect(issued(bad, 'LOCK')).toBe(1);
    expect(fake.devices.executed(bad).filter((e) => e.type === 'LOCK')).toHaveLength(1);
    // The compliant devices were never locked.
    expect(issued(good, 'LOCK')).toBe(0);
  });

  it('moves the devices to a new AMAPI policy when their configuration changes', async () => {
    const before = String(fake.devices.get(good)!.policyName);
    writeFileSync(join(repo, 'policies', 'android.yaml'), ANDROID_REPO.replace('camera: disabled', 'camera: enabled'));
    const applied = await cli(['apply', '--yes']);
    expect(applied.code, applied.stderr).toBe(0);
    const after = await waitFor('the devices moved', async () => {
      const names = [...serials.keys()].map((n) => String(fake.devices.get(n)?.policyName));
      return names.every((p) => p !== before) && new Set(names).size === 1 ? names[0] : undefined;
    });
    expect(after).toMatch(/emmctl-r1-fm-[0-9a-f]{16}$/);
    const patched = fake.requests.filter((r) => r.call === 'enterprises.policies.patch' && r.path.endsWith(after.split('/').pop()!));
    expect(patched).toHaveLength(1);
    expect(patched[0]!.body).toMatchObject({ cameraAccess: 'CAMERA_ACCESS_USER_CHOICE' });
    // The device applies it and reports the configuration version it applied.
    fake.devices.report(good);
    const goodId = await deviceIdOf(good);
    await waitFor('the applied version reported', async () => {
      const shown = await cli(['devices', 'show', goodId]);
      return /applied by the device/.test(shown.stdout) ? true : undefined;
    });
  });

  it('wipes a device through devices.delete, and the device is wiped in emmctl', async () => {
    const id = await deviceIdOf(bad);
    const queued = await json<Array<{ commandId: string; outcome: string }>>(['wipe', id, '--reason', 'reported stolen', '--yes']);
    expect(queued).toEqual([expect.objectContaining({ outcome: 'queued' })]);
    const device = await waitFor('the device wiped', async () => {
      const d = await json<DeviceJson>(['devices', 'show', id]);
      return d.state === 'wiped' ? d : undefined;
    });
    expect(device.state).toBe('wiped');
    expect(fake.requests.filter((r) => r.method === 'DELETE' && r.path.endsWith(bad))).toHaveLength(1);
    expect(fake.devices.get(bad)).toBeUndefined();
    const command = await json<{ status: string; type: string }>(['commands', 'show', queued[0]!.commandId]);
    expect(command).toMatchObject({ type: 'wipe', status: 'acknowledged' });
  });

  it('tells it all in the audit log, and no secret reached a log', async () => {
    const audit = await json<Array<{ action: string; target: string; actor: string; detail?: Record<string, unknown> }>>(['audit', '--since', '1h']);
    const actions = audit.map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['apply', 'token.create', 'enroll', 'command.lock', 'command.wipe', 'command.result', 'device.wiped']));
    expect(audit.filter((a) => a.action === 'enroll')).toHaveLength(5);
    for (const e of audit.filter((a) => a.action === 'enroll')) expect(e.detail).toMatchObject({ channel: 'android', profile: 'android-corp' });
    const logs = server.stderr();
    expect(logs).not.toContain(WIFI_PSK);
    expect(logs).not.toContain(tokenValue(qrPayload));
    expect(JSON.stringify(audit)).not.toContain(WIFI_PSK);
    expect(JSON.stringify(audit)).not.toContain(tokenValue(qrPayload));
  });

  it('took Google\'s pushes, and refuses a push whose OIDC token is for another audience', async () => {
    await fake.push.flush();
    const taken = fake.push.deliveries.filter((d) => d.status === 204);
    expect(taken.map((d) => d.type)).toEqual(expect.arrayContaining(['ENROLLMENT', 'STATUS_REPORT', 'COMMAND']));
    expect(fake.push.deliveries.filter((d) => d.status !== 204)).toEqual([]);
    fake.push.to(`${server.url}/v1/android/pubsub`, 'https://elsewhere.example.com/push');
    const before = fake.push.deliveries.length;
    fake.devices.report(good);
    await fake.push.flush();
    const refused = fake.push.deliveries.slice(before);
    expect(refused.length).toBeGreaterThan(0);
    for (const d of refused) expect(d.status).toBe(401);
  });

  const devicesBySerial = new Map<string, string>();
  async function deviceIdOf(name: string): Promise<string> {
    const serial = serials.get(name)!;
    if (!devicesBySerial.has(serial)) {
      for (const d of await json<DeviceJson[]>(['devices', 'list'])) if (d.serial) devicesBySerial.set(d.serial, d.id);
    }
    const id = devicesBySerial.get(serial);
    if (!id) throw new Error(`no emmctl device has serial ${serial}`);
    return id;
  }
  function issued(device: string, type: string): number {
    return fake.requests.filter((r) => r.call === 'enterprises.devices.issueCommand' && r.path.includes(device) && (r.body as { type?: string } | undefined)?.type === type).length;
  }
});
