// Malformed and hostile requests, rate limits, and what the access log may (not) contain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { call, checkIn, createToken, enroll, enrollBody, enrollmentToken, killAll, seedResources, startServerProcess, type ServerProcess } from './helpers.js';

const dir = tempDir('emmctl-server-hardening-');
let server: ServerProcess;
let base: string;
let admin: string;
let operator: string;
let limited: string;
let enrollSecret: string;
let credential: string;

beforeAll(async () => {
  admin = await createToken(dir.path, 'admin');
  operator = await createToken(dir.path, 'operator');
  limited = await createToken(dir.path, 'viewer', 'limited');
  // Buckets refill one request per 100 s: every limit below is reached by count, not by timing.
  server = await startServerProcess(dir.path, ['--rate-limit', '0.01/40', '--enroll-rate-limit', '0.01/6'], { EMMCTL_SERVER_DEVICE_RATE_LIMIT: '0.01/5' });
  base = server.url;
  await seedResources(base, admin);
  enrollSecret = (await enrollmentToken(base, admin)).secret;
  credential = (await enroll(base, enrollSecret)).credential;
});

afterAll(async () => {
  if (server) await server.stop();
  killAll();
  dir.cleanup();
});

describe('malformed requests', () => {
  it('answers 400 with the line, column and position of bad JSON', async () => {
    const r = await call(base, 'POST', '/v1/resources/apply', { token: operator, raw: '{"changes": [1, 2,]}' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid');
    expect(r.body.error.message).toContain('malformed JSON at line 1 column 19 (position 18)');
    const multi = await call(base, 'POST', '/v1/resources/apply', { token: operator, raw: '{\n  "changes": [],\n  prune: true\n}' });
    expect(multi.status).toBe(400);
    expect(multi.body.error.message).toMatch(/line 3 column 3 .*expected a property name/);
    const truncated = await call(base, 'POST', '/v1/agent/enroll', { raw: '{"token": "abc' });
    expect(truncated.body.error.message).toContain('unterminated string');
  });

  it('answers 400 when the body is JSON but not an object', async () => {
    const r = await call(base, 'POST', '/v1/resources/apply', { token: operator, raw: '[]' });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe('request body must be a JSON object');
  });

  it('answers 415 for a body that is not application/json', async () => {
    const r = await call(base, 'POST', '/v1/resources/apply', { token: operator, raw: 'changes=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(415);
    expect(r.body.error.message).toContain('must be application/json');
    const charset = await call(base, 'POST', '/v1/resources/apply', { token: operator, raw: '{"changes":[]}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(charset.status).toBe(200);
  });

  it('answers 413 for a body over 1 MiB and still serves the next request', async () => {
    const big = JSON.stringify({ changes: [], padding: 'x'.repeat(1024 * 1024) });
    const r = await call(base, 'POST', '/v1/resources/apply', { token: operator, raw: big });
    expect(r.status).toBe(413);
    expect(r.body.error.message).toContain('larger than 1048576 bytes');
    expect((await call(base, 'GET', '/healthz')).status).toBe(200);
  });

  it('answers 413 for a chunked body that grows past the limit', async () => {
    const chunk = new TextEncoder().encode(`{"changes":[],"p":"${'y'.repeat(300 * 1024)}`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 5) controller.enqueue(chunk);
        else {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
        }
      },
    });
    const res = await fetch(`${base}/v1/resources/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('requires an Idempotency-Key to queue commands', async () => {
    const r = await call(base, 'POST', '/v1/commands', { token: operator, body: { deviceIds: ['dev_x'], type: 'lock' } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('Idempotency-Key');
  });

  it('answers 404 for unknown paths and 405 with Allow for a wrong method', async () => {
    const missing = await call(base, 'GET', '/v1/nope', { token: operator });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'not_found', message: 'no route for GET /v1/nope; see GET /v1/openapi.json' });
    const wrong = await call(base, 'DELETE', '/v1/devices', { token: operator });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    const templated = await call(base, 'GET', '/v1/commands/abc/cancel', { token: operator });
    expect(templated.status).toBe(405);
    expect(templated.headers.get('allow')).toBe('POST');
  });

  it('validates body fields with messages that name them', async () => {
    const r = await call(base, 'POST', '/v1/resources/apply', { token: operator, body: { changes: [{ op: 'create', kind: 'Gizmo', name: 'x' }] } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('body.changes[0].kind must be one of Group, Policy, CompliancePolicy, EnrollmentProfile');
    const limit = await call(base, 'GET', '/v1/commands?limit=0', { token: operator });
    expect(limit.status).toBe(400);
    expect(limit.body.error.message).toContain('limit must be an integer from 1 to 1000');
  });

  it('answers 409 for a stale expectedVersion and applies nothing', async () => {
    const groups = (await call(base, 'GET', '/v1/resources?kind=Group', { token: operator })).body.items;
    const g = groups[0];
    const doc = { ...g.document, metadata: { ...g.document.metadata, description: 'changed' } };
    const stale = await call(base, 'POST', '/v1/resources/apply', {
      token: operator,
      body: { changes: [{ op: 'update', kind: 'Group', name: g.name, document: doc, expectedVersion: g.version + 5 }] },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('conflict');
    const after = (await call(base, 'GET', '/v1/resources?kind=Group', { token: operator })).body.items[0];
    expect(after.version).toBe(g.version);
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After once a token has spent its burst, other tokens unaffected', async () => {
    const statuses: number[] = [];
    let limitedResponse: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 41; i++) {
      const r = await call(base, 'GET', '/v1/whoami', { token: limited });
      statuses.push(r.status);
      if (r.status === 429) limitedResponse = r;
    }
    expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
    expect(statuses[40]).toBe(429);
    expect(limitedResponse!.body.error.code).toBe('rate_limited');
    const retryAfter = Number(limitedResponse!.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect((await call(base, 'GET', '/v1/whoami', { token: admin })).status).toBe(200);
  });

  it('limits unauthenticated enrollment per client address', async () => {
    // Of the burst of 6, the seeding enrollment used one and the malformed-JSON test another:
    // the limit applies before the body is read, so garbage costs the same as a real attempt.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody(enrollSecret) })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });

  it('limits each device (configured through the environment)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await checkIn(base, credential)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});

describe('access log', () => {
  it('writes one JSON line per request with no token, credential or secret in it', async () => {
    await call(base, 'GET', `/v1/devices?filter=owner%3Dana%40example.com&token=${encodeURIComponent(admin)}`, { token: admin });
    // Secrets under other parameter names, pasted into a path segment or as a plain value.
    await call(base, 'GET', `/v1/devices/${encodeURIComponent(credential)}?pwd=hunter2&X-Session-Id=s3ss&q=${encodeURIComponent(enrollSecret)}`, { token: admin });
    // Lines are flushed once per event-loop turn; a last request makes sure earlier ones are out.
    await call(base, 'GET', '/healthz');
    await new Promise((r) => setTimeout(r, 100));
    const log = server.stderr();
    for (const secret of [admin, operator, limited, enrollSecret, credential]) expect(log).not.toContain(secret);
    const lines = log.split('\n').filter((l) => l.startsWith('{'));
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(50);
    const devices = entries.find((e) => String(e.path).startsWith('/v1/devices?'))!;
    // Rejected (token is no query parameter of this route), and logged without the secret anyway.
    expect(devices).toMatchObject({ method: 'GET', status: 400, error: 'invalid', actor: 'admin-test', ip: '127.0.0.1' });
    expect(devices.path).toBe('/v1/devices?filter=owner%3Dana%40example.com&token=REDACTED');
    expect(typeof devices.ms).toBe('number');
    expect(entries.find((e) => String(e.path).startsWith('/v1/devices/'))!.path).toBe('/v1/devices/REDACTED?pwd=REDACTED&X-Session-Id=REDACTED&q=REDACTED');
    for (const leaked of ['hunter2', 's3ss']) expect(log).not.toContain(leaked);
    expect(Date.parse(devices.time as string)).not.toBeNaN();
    const denied = entries.find((e) => e.status === 429)!;
    expect(denied.error).toBe('rate_limited');
    const checkin = entries.find((e) => e.path === '/v1/agent/checkin' && e.status === 200)!;
    expect(checkin.actor).toMatch(/^device:/);
  });
});
