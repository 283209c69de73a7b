// The OpenAPI document and the router's table must agree both ways, and the live server must
// route every documented operation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { OPENAPI_DOCUMENT } from '../../src/server/openapi.js';
import { ROUTES } from '../../src/server/routes/index.js';
import { call, createToken, enroll, enrollmentToken, killAll, seedResources, startServerProcess, type ServerProcess } from './helpers.js';

const dir = tempDir('emmctl-server-openapi-');
let server: ServerProcess;
let admin: string;
let viewer: string;

beforeAll(async () => {
  admin = await createToken(dir.path, 'admin');
  viewer = await createToken(dir.path, 'viewer');
  // The probes below send a dozen agent calls with one device credential: no 429s for them.
  server = await startServerProcess(dir.path, ['--device-rate-limit', 'off']);
}, 60_000);
afterAll(async () => {
  if (server) await server.stop();
  killAll();
  dir.cleanup();
});

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const documented = Object.entries(OPENAPI_DOCUMENT.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
  Object.keys(ops)
    .filter((m) => METHODS.includes(m))
    .map((m) => `${m.toUpperCase()} ${path}`),
);
const routed = ROUTES.map((r) => `${r.method} ${r.path}`);

describe('OpenAPI document', () => {
  it('documents every route', () => {
    expect(routed.filter((r) => !documented.includes(r))).toEqual([]);
  });

  it('documents only routes that exist', () => {
    expect(documented.filter((d) => !routed.includes(d))).toEqual([]);
    expect(documented.length).toBe(routed.length);
  });

  it('is served at /v1/openapi.json without auth, as OpenAPI 3.1', async () => {
    const r = await call(server.url, 'GET', '/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body).toEqual(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
    expect(r.body.openapi).toMatch(/^3\.1\./);
  });

  it('resolves every $ref', () => {
    const text = JSON.stringify(OPENAPI_DOCUMENT);
    const refs = [...text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(20);
    const schemas = OPENAPI_DOCUMENT.components.schemas as Record<string, unknown>;
    expect([...new Set(refs)].filter((r) => !(r in schemas))).toEqual([]);
  });

  it('marks auth the way the router enforces it', () => {
    for (const route of ROUTES) {
      const op = (OPENAPI_DOCUMENT.paths as Record<string, Record<string, { security?: Array<Record<string, unknown>> }>>)[route.path]![route.method.toLowerCase()]!;
      const scheme = op.security?.map((s) => Object.keys(s)[0]);
      // Public operations say so with `security: []` (no scheme), as linters require.
      const expected = route.auth === 'none' ? [] : route.auth === 'device' ? ['deviceCredential'] : ['apiToken'];
      expect(scheme, `${route.method} ${route.path}`).toEqual(expected);
    }
  });

  it('every documented operation is routed by the live server', async () => {
    for (const entry of documented) {
      const [method, path] = entry.split(' ') as [string, string];
      const r = await call(server.url, method, path.replace(/\{[^}]+\}/g, 'x'), method === 'POST' ? { body: {} } : {});
      // Routed: the answer comes from auth, validation or the handler, never "no route" / 405.
      expect(r.status, entry).not.toBe(405);
      if (r.status === 404) expect(r.body.error.message, entry).not.toMatch(/^no route/);
    }
  });

  it('declares every status the live server answers, for hostile and mistaken requests alike', async () => {
    await seedResources(server.url, admin);
    const device = await enroll(server.url, (await enrollmentToken(server.url, admin)).secret);
    const paths = OPENAPI_DOCUMENT.paths as unknown as Record<string, Record<string, { responses: Record<string, unknown> }>>;
    const undeclared: string[] = [];
    const probe = async (method: string, template: string, path: string, opts: Parameters<typeof call>[3] = {}) => {
      const r = await call(server.url, method, path, opts);
      if (!(String(r.status) in paths[template]![method.toLowerCase()]!.responses)) undeclared.push(`${method} ${template} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 120)}`);
    };
    for (const entry of documented) {
      const [method, template] = entry.split(' ') as [string, string];
      const path = template.replace(/\{[^}]+\}/g, 'no-such-id');
      const post = method === 'POST';
      const agent = template.startsWith('/v1/agent/');
      const auth = agent ? { device: device.credential } : { token: admin };
      await probe(method, template, path, post ? { body: {} } : {});
      await probe(method, template, path, { ...auth, ...(post ? { body: {} } : {}) });
      await probe(method, template, path, { token: viewer, ...(post ? { body: {} } : {}) });
      await probe(method, template, `${path}?bogus=1`, { ...auth, ...(post ? { body: {} } : {}) });
      if (post) {
        await probe(method, template, path, { ...auth, body: { bogus: 1 } });
        await probe(method, template, path, { ...auth, raw: 'x=1', headers: { 'content-type': 'text/plain' } });
        await probe(method, template, path, { ...auth, raw: '{"a":' });
        await probe(method, template, path, { ...auth, raw: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }) });
      }
    }
    const key = { 'idempotency-key': 'openapi-probe' };
    await probe('POST', '/v1/commands', '/v1/commands', { token: admin, headers: key, body: { deviceIds: ['no-such-device'], type: 'lock' } });
    await probe('POST', '/v1/commands', '/v1/commands', { token: admin, headers: key, body: { deviceIds: [device.deviceId], type: 'lock' } });
    await probe('POST', '/v1/commands', '/v1/commands', { token: admin, headers: key, body: { deviceIds: [device.deviceId], type: 'reboot' } });
    const bad = { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'g' }, spec: { mtch: {} } };
    await probe('POST', '/v1/resources/apply', '/v1/resources/apply', { token: admin, body: { changes: [{ op: 'create', kind: 'Group', name: 'g', document: bad }] } });
    await probe('POST', '/v1/resources/apply', '/v1/resources/apply', { token: admin, body: { changes: [{ op: 'delete', kind: 'Group', name: 'all-android', expectedVersion: 99 }] } });
    await probe('POST', '/v1/enrollment-tokens', '/v1/enrollment-tokens', { token: admin, body: { profile: 'no-such-profile' } });
    expect(undeclared).toEqual([]);
  }, 60_000);
});
