// The device agent API end to end: enrollment tokens (expiry, max uses, revocation), the command
// lifecycle queued → sent → acknowledged, idempotent enqueueing, and wipe revoking the credential.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { call, checkIn, createToken, enroll, enrollBody, enrollmentToken, killAll, POSTURE, seedResources, startServerProcess, type ServerProcess } from './helpers.js';

const dir = tempDir('emmctl-server-agent-');
let server: ServerProcess;
let base: string;
let admin: string;
let operator: string;

beforeAll(async () => {
  admin = await createToken(dir.path, 'admin');
  operator = await createToken(dir.path, 'operator');
  server = await startServerProcess(dir.path);
  base = server.url;
  await seedResources(base, admin);
});

afterAll(async () => {
  if (server) await server.stop();
  killAll();
  dir.cleanup();
});

describe('enrollment', () => {
  it('enrolls with a valid token and returns a device id and a credential', async () => {
    const et = await enrollmentToken(base, operator);
    const r = await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody(et.secret) });
    expect(r.status).toBe(200);
    expect(r.body.deviceId).toEqual(expect.any(String));
    expect(r.body.credential).toEqual(expect.any(String));
    expect(r.body.checkInIntervalSeconds).toBeGreaterThan(0);
    const dev = await call(base, 'GET', `/v1/devices/${r.body.deviceId}`, { token: operator });
    expect(dev.status).toBe(200);
    expect(dev.body).toMatchObject({ id: r.body.deviceId, platform: 'android', state: 'enrolled', profile: 'corp-phones' });
  });

  it('honours max uses', async () => {
    const et = await enrollmentToken(base, operator, { maxUses: 2 });
    await enroll(base, et.secret);
    await enroll(base, et.secret);
    const third = await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody(et.secret) });
    expect(third.status).toBe(401);
    expect(third.body.error.code).toBe('unauthorized');
    const listed = await call(base, 'GET', '/v1/enrollment-tokens', { token: operator });
    expect(listed.body.items.find((t: { id: string }) => t.id === et.id)).toMatchObject({ uses: 2, maxUses: 2 });
  });

  it('honours expiry', async () => {
    const et = await enrollmentToken(base, operator, { expiresInSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    const late = await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody(et.secret) });
    expect(late.status).toBe(401);
  });

  it('refuses a revoked token, an unknown token and a platform the profile does not allow', async () => {
    const et = await enrollmentToken(base, operator);
    const revoked = await call(base, 'POST', `/v1/enrollment-tokens/${et.id}/revoke`, { token: operator });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked).toBe(true);
    expect((await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody(et.secret) })).status).toBe(401);
    expect((await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody('emm_et_nope') })).status).toBe(401);
    const fresh = await enrollmentToken(base, operator);
    const windows = await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody(fresh.secret, { platform: 'windows' }) });
    expect(windows.status).toBe(400);
    expect(windows.body.error.code).toBe('invalid');
  });

  it('rejects an enrollment body missing fields, naming the field', async () => {
    const r = await call(base, 'POST', '/v1/agent/enroll', { body: { token: 'x', platform: 'android' } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('body.serial is required');
  });

  it('answers 404 for an unknown enrollment profile', async () => {
    const r = await call(base, 'POST', '/v1/enrollment-tokens', { token: operator, body: { profile: 'nope' } });
    expect(r.status).toBe(404);
  });
});

describe('command lifecycle over the agent API', () => {
  it('queues a lock, hands it to the device at check-in as sent, and records the result', async () => {
    const et = await enrollmentToken(base, operator);
    const dev = await enroll(base, et.secret);
    const first = await checkIn(base, dev.credential);
    expect(first.status).toBe(200);
    expect(first.body.commands).toEqual([]);
    expect(first.body.configuration).toMatchObject({ version: expect.any(String), settings: expect.any(Object) });

    const queued = await call(base, 'POST', '/v1/commands', {
      token: operator,
      headers: { 'idempotency-key': 'lock-1' },
      body: { deviceIds: [dev.deviceId], type: 'lock', reason: 'lost phone' },
    });
    expect(queued.status).toBe(200);
    const command = queued.body.results[0].command;
    expect(command).toMatchObject({ deviceId: dev.deviceId, type: 'lock', status: 'queued', requestedBy: 'operator-test' });

    const second = await checkIn(base, dev.credential);
    expect(second.body.commands).toEqual([expect.objectContaining({ id: command.id, type: 'lock', reason: 'lost phone' })]);
    expect((await call(base, 'GET', `/v1/commands/${command.id}`, { token: operator })).body.status).toBe('sent');
    // A sent command goes out again until the device reports it: a lost response loses nothing.
    expect((await checkIn(base, dev.credential)).body.commands.map((c: { id: string }) => c.id)).toEqual([command.id]);

    const result = await call(base, 'POST', `/v1/agent/commands/${command.id}/result`, { device: dev.credential, body: { status: 'acknowledged' } });
    expect(result.status).toBe(204);
    expect(result.body).toBeUndefined();
    expect((await call(base, 'GET', `/v1/commands/${command.id}`, { token: operator })).body.status).toBe('acknowledged');

    const listed = await call(base, 'GET', `/v1/commands?deviceId=${dev.deviceId}&status=acknowledged`, { token: operator });
    expect(listed.body.items.map((c: { id: string }) => c.id)).toEqual([command.id]);

    // The result is audited as the device, from the address it called from.
    const audit = await call(base, 'GET', `/v1/audit?actor=device:${dev.deviceId}&limit=1000`, { token: operator });
    const resultRecord = audit.body.items.find((a: { action: string; target: string }) => a.action === 'command.result' && a.target === `command/${command.id}`);
    expect(resultRecord).toMatchObject({ actor: `device:${dev.deviceId}`, source: '127.0.0.1' });
  });

  it('does not let one device report on another device\'s command', async () => {
    const et = await enrollmentToken(base, operator);
    const a = await enroll(base, et.secret);
    const b = await enroll(base, et.secret);
    const queued = await call(base, 'POST', '/v1/commands', { token: operator, headers: { 'idempotency-key': 'reboot-a' }, body: { deviceIds: [a.deviceId], type: 'reboot' } });
    const id = queued.body.results[0].command.id;
    await checkIn(base, a.credential);
    const r = await call(base, 'POST', `/v1/agent/commands/${id}/result`, { device: b.credential, body: { status: 'acknowledged' } });
    expect(r.status).toBe(404);
    expect((await call(base, 'GET', `/v1/commands/${id}`, { token: operator })).body.status).toBe('sent');
  });

  it('replays an enqueue with the same Idempotency-Key instead of queueing again', async () => {
    const et = await enrollmentToken(base, operator);
    const dev = await enroll(base, et.secret);
    const request = { token: operator, headers: { 'idempotency-key': 'retry-me' }, body: { deviceIds: [dev.deviceId], type: 'reboot' } };
    const one = await call(base, 'POST', '/v1/commands', request);
    const two = await call(base, 'POST', '/v1/commands', request);
    expect(one.status).toBe(200);
    expect(two.status).toBe(200);
    expect(two.body).toEqual(one.body);
    const listed = await call(base, 'GET', `/v1/commands?deviceId=${dev.deviceId}`, { token: operator });
    expect(listed.body.items).toHaveLength(1);
    // The same key for a different request is a client bug: 409, nothing queued.
    const reused = await call(base, 'POST', '/v1/commands', { ...request, body: { deviceIds: [dev.deviceId], type: 'lock' } });
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('conflict');
    expect(reused.body.error.message).toContain('idempotency key "retry-me" was already used for a different request');
    // Keys belong to one API token: another token's identical key is a new request.
    const other = await call(base, 'POST', '/v1/commands', { ...request, token: admin });
    expect(other.status).toBe(200);
    expect(other.body.results[0].outcome).toBe('pending');
    expect((await call(base, 'GET', `/v1/commands?deviceId=${dev.deviceId}`, { token: operator })).body.items).toHaveLength(1);
  });

  it('cancels a queued command', async () => {
    const et = await enrollmentToken(base, operator);
    const dev = await enroll(base, et.secret);
    const queued = await call(base, 'POST', '/v1/commands', { token: operator, headers: { 'idempotency-key': 'cancel-me' }, body: { deviceIds: [dev.deviceId], type: 'lock' } });
    const id = queued.body.results[0].command.id;
    const cancelled = await call(base, 'POST', `/v1/commands/${id}/cancel`, { token: operator });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await checkIn(base, dev.credential)).body.commands).toEqual([]);
    expect((await call(base, 'GET', '/v1/commands/cmd_nope', { token: operator })).status).toBe(404);
  });

  it('revokes the credential of a wiped device', async () => {
    const et = await enrollmentToken(base, operator);
    const dev = await enroll(base, et.secret);
    const queued = await call(base, 'POST', '/v1/commands', { token: admin, headers: { 'idempotency-key': 'wipe-1' }, body: { deviceIds: [dev.deviceId], type: 'wipe', reason: 'stolen' } });
    const id = queued.body.results[0].command.id;
    const got = await checkIn(base, dev.credential);
    expect(got.body.commands.map((c: { id: string }) => c.id)).toEqual([id]);
    expect((await call(base, 'POST', `/v1/agent/commands/${id}/result`, { device: dev.credential, body: { status: 'acknowledged' } })).status).toBe(204);
    expect((await checkIn(base, dev.credential)).status).toBe(401);
    expect((await call(base, 'GET', `/v1/devices/${dev.deviceId}`, { token: operator })).body.state).toBe('wiped');
  });

  it('rejects a check-in with a malformed posture, naming the field', async () => {
    const et = await enrollmentToken(base, operator);
    const dev = await enroll(base, et.secret);
    const r = await call(base, 'POST', '/v1/agent/checkin', { device: dev.credential, body: { posture: { osVersion: '14', encrypted: 'yes' } } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('body.posture.encrypted must be true or false');
  });

  // The server serialises a configuration once per resource snapshot and group set (jsonOf in
  // src/server/router.ts): every apply must still reach the next check-in, and a device outside
  // the policy's groups must never get another device's cached configuration.
  it('sends the configuration of the resources as they are now, after every apply, to each device by its groups', async () => {
    const et = await enrollmentToken(base, operator);
    const [a, b, outside] = [await enroll(base, et.secret), await enroll(base, et.secret), await enroll(base, et.secret)];
    const policy = (camera: string) => ({ apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name: 'camera-cache' }, spec: { assign: ['camera-cache'], settings: { camera } } });
    const applied = async (change: Record<string, unknown>) => {
      const r = await call(base, 'POST', '/v1/resources/apply', { token: admin, body: { changes: [change] } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    };
    const configOf = async (dev: { credential: string }) => {
      const r = await call(base, 'POST', '/v1/agent/checkin', { device: dev.credential, body: { posture: POSTURE } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(Object.keys(r.body).sort()).toEqual(['checkInIntervalSeconds', 'commands', 'configuration', 'deviceId']);
      return r.body.configuration as { version: string; settings: Record<string, unknown> };
    };
    const stored = async () => ((await call(base, 'GET', '/v1/resources?kind=Policy', { token: admin })).body.items as Array<{ name: string; version: number }>).find((r) => r.name === 'camera-cache')!.version;

    const group = { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'camera-cache' }, spec: { devices: [a.deviceId, b.deviceId] } };
    await applied({ op: 'create', kind: 'Group', name: 'camera-cache', document: group });
    await applied({ op: 'create', kind: 'Policy', name: 'camera-cache', document: policy('disabled') });
    const first = await configOf(a);
    expect(first.settings.camera).toBe('disabled');
    expect(await configOf(b)).toEqual(first);
    expect(await configOf(a)).toEqual(first);
    expect((await configOf(outside)).settings.camera).toBeUndefined();

    await applied({ op: 'update', kind: 'Policy', name: 'camera-cache', expectedVersion: await stored(), document: policy('enabled') });
    const second = await configOf(a);
    expect(second.settings.camera).toBe('enabled');
    expect(second.version).not.toBe(first.version);
    expect(await configOf(b)).toEqual(second);

    await applied({ op: 'delete', kind: 'Policy', name: 'camera-cache', expectedVersion: await stored() });
    const third = await configOf(b);
    expect(third.settings.camera).toBeUndefined();
    expect([first.version, second.version]).not.toContain(third.version);
  });
});

describe('device queries', () => {
  it('filters, pages and rejects a bad filter with 400', async () => {
    const all = await call(base, 'GET', '/v1/devices?filter=platform%3Dandroid&limit=2', { token: operator });
    expect(all.status).toBe(200);
    expect(all.body.items).toHaveLength(2);
    expect(all.body.nextCursor).toEqual(expect.any(String));
    const next = await call(base, 'GET', `/v1/devices?filter=platform%3Dandroid&limit=2&cursor=${encodeURIComponent(all.body.nextCursor)}`, { token: operator });
    expect(next.status).toBe(200);
    expect(next.body.items[0].id).not.toBe(all.body.items[0].id);
    const none = await call(base, 'GET', '/v1/devices?filter=platform%3Dios', { token: operator });
    expect(none.body.items).toEqual([]);
    const bad = await call(base, 'GET', '/v1/devices?filter=colour%3Dred', { token: operator });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('unknown filter field "colour"');
    expect(bad.body.error.hint).toContain('fields: id, name, serial, platform');
    const typo = await call(base, 'GET', '/v1/devices?filters=platform%3Dandroid', { token: operator });
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toContain('unknown query parameter "filters"');
    const compliance = await call(base, 'GET', '/v1/compliance?limit=5', { token: operator });
    expect(compliance.status).toBe(200);
    expect(compliance.body.items.length).toBeGreaterThan(0);
  });

  it('preregisters devices and counts created vs updated', async () => {
    const rows = [{ serial: 'PRE-1', platform: 'ios', owner: 'bo@example.com' }, { serial: 'PRE-2', platform: 'android', labels: { team: 'sales' } }];
    const first = await call(base, 'POST', '/v1/devices/preregister', { token: operator, body: { devices: rows } });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ created: 2, updated: 0 });
    const again = await call(base, 'POST', '/v1/devices/preregister', { token: operator, body: { devices: rows } });
    expect(again.body).toEqual({ created: 0, updated: 2 });
  });
});
