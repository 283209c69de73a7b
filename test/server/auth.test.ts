// Roles and credentials over real HTTP: 401 without or with the wrong kind of credential,
// 403 below the needed role, and admin tokens vs device credentials never crossing over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { ROUTES } from '../../src/server/routes/index.js';
import { call, checkIn, createToken, enroll, enrollmentToken, killAll, seedResources, startServerProcess, type ServerProcess } from './helpers.js';

const dir = tempDir('emmctl-server-auth-');
let server: ServerProcess;
let base: string;
const tokens: Record<'admin' | 'operator' | 'viewer', string> = { admin: '', operator: '', viewer: '' };
let device: { deviceId: string; credential: string };

beforeAll(async () => {
  // Tokens are created on the store before any server runs, as an admin would on day one.
  for (const role of ['admin', 'operator', 'viewer'] as const) tokens[role] = await createToken(dir.path, role);
  server = await startServerProcess(dir.path);
  base = server.url;
  await seedResources(base, tokens.operator);
  const et = await enrollmentToken(base, tokens.operator);
  device = await enroll(base, et.secret);
});

afterAll(async () => {
  if (server) await server.stop();
  killAll();
  dir.cleanup();
});

const fill = (path: string) => path.replace(/\{[^}]+\}/g, 'x');
const adminRoutes = ROUTES.filter((r) => r.auth !== 'none' && r.auth !== 'device');
const deviceRoutes = ROUTES.filter((r) => r.auth === 'device');

describe('admin API authentication', () => {
  it('answers 401 with a JSON error on every admin route without a token', async () => {
    expect(adminRoutes.length).toBeGreaterThan(15);
    for (const route of adminRoutes) {
      const r = await call(base, route.method, fill(route.path), route.method === 'POST' ? { body: {} } : {});
      expect(r.status, `${route.method} ${route.path}`).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it('rejects an unknown token and a device credential used as a bearer token', async () => {
    const unknown = await call(base, 'GET', '/v1/devices', { token: 'emm_at_not-a-real-token' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.message).toMatch(/invalid, expired or revoked/);
    const crossed = await call(base, 'GET', '/v1/devices', { token: device.credential });
    expect(crossed.status).toBe(401);
    const deviceScheme = await call(base, 'GET', '/v1/devices', { device: device.credential });
    expect(deviceScheme.status).toBe(401);
  });

  it('tells each token who it is', async () => {
    for (const role of ['admin', 'operator', 'viewer'] as const) {
      const r = await call(base, 'GET', '/v1/whoami', { token: tokens[role] });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ name: `${role}-test`, role, storeId: expect.stringMatching(/^st_[0-9a-f]{24}$/), notifyChannels: 0, channels: [] });
    }
  });
});

describe('role boundaries', () => {
  const lockBody = () => ({ deviceIds: [device.deviceId], type: 'lock', reason: 'test' });
  const key = () => ({ 'idempotency-key': `k-${Math.random()}` });

  it('lets a viewer read but not change anything', async () => {
    for (const path of ['/v1/resources', '/v1/devices', `/v1/devices/${device.deviceId}`, '/v1/compliance', '/v1/commands', '/v1/audit', '/v1/enrollment-tokens']) {
      const r = await call(base, 'GET', path, { token: tokens.viewer });
      expect(r.status, path).toBe(200);
    }
    const apply = await call(base, 'POST', '/v1/resources/apply', { token: tokens.viewer, body: { changes: [] } });
    expect(apply.status).toBe(403);
    expect(apply.body.error).toMatchObject({ code: 'forbidden' });
    expect(apply.body.error.message).toMatch(/operator role.*viewer/);
    expect((await call(base, 'POST', '/v1/commands', { token: tokens.viewer, body: lockBody(), headers: key() })).status).toBe(403);
    expect((await call(base, 'POST', '/v1/enrollment-tokens', { token: tokens.viewer, body: { profile: 'corp-phones' } })).status).toBe(403);
    expect((await call(base, 'POST', '/v1/devices/preregister', { token: tokens.viewer, body: { devices: [] } })).status).toBe(403);
    expect((await call(base, 'GET', '/v1/tokens', { token: tokens.viewer })).status).toBe(403);
  });

  it('lets an operator lock and apply, but not wipe, retire, delete, prune or manage tokens', async () => {
    const lock = await call(base, 'POST', '/v1/commands', { token: tokens.operator, body: lockBody(), headers: key() });
    expect(lock.status).toBe(200);
    expect(lock.body.results[0]).toMatchObject({ deviceId: device.deviceId, outcome: 'queued' });
    for (const type of ['wipe', 'retire']) {
      const r = await call(base, 'POST', '/v1/commands', { token: tokens.operator, body: { ...lockBody(), type }, headers: key() });
      expect(r.status, type).toBe(403);
      expect(r.body.error.message).toContain(`a ${type} command needs the admin role`);
    }
    const resources = (await call(base, 'GET', '/v1/resources?kind=Group', { token: tokens.operator })).body.items;
    const group = resources.find((r: { name: string }) => r.name === 'all-android');
    const del = await call(base, 'POST', '/v1/resources/apply', {
      token: tokens.operator,
      body: { changes: [{ op: 'delete', kind: 'Group', name: 'all-android', expectedVersion: group.version }] },
    });
    expect(del.status).toBe(403);
    const prune = await call(base, 'POST', '/v1/resources/apply', { token: tokens.operator, body: { changes: [], prune: true } });
    expect(prune.status).toBe(403);
    expect((await call(base, 'GET', '/v1/tokens', { token: tokens.operator })).status).toBe(403);
    expect((await call(base, 'POST', '/v1/tokens', { token: tokens.operator, body: { name: 'x', role: 'viewer' } })).status).toBe(403);
    // Nothing was deleted by the refused request.
    const after = (await call(base, 'GET', '/v1/resources?kind=Group', { token: tokens.viewer })).body.items;
    expect(after.map((r: { name: string }) => r.name)).toContain('all-android');
  });

  it('lets an admin wipe and manage tokens; a revoked token gets 401', async () => {
    const wipe = await call(base, 'POST', '/v1/commands', { token: tokens.admin, body: { ...lockBody(), type: 'wipe' }, headers: key() });
    expect(wipe.status).toBe(200);
    expect(wipe.body.results[0].outcome).toBe('queued');
    const created = await call(base, 'POST', '/v1/tokens', { token: tokens.admin, body: { name: 'ci-bot', role: 'viewer' } });
    expect(created.status).toBe(200);
    expect(created.body.token).toMatchObject({ name: 'ci-bot', role: 'viewer', revoked: false });
    const secret = created.body.secret as string;
    expect((await call(base, 'GET', '/v1/whoami', { token: secret })).body).toMatchObject({ name: 'ci-bot', role: 'viewer' });
    const list = await call(base, 'GET', '/v1/tokens', { token: tokens.admin });
    expect(list.body.items.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['admin-test', 'operator-test', 'viewer-test', 'ci-bot']));
    expect(JSON.stringify(list.body)).not.toContain(secret);
    const revoked = await call(base, 'POST', `/v1/tokens/${created.body.token.id}/revoke`, { token: tokens.admin });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked).toBe(true);
    expect((await call(base, 'GET', '/v1/whoami', { token: secret })).status).toBe(401);
  });

  it('expires API tokens', async () => {
    const created = await call(base, 'POST', '/v1/tokens', { token: tokens.admin, body: { name: 'short', role: 'viewer', expiresInSeconds: 1 } });
    expect((await call(base, 'GET', '/v1/whoami', { token: created.body.secret })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await call(base, 'GET', '/v1/whoami', { token: created.body.secret })).status).toBe(401);
  });

  it('records the actor and source address of every change in the audit log', async () => {
    const r = await call(base, 'GET', '/v1/audit?limit=1000', { token: tokens.viewer });
    expect(r.status).toBe(200);
    const records = r.body.items as Array<{ actor: string; source: string; action: string }>;
    const byOperator = records.filter((a) => a.actor === 'operator-test');
    expect(byOperator.length).toBeGreaterThan(0);
    for (const a of byOperator) expect(a.source).toBe('127.0.0.1');
    const filtered = await call(base, 'GET', '/v1/audit?actor=admin-test', { token: tokens.viewer });
    expect(filtered.body.items.length).toBeGreaterThan(0);
    for (const a of filtered.body.items) expect(a.actor).toBe('admin-test');
  });
});

describe('device credentials', () => {
  it('answers 401 on agent routes without a device credential, or with an admin token', async () => {
    for (const route of deviceRoutes) {
      for (const headers of [{}, { authorization: `Bearer ${tokens.admin}` }, { authorization: `Device ${tokens.admin}` }] as Array<Record<string, string>>) {
        const r = await call(base, route.method, fill(route.path), { body: {}, headers });
        expect(r.status, `${route.path} ${JSON.stringify(Object.keys(headers))}`).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Device');
      }
    }
  });

  it('accepts the device credential for check-in', async () => {
    const r = await checkIn(base, device.credential);
    expect(r.status).toBe(200);
    expect(r.body.deviceId).toBe(device.deviceId);
  });
});

describe('emmctl server token (CLI, on the store)', () => {
  it('lists and revokes tokens without a server; never prints secrets in the list', async () => {
    const list = await runCli(['server', 'token', 'list', '-o', 'json', '--data-dir', dir.path]);
    expect(list.code).toBe(0);
    const items = JSON.parse(list.stdout) as Array<{ id: string; name: string }>;
    expect(items.map((t) => t.name)).toContain('viewer-test');
    for (const secret of Object.values(tokens)) expect(list.stdout).not.toContain(secret);
    const viewer = items.find((t) => t.name === 'viewer-test')!;
    const revoke = await runCli(['server', 'token', 'revoke', viewer.id, '--data-dir', dir.path]);
    expect(revoke.code).toBe(0);
    expect(revoke.stderr).toContain(`revoked API token ${viewer.id}`);
    // The running server sees the revocation at once: the store is the source of truth.
    expect((await call(base, 'GET', '/v1/whoami', { token: tokens.viewer })).status).toBe(401);
    const table = await runCli(['server', 'token', 'list', '--data-dir', dir.path]);
    expect(table.stdout).toMatch(/viewer-test\s+viewer\s+revoked/);
    // Every record format works here as in every other listing (yaml used to crash).
    const yaml = await runCli(['server', 'token', 'list', '-o', 'yaml', '--data-dir', dir.path]);
    expect(yaml.code, yaml.stderr).toBe(0);
    expect(yaml.stdout).toMatch(new RegExp(`- id: ${viewer.id}\\n  name: viewer-test\\n  role: viewer\\n`));
    const csv = await runCli(['server', 'token', 'list', '-o', 'csv', '--data-dir', dir.path]);
    expect(csv.stdout.split('\r\n')[0]).toBe('ID,NAME,ROLE,STATUS,CREATED,EXPIRES,LAST USED');
    expect(csv.stdout).toMatch(new RegExp(`${viewer.id},viewer-test,viewer,revoked,`));
    for (const secret of Object.values(tokens)) expect(yaml.stdout + csv.stdout).not.toContain(secret);
  });

  it('rejects a bad role or duration with exit 2', async () => {
    const role = await runCli(['server', 'token', 'create', '--role', 'root', '--data-dir', dir.path]);
    expect(role.code).toBe(2);
    expect(role.stderr).toMatch(/Allowed choices are admin, operator, viewer/);
    const expires = await runCli(['server', 'token', 'create', '--role', 'viewer', '--expires', 'soon', '--data-dir', dir.path]);
    expect(expires.code).toBe(2);
    expect(expires.stderr).toContain('invalid --expires "soon"');
    const unknown = await runCli(['server', 'token', 'revoke', 'tok_nope', '--data-dir', dir.path]);
    expect(unknown.code).toBe(1);
  });
});
