// Every field a device sends has a documented bound (src/agent/limits.ts, docs/api.md): past it
// the real server answers 400 naming the field and stores nothing. And listing cursors stay
// small whatever the data: a 13 KB name at a page boundary (a store written before the limits)
// gives a cursor of a few dozen bytes that still continues the listing exactly.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_LIMITS } from '../../src/model/device-limits.js';
import { DB_FILE } from '../../src/store/sqlite/files.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { call, checkIn, createToken, enroll, enrollBody, enrollmentToken, killAll, POSTURE, seedResources, startServerProcess, type ServerProcess } from './helpers.js';

const dir = tempDir('emmctl-server-limits-');
let server: ServerProcess;
let base: string;
let admin: string;
let secret: string;

beforeAll(async () => {
  admin = await createToken(dir.path, 'admin');
  server = await startServerProcess(dir.path, ['--no-access-log', '--enroll-rate-limit', 'off', '--device-rate-limit', 'off']);
  base = server.url;
  await seedResources(base, admin);
  secret = (await enrollmentToken(base, admin)).secret;
});
afterAll(async () => {
  if (server) await server.stop();
  killAll();
  dir.cleanup();
});

const long = (n: number) => 'x'.repeat(n);

describe('enrollment fields', () => {
  it.each(['serial', 'name', 'model', 'owner', 'osVersion', 'token'] as const)('%s: one character over its limit is 400 naming the field, and nothing is enrolled', async (field) => {
    const max = DEVICE_LIMITS[field];
    const body = enrollBody(secret, { [field]: long(max + 1) });
    const r = await call(base, 'POST', '/v1/agent/enroll', { body });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'invalid', message: `body.${field} is too long: ${max + 1} characters, at most ${max}` });
    const listed = await call(base, 'GET', `/v1/devices?filter=${encodeURIComponent(`serial=${String(body.serial)}`)}`, { token: admin });
    expect(listed.body.items).toEqual([]);
  });

  it('refuses a 1 MB-class name (400, not stored) and takes a name at the limit counted in characters, not UTF-16 units', async () => {
    const big = await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody(secret, { name: long(900_000) }) });
    expect(big.status).toBe(400);
    expect(big.body.error.message).toMatch(/^body\.name is too long: 900000 characters, at most 128$/);
    const emoji = '📱'.repeat(DEVICE_LIMITS.name);
    const ok = await enroll(base, secret, { name: emoji });
    expect((await call(base, 'GET', `/v1/devices/${ok.deviceId}`, { token: admin })).body.name).toBe(emoji);
  });
});

describe('check-in and command result fields', () => {
  let device: { deviceId: string; credential: string };
  beforeAll(async () => {
    device = await enroll(base, secret);
    expect((await checkIn(base, device.credential)).status).toBe(200);
  });

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['osVersion', { osVersion: long(DEVICE_LIMITS.osVersion + 1) }, /^body\.posture\.osVersion is too long: 65 characters, at most 64$/],
    ['model', { model: long(DEVICE_LIMITS.model + 1) }, /^body\.posture\.model is too long/],
    ['serial', { serial: long(DEVICE_LIMITS.serial + 1) }, /^body\.posture\.serial is too long/],
    ['appliedConfigVersion', { appliedConfigVersion: long(DEVICE_LIMITS.appliedConfigVersion + 1) }, /^body\.posture\.appliedConfigVersion is too long/],
    ['installedApps count', { installedApps: Array.from({ length: DEVICE_LIMITS.installedApps + 1 }, (_, i) => `com.app${i}`) }, /^body\.posture\.installedApps has 2001 entries, at most 2000$/],
    ['an app id', { installedApps: ['com.a', 'com.b', long(DEVICE_LIMITS.appId + 1)] }, /^body\.posture\.installedApps\[2\] is too long: 256 characters, at most 255$/],
  ];
  it.each(cases)('%s over its limit is 400 naming the field, and the stored posture is unchanged', async (_what, change, message) => {
    const r = await checkIn(base, device.credential, { ...POSTURE, ...change });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(message);
    const stored = (await call(base, 'GET', `/v1/devices/${device.deviceId}`, { token: admin })).body.posture;
    expect(stored).toEqual(POSTURE);
  });

  it('takes the largest allowed app list', async () => {
    const apps = Array.from({ length: DEVICE_LIMITS.installedApps }, (_, i) => `com.example.app${i}`);
    expect((await checkIn(base, device.credential, { ...POSTURE, installedApps: apps })).status).toBe(200);
  });

  it('a command result detail over its limit is 400 and the command stays open', async () => {
    const queued = await call(base, 'POST', '/v1/commands', { token: admin, headers: { 'idempotency-key': 'limits-1' }, body: { deviceIds: [device.deviceId], type: 'reboot' } });
    const id = queued.body.results[0].command.id as string;
    await checkIn(base, device.credential);
    const r = await call(base, 'POST', `/v1/agent/commands/${id}/result`, { device: device.credential, body: { status: 'failed', detail: long(DEVICE_LIMITS.detail + 1) } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^body\.detail is too long: 1025 characters, at most 1024$/);
    expect((await call(base, 'GET', `/v1/commands/${id}`, { token: admin })).body.status).toBe('sent');
  });

  it('declares every bound in the OpenAPI document', async () => {
    const doc = (await call(base, 'GET', '/v1/openapi.json')).body;
    const enrollProps = doc.components.schemas.EnrollRequest.properties;
    for (const f of ['token', 'serial', 'name', 'model', 'owner', 'osVersion'] as const) expect(enrollProps[f].maxLength, f).toBe(DEVICE_LIMITS[f]);
    expect(doc.components.schemas.Posture.properties.installedApps).toMatchObject({ maxItems: DEVICE_LIMITS.installedApps, items: { maxLength: DEVICE_LIMITS.appId } });
  });
});

describe('listing cursors', () => {
  it('stay small when the device at a page boundary has a 13 KB name, and continue the listing exactly', async () => {
    for (const name of ['aaa-1', 'zzz-1']) await enroll(base, secret, { name });
    const planted = await enroll(base, secret, { name: 'mmm-long' });
    // A store written before the limits: the long name is already in it.
    const db = new Database(join(dir.path, DB_FILE));
    db.prepare('UPDATE devices SET name = ? WHERE id = ?').run(`mmm-${'n'.repeat(13_000)}`, planted.deviceId);
    db.close();

    const all = (await call(base, 'GET', '/v1/devices?sort=name&limit=1000', { token: admin })).body.items.map((d: { id: string }) => d.id);
    const at = all.indexOf(planted.deviceId);
    expect(at).toBeGreaterThan(0);
    const seen: string[] = [];
    let cursor: string | undefined;
    const sizes: number[] = [];
    do {
      const r = await call(base, 'GET', `/v1/devices?sort=name&limit=${cursor ? 1000 : at + 1}${cursor ? `&cursor=${cursor}` : ''}`, { token: admin });
      expect(r.status, String(JSON.stringify(r.body)).slice(0, 300)).toBe(200);
      seen.push(...r.body.items.map((d: { id: string }) => d.id));
      cursor = r.body.nextCursor;
      if (cursor) sizes.push(cursor.length);
    } while (cursor);
    expect(sizes).toHaveLength(1);
    expect(sizes[0]).toBeLessThan(200);
    expect(seen).toEqual(all);

    // The CLI lists the same store through the server without a header overflow.
    const cli = await runCli(['devices', 'list', '--sort', 'name', '-o', 'json'], { env: { EMMCTL_SERVER: base, EMMCTL_TOKEN: admin, HOME: dir.path } });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).map((d: { id: string }) => d.id)).toEqual(all);
  });
});
