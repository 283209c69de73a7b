// Device takeover by re-enrollment, through the real server's agent API: an enrollment with the
// serial of an enrolled device is refused (409) whatever the token's profile, and the device
// keeps its record, credential, pending commands and ownership; every refusal is audited. Only
// an admin's release (`emmctl devices release`) lets the next enrollment take the record over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { call, checkIn, createToken, killAll, startServerProcess, type ServerProcess } from './helpers.js';

const dir = tempDir('emmctl-server-takeover-');
let server: ServerProcess;
let base: string;
let admin: string;
let operator: string;

const profile = (name: string, ownership: 'corporate' | 'personal', platforms: string[]) => ({
  op: 'create', kind: 'EnrollmentProfile', name, document: { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name }, spec: { platforms, ownership } },
});

async function tokenFor(name: string): Promise<string> {
  const r = await call(base, 'POST', '/v1/enrollment-tokens', { token: operator, body: { profile: name } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.secret as string;
}

const enroll = (body: Record<string, unknown>) => call(base, 'POST', '/v1/agent/enroll', { body: { platform: 'android', osVersion: '14', ...body } });
const audit = async () => (await call(base, 'GET', '/v1/audit?limit=1000', { token: admin })).body.items as Array<{ action: string; actor: string; source: string; target: string; detail?: Record<string, unknown> }>;
const cli = (token: string, ...args: string[]) => runCli(args, { env: { EMMCTL_SERVER: base, EMMCTL_TOKEN: token, HOME: dir.path } });

beforeAll(async () => {
  admin = await createToken(dir.path, 'admin');
  operator = await createToken(dir.path, 'operator');
  server = await startServerProcess(dir.path, ['--no-access-log']);
  base = server.url;
  const r = await call(base, 'POST', '/v1/resources/apply', {
    token: admin,
    body: { changes: [profile('corp', 'corporate', ['android', 'ios']), profile('byod', 'personal', ['android']), profile('apple', 'corporate', ['ios'])] },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
});

afterAll(async () => {
  if (server) await server.stop();
  killAll();
  dir.cleanup();
});

describe('enrollment with the serial of an enrolled device', () => {
  let victim: { deviceId: string; credential: string };
  let lockId: string;

  beforeAll(async () => {
    const r = await enroll({ token: await tokenFor('corp'), serial: 'VICTIM-1', owner: 'ana@example.com' });
    expect(r.status).toBe(200);
    victim = r.body;
    expect((await checkIn(base, victim.credential)).status).toBe(200);
    const lock = await call(base, 'POST', '/v1/commands', { token: operator, headers: { 'idempotency-key': 'takeover-lock' }, body: { deviceIds: [victim.deviceId], type: 'lock', reason: 'lost' } });
    lockId = lock.body.results[0].command.id;
  });

  it('is refused with 409 for a token of any profile, and no credential is handed out', async () => {
    for (const name of ['byod', 'corp']) {
      const r = await enroll({ token: await tokenFor(name), serial: 'VICTIM-1', ownership: 'personal', name: 'attacker' });
      expect(r.status, name).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'conflict', message: expect.stringMatching(/serial "VICTIM-1" belongs to an enrolled device/) });
      expect(r.body.credential).toBeUndefined();
      expect(JSON.stringify(r.body)).not.toContain(victim.deviceId);
    }
    const tokens = (await call(base, 'GET', '/v1/enrollment-tokens', { token: operator })).body.items as Array<{ profile: string; uses: number }>;
    expect(tokens.filter((t) => t.profile === 'byod').every((t) => t.uses === 0)).toBe(true);
  });

  it('leaves the device its credential, its pending lock and its ownership', async () => {
    const r = await checkIn(base, victim.credential);
    expect(r.status).toBe(200);
    expect(r.body.commands.map((c: { id: string }) => c.id)).toEqual([lockId]);
    expect((await call(base, 'POST', `/v1/agent/commands/${lockId}/result`, { device: victim.credential, body: { status: 'acknowledged' } })).status).toBe(204);
    const dev = (await call(base, 'GET', `/v1/devices/${victim.deviceId}`, { token: operator })).body;
    expect(dev).toMatchObject({ state: 'enrolled', ownership: 'corporate', profile: 'corp', name: 'android-VICTIM-1' });
    expect(dev.commands.find((c: { id: string }) => c.id === lockId)).toMatchObject({ status: 'acknowledged' });
    const same = (await call(base, 'GET', '/v1/devices?filter=serial%3DVICTIM-1', { token: operator })).body.items;
    expect(same).toHaveLength(1);
  });

  it('audits every refused attempt with the client address and the device it aimed at', async () => {
    const refused = (await audit()).filter((a) => a.action === 'enroll.refused' && a.target === `device/${victim.deviceId}`);
    expect(refused.map((a) => a.detail?.profile)).toEqual(['byod', 'corp']);
    expect(refused[0]).toMatchObject({ source: '127.0.0.1', actor: expect.stringMatching(/^enrollment-token:et_/), detail: { serial: 'VICTIM-1', reason: 'enrolled', state: 'enrolled' } });
  });

  it('is allowed once an admin released the device (CLI against the server); the new enrollment takes it over', async () => {
    const denied = await cli(operator, 'devices', 'release', victim.deviceId);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/admin/);
    const released = await cli(admin, 'devices', 'release', victim.deviceId, '--expires', '1h', '-o', 'json');
    expect(released.code, released.stderr).toBe(0);
    const device = JSON.parse(released.stdout);
    expect(device).toMatchObject({ id: victim.deviceId, state: 'enrolled' });
    expect(Date.parse(device.releasedUntil) - Date.now()).toBeGreaterThan(50 * 60_000);
    const pending = await call(base, 'POST', '/v1/commands', { token: operator, headers: { 'idempotency-key': 'takeover-reboot' }, body: { deviceIds: [victim.deviceId], type: 'reboot' } });
    const rebootId = pending.body.results[0].command.id as string;

    const again = await enroll({ token: await tokenFor('corp'), serial: 'VICTIM-1' });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.deviceId).toBe(victim.deviceId);
    expect((await checkIn(base, victim.credential)).status).toBe(401);
    const fresh = await checkIn(base, again.body.credential);
    expect(fresh.body.commands).toEqual([]);
    expect((await call(base, 'GET', `/v1/commands/${rebootId}`, { token: operator })).body).toMatchObject({ status: 'cancelled' });
    const actions = (await audit()).filter((a) => a.target === `device/${victim.deviceId}`).map((a) => a.action);
    expect(actions.slice(-3)).toEqual(['device.release', 'command.reboot', 'enroll']);
    // Spent: the next attempt is refused again.
    expect((await enroll({ token: await tokenFor('corp'), serial: 'VICTIM-1' })).status).toBe(409);
  });
});

describe('concurrent enrollments of one new serial', () => {
  it('exactly one gets the device; the others are refused and audited', async () => {
    const tokens = await Promise.all(['corp', 'byod', 'corp', 'byod', 'corp', 'byod', 'corp', 'byod'].map(tokenFor));
    const answers = await Promise.all(tokens.map((token, i) => enroll({ token, serial: 'RACE-1', name: `racer-${i}` })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
    const winner = answers.find((a) => a.status === 200)!.body;
    expect((await call(base, 'GET', '/v1/devices?filter=serial%3DRACE-1', { token: operator })).body.items.map((d: { id: string }) => d.id)).toEqual([winner.deviceId]);
    expect((await checkIn(base, winner.credential)).status).toBe(200);
    expect((await audit()).filter((a) => a.action === 'enroll.refused' && a.target === `device/${winner.deviceId}`)).toHaveLength(7);
  });
});

describe('enrollment with a pre-registered serial', () => {
  beforeAll(async () => {
    const r = await call(base, 'POST', '/v1/devices/preregister', { token: operator, body: { devices: [{ serial: 'PRE-1', platform: 'android', ownership: 'corporate', owner: 'bo@example.com' }] } });
    expect(r.status).toBe(200);
  });

  it('is refused for a profile of another ownership or platform, and audited', async () => {
    expect((await enroll({ token: await tokenFor('byod'), serial: 'PRE-1' })).status).toBe(409);
    const ios = await enroll({ token: await tokenFor('apple'), serial: 'PRE-1', platform: 'ios', osVersion: '17.4' });
    expect(ios.status).toBe(409);
    expect(ios.body.error.message).toMatch(/pre-registered for another platform or ownership/);
    const refused = (await audit()).filter((a) => a.action === 'enroll.refused' && a.detail?.serial === 'PRE-1');
    expect(refused.map((a) => a.detail?.reason)).toEqual(['preregistered-mismatch', 'preregistered-mismatch']);
    const pre = (await call(base, 'GET', '/v1/devices?filter=serial%3DPRE-1', { token: operator })).body.items[0];
    expect(pre).toMatchObject({ state: 'preregistered', ownership: 'corporate', platform: 'android' });
  });

  it('is claimed by a token whose profile matches its platform and ownership', async () => {
    const r = await enroll({ token: await tokenFor('corp'), serial: 'PRE-1', ownership: 'personal' });
    expect(r.status).toBe(200);
    const dev = (await call(base, 'GET', `/v1/devices/${r.body.deviceId}`, { token: operator })).body;
    expect(dev).toMatchObject({ state: 'enrolled', ownership: 'corporate', owner: 'bo@example.com', serial: 'PRE-1' });
  });
});

describe('ownership of a new device', () => {
  it('is the profile\'s, whatever the device claims; a differing claim is audited', async () => {
    const byod = await enroll({ token: await tokenFor('byod'), serial: 'CLAIMS-CORP-1', ownership: 'corporate' });
    expect(byod.status, JSON.stringify(byod.body)).toBe(200);
    const corp = await enroll({ token: await tokenFor('corp'), serial: 'CLAIMS-BYOD-1', ownership: 'personal' });
    expect(corp.status, JSON.stringify(corp.body)).toBe(200);
    const show = async (id: string) => (await call(base, 'GET', `/v1/devices/${id}`, { token: operator })).body as { ownership: string; profile: string };
    expect(await show(byod.body.deviceId)).toMatchObject({ ownership: 'personal', profile: 'byod' });
    expect(await show(corp.body.deviceId)).toMatchObject({ ownership: 'corporate', profile: 'corp' });
    const enrolled = (await audit()).filter((a) => a.action === 'enroll');
    expect(enrolled.find((a) => a.target === `device/${byod.body.deviceId}`)?.detail).toMatchObject({ claimedOwnership: 'corporate' });
    expect(enrolled.find((a) => a.target === `device/${corp.body.deviceId}`)?.detail).toMatchObject({ claimedOwnership: 'personal' });
  });
});
