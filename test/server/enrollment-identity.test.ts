// Issue 7 items 1/3/5/7, through the real server's HTTP API: a serial cannot pose as a device id
// (static groups hold both), pre-registration cannot rewrite an enrolled device, `__proto__` keys
// reach validation, and a claimed record takes its new profile's labels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { groupsForDevice } from '../../src/compliance/groups.js';
import type { Device } from '../../src/model/fleet.js';
import type { GroupDocument } from '../../src/model/policy.generated.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { call, checkIn, createToken, killAll, startServerProcess, type ServerProcess } from './helpers.js';

const dir = tempDir('emmctl-server-identity-');
let server: ServerProcess;
let base: string;
let admin: string;
let operator: string;

const doc = (kind: string, name: string, spec: Record<string, unknown>) => ({ op: 'create', kind, name, document: { apiVersion: 'emmctl/v1', kind, metadata: { name }, spec } });
const apply = (changes: unknown[]) => call(base, 'POST', '/v1/resources/apply', { token: admin, body: { changes } });
const enroll = (body: Record<string, unknown>) => call(base, 'POST', '/v1/agent/enroll', { body: { platform: 'android', osVersion: '14', ...body } });
const rawEnroll = (json: string) => call(base, 'POST', '/v1/agent/enroll', { raw: json });
const preregister = (devices: unknown[]) => call(base, 'POST', '/v1/devices/preregister', { token: operator, body: { devices } });
const device = async (id: string) => (await call(base, 'GET', `/v1/devices/${id}`, { token: admin })).body as Device;
const audit = async () => (await call(base, 'GET', '/v1/audit?limit=1000', { token: admin })).body.items as Array<{ action: string; detail?: Record<string, unknown> }>;
const cli = (...args: string[]) => runCli(args, { env: { EMMCTL_SERVER: base, EMMCTL_TOKEN: operator, HOME: dir.path } });

async function tokenFor(profile: string): Promise<string> {
  const r = await call(base, 'POST', '/v1/enrollment-tokens', { token: operator, body: { profile } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.secret as string;
}

let victim: { deviceId: string; credential: string };

beforeAll(async () => {
  admin = await createToken(dir.path, 'admin');
  operator = await createToken(dir.path, 'operator');
  server = await startServerProcess(dir.path, ['--no-access-log']);
  base = server.url;
  const r = await apply([
    doc('EnrollmentProfile', 'corp', { platforms: ['android', 'ios'], ownership: 'corporate', labels: { fleet: 'corp' } }),
    doc('EnrollmentProfile', 'byod', { platforms: ['android'], ownership: 'personal', labels: { fleet: 'byod', byod: 'yes' } }),
  ]);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  victim = (await enroll({ token: await tokenFor('corp'), serial: 'VICTIM-ID-1', owner: 'ana@example.com' })).body;
  const g = await apply([
    doc('Group', 'vip', { devices: [victim.deviceId] }),
    doc('Policy', 'vip-only', { assign: ['vip'], settings: { usbFileTransfer: 'disabled' } }),
  ]);
  expect(g.status, JSON.stringify(g.body)).toBe(200);
  expect((await checkIn(base, victim.credential)).body.configuration.settings.usbFileTransfer).toBe('disabled');
});

afterAll(async () => {
  if (server) await server.stop();
  killAll();
  dir.cleanup();
});

describe('F1: a serial cannot pose as a device id', () => {
  it('an enrollment whose serial is shaped like a device id is refused with 400 naming the field', async () => {
    const token = await tokenFor('corp');
    for (const serial of [victim.deviceId, victim.deviceId.toUpperCase(), 'dev_0000000000000000']) {
      const r = await enroll({ token, serial });
      expect(r.status, serial).toBe(400);
      expect(r.body.error.message).toContain('body.serial');
    }
  });

  it('serials with control characters (C0, C1, DEL, NUL) or a lone surrogate are refused at enrollment and pre-registration', async () => {
    const token = await tokenFor('corp');
    for (const escaped of ['A\\u0000B', 'A\\u001bB', 'A\\u007fB', 'A\\u0085B', 'A\\ud800B', 'A\\udc00']) {
      const r = await rawEnroll(`{"token":${JSON.stringify(token)},"platform":"android","osVersion":"14","serial":"${escaped}"}`);
      expect(r.status, escaped).toBe(400);
      expect(r.body.error.message).toContain('body.serial');
      const p = await call(base, 'POST', '/v1/devices/preregister', { token: operator, raw: `{"devices":[{"platform":"android","serial":"${escaped}"}]}` });
      expect(p.status, escaped).toBe(400);
      expect(p.body.error.message).toContain('serial');
    }
    const p = await preregister([{ platform: 'android', serial: victim.deviceId }]);
    expect(p.status).toBe(400);
    expect(p.body.error.message).toContain('body.devices[0].serial');
  });

  it("a new device enrolled under any serial gets nothing of the victim's static group", async () => {
    const other = (await enroll({ token: await tokenFor('corp'), serial: 'OTHER-1' })).body;
    expect((await checkIn(base, other.credential)).body.configuration.settings.usbFileTransfer).toBeUndefined();
  });

  it('a static-list entry shaped like a device id matches only that id, never a serial (records stored before the check)', () => {
    const group = { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'vip' }, spec: { devices: ['dev_00000000000000aa', 'SERIAL-7'] } } as unknown as GroupDocument;
    const dev = (id: string, serial: string) => ({ id, serial, name: 'x', platform: 'android', ownership: 'corporate', labels: {}, state: 'enrolled' }) as unknown as Device;
    expect(groupsForDevice(dev('dev_00000000000000aa', 'S1'), [group], [])).toContain('vip');
    expect(groupsForDevice(dev('dev_00000000000000bb', 'dev_00000000000000aa'), [group], [])).not.toContain('vip');
    expect(groupsForDevice(dev('dev_00000000000000cc', 'SERIAL-7'), [group], [])).toContain('vip');
  });
});

describe('F2: pre-registration never rewrites an enrolled device', () => {
  it('a row naming an enrolled serial refuses the whole request with 409 naming it; nothing changes; audited', async () => {
    const before = await device(victim.deviceId);
    const r = await preregister([
      { platform: 'android', serial: 'FRESH-1', name: 'fresh' },
      { platform: 'android', serial: 'VICTIM-ID-1', ownership: 'personal', owner: 'mallory@example.com', name: 'pwned', labels: { retire: 'now' } },
    ]);
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.message).toContain('"VICTIM-ID-1"');
    expect(r.body.error.message).not.toContain('FRESH-1');
    const after = await device(victim.deviceId);
    expect({ name: after.name, owner: after.owner, ownership: after.ownership, labels: after.labels }).toEqual({ name: before.name, owner: before.owner, ownership: before.ownership, labels: before.labels });
    const list = (await call(base, 'GET', '/v1/devices?filter=state%3Dpreregistered', { token: admin })).body.items as Device[];
    expect(list.map((d) => d.serial)).not.toContain('FRESH-1');
    const refused = (await audit()).filter((e) => e.action === 'device.preregister.refused');
    expect(refused.at(-1)?.detail?.serials).toEqual(['VICTIM-ID-1']);
  });

  it("a pre-registered record's platform is updated, not silently kept", async () => {
    expect((await preregister([{ platform: 'android', serial: 'PLAT-1' }])).body).toEqual({ created: 1, updated: 0 });
    expect((await preregister([{ platform: 'ios', serial: 'PLAT-1' }])).body).toEqual({ created: 0, updated: 1 });
    const list = (await call(base, 'GET', '/v1/devices?filter=state%3Dpreregistered', { token: admin })).body.items as Device[];
    expect(list.find((d) => d.serial === 'PLAT-1')?.platform).toBe('ios');
  });

  it("label keys follow the policy schema's pattern and cap (bad key!, __proto__, 65 labels)", async () => {
    const bad = await preregister([{ platform: 'android', serial: 'LBL-1', labels: { 'bad key!': 'x' } }]);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('bad key!');
    const proto = await call(base, 'POST', '/v1/devices/preregister', { token: operator, raw: '{"devices":[{"platform":"android","serial":"LBL-2","labels":{"__proto__":"x"}}]}' });
    expect(proto.status).toBe(400);
    expect(proto.body.error.message).toContain('__proto__');
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const cap = await preregister([{ platform: 'android', serial: 'LBL-3', labels: many }]);
    expect(cap.status).toBe(400);
    expect(cap.body.error.message).toContain('at most 64');
  });

  it('enroll import reports these per row', async () => {
    const file = join(dir.path, 'import.csv');
    writeFileSync(file, `serial,platform,labels\nOK-1,android,team=a\nBAD-1,android,bad key!=x\n${victim.deviceId},android,\nBAD-2,android,__proto__=x\n`);
    const r = await cli('enroll', 'import', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:3: label key "bad key!"`);
    expect(r.stderr).toContain(`${file}:4: serial has the shape of a device id`);
    expect(r.stderr).toContain(`${file}:5: label key "__proto__"`);
    expect(r.stderr).not.toContain(`${file}:2:`);
  });
});

describe('F5: __proto__ keys reach validation', () => {
  it('a Group whose metadata.labels has a __proto__ key is refused (422), not stored as {}', async () => {
    const r = await call(base, 'POST', '/v1/resources/apply', {
      token: admin,
      raw: '{"changes":[{"op":"create","kind":"Group","name":"protog","document":{"apiVersion":"emmctl/v1","kind":"Group","metadata":{"name":"protog","labels":{"__proto__":"x"}},"spec":{"match":{"platforms":["ios"]}}}}]}',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(JSON.stringify(r.body)).toContain('__proto__');
    const groups = (await call(base, 'GET', '/v1/resources?kind=Group', { token: admin })).body.items as Array<{ name?: string; metadata?: { name: string } }>;
    expect(JSON.stringify(groups)).not.toContain('protog');
  });
});

describe('F7: a claimed record takes its new profile\'s labels', () => {
  it('a released byod device claimed with a corp token keeps no byod labels', async () => {
    const first = (await enroll({ token: await tokenFor('byod'), serial: 'MOVE-1' })).body;
    expect((await device(first.deviceId)).labels).toEqual({ fleet: 'byod', byod: 'yes' });
    expect((await call(base, 'POST', `/v1/devices/${first.deviceId}/release`, { token: admin, body: {} })).status).toBe(200);
    const again = await enroll({ token: await tokenFor('corp'), serial: 'MOVE-1' });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const d = await device(first.deviceId);
    expect(d.labels).toEqual({ fleet: 'corp' });
    expect(d.ownership).toBe('corporate');
  });

  it('pre-registration labels still apply to a pre-registered claim', async () => {
    expect((await preregister([{ platform: 'android', serial: 'PRE-1', labels: { site: 'lisbon' } }])).status).toBe(200);
    const r = (await enroll({ token: await tokenFor('corp'), serial: 'PRE-1' })).body;
    expect((await device(r.deviceId)).labels).toEqual({ fleet: 'corp', site: 'lisbon' });
  });
});
