// The HTTP driver's behaviour on a bad day: retries (429/503 honouring Retry-After, dropped
// connections), never replaying what is not safe to replay, timeouts, garbage, unreachable
// servers, and tokens that never leak. Fault injection needs a scripted server: fake-server.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openHttpBackend, type HttpBackend, type HttpBackendOptions } from '../../src/backends/http/index.js';
import { BackendError, ExitCode, OutcomeUnknownError, UsageError } from '../../src/errors.js';
import { closedPort, error, startFakeServer, type FakeServer } from './fake-server.js';

const TOKEN = 'emmctl_at_SUPERSECRET_0123456789abcdef';
const EMPTY_PAGE = { items: [] };
const DEVICE = { id: 'dev_1', name: 'phone', platform: 'android', ownership: 'corporate', labels: {}, state: 'enrolled' };
const COMMAND = { id: 'cmd_1', deviceId: 'dev_1', type: 'lock', status: 'queued', requestedBy: 'ci', createdAt: 'x', updatedAt: 'x' };

let fake: FakeServer;
let delays: number[];
let debug: string[];
const open: HttpBackend[] = [];

function backend(over: Partial<HttpBackendOptions> = {}): Promise<HttpBackend> {
  return openHttpBackend({
    server: fake.url,
    token: TOKEN,
    timeoutMs: 2_000,
    // Observe the waits instead of sitting through them.
    sleep: async (ms) => void delays.push(ms),
    random: () => 0.5,
    debug: (line) => debug.push(line),
    ...over,
  }).then((b) => (open.push(b), b));
}

async function failure(p: Promise<unknown>): Promise<BackendError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BackendError);
  return e as BackendError;
}

beforeAll(async () => {
  fake = await startFakeServer();
});
afterAll(async () => {
  await fake.close();
});
afterEach(async () => {
  while (open.length) await open.pop()!.close();
  fake.seen.length = 0;
  fake.script();
  fake.fallback = () => ({ status: 200, json: EMPTY_PAGE });
});
beforeAll(() => {
  delays = [];
  debug = [];
});
afterEach(() => {
  delays = [];
  debug = [];
});

describe('retries', () => {
  it('retries a 429 after the Retry-After seconds, then succeeds', async () => {
    fake.script(error(429, 'rate_limited', 'slow down', { 'retry-after': '2' }), { status: 200, json: { items: [DEVICE] } });
    const b = await backend();
    const page = await b.listDevices({});
    expect(page.items.map((d) => d.id)).toEqual(['dev_1']);
    expect(fake.seen).toHaveLength(2);
    expect(delays).toHaveLength(1);
    // At least what the server asked for, plus a little jitter.
    expect(delays[0]).toBeGreaterThanOrEqual(2000);
    expect(delays[0]).toBeLessThan(2500);
  });

  it('honours Retry-After given as an HTTP date on 503', async () => {
    const at = new Date(Date.now() + 3_000).toUTCString();
    fake.script(error(503, 'unavailable', 'shutting down', { 'retry-after': at }), { status: 200, json: EMPTY_PAGE });
    const b = await backend();
    await b.listCompliance({});
    expect(fake.seen).toHaveLength(2);
    // An HTTP date has whole seconds: between 1 and 3 s from now, never the default backoff (~150 ms).
    expect(delays[0]).toBeGreaterThan(1000);
    expect(delays[0]).toBeLessThanOrEqual(3_400);
  });

  it('backs off exponentially without Retry-After and gives up after the configured retries', async () => {
    fake.fallback = () => error(503, 'unavailable', 'overloaded');
    const b = await backend({ retry: { retries: 3, baseDelayMs: 100, maxDelayMs: 10_000 } });
    const e = await failure(b.listAudit({}));
    expect(fake.seen).toHaveLength(4);
    // Equal jitter with random() = 0.5: three quarters of each doubling window.
    expect(delays).toEqual([75, 150, 300]);
    expect(e.code).toBe('unavailable');
    expect(e.message).toBe(`${fake.url} failed GET /v1/audit with HTTP 503 after 4 attempts: overloaded`);
  });

  it('does not wait for a Retry-After longer than the cap, and says how long the server asked for', async () => {
    fake.script(error(429, 'rate_limited', 'slow down', { 'retry-after': '3600' }));
    const b = await backend();
    const e = await failure(b.listResources());
    expect(fake.seen).toHaveLength(1);
    expect(delays).toEqual([]);
    expect(e.code).toBe('rate_limited');
    expect(e.message).toMatch(/the server asks to wait 3600 s/);
  });

  it('retries a GET whose connection was reset', async () => {
    fake.script({ reset: true }, { status: 200, json: COMMAND });
    const b = await backend();
    expect((await b.getCommand('cmd_1')).status).toBe('queued');
    expect(fake.seen).toHaveLength(2);
    expect(debug.some((l) => /GET \/v1\/commands\/cmd_1 → ECONNRESET/.test(l))).toBe(true);
  });

  it('replays a command enqueue with the same Idempotency-Key on every attempt', async () => {
    fake.script({ reset: true }, error(503, 'unavailable', 'busy'), { status: 200, json: { results: [{ deviceId: 'dev_1', outcome: 'queued', command: COMMAND }] } });
    const b = await backend();
    const r = await b.enqueueCommands({ deviceIds: ['dev_1'], type: 'lock', idempotencyKey: 'key-123' });
    expect(r.results[0]!.outcome).toBe('queued');
    expect(fake.seen.map((s) => s.headers['idempotency-key'])).toEqual(['key-123', 'key-123', 'key-123']);
    expect(JSON.parse(fake.seen[0]!.body)).toEqual({ deviceIds: ['dev_1'], type: 'lock' });
  });

  it('sends apply with one generated key reused across retries, and says a replayed conflict may mean it landed', async () => {
    fake.script({ reset: true }, error(409, 'conflict', 'Policy/a is at version 2, not 1'));
    const b = await backend();
    const e = await failure(b.applyChanges([{ op: 'delete', kind: 'Policy', name: 'a', expectedVersion: 1 }]));
    const keys = fake.seen.map((s) => s.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(e.code).toBe('conflict');
    expect(e.message).toBe('Policy/a is at version 2, not 1');
    expect(e.hint).toMatch(/first attempt may already have been applied/);
  });

  it('gives each logical apply its own key', async () => {
    fake.fallback = () => ({ status: 200, json: { applied: [] } });
    const b = await backend();
    await b.applyChanges([]);
    await b.applyChanges([]);
    expect(new Set(fake.seen.map((s) => s.headers['idempotency-key'])).size).toBe(2);
  });
});

describe('never replays what is not safe to replay', () => {
  it('does not resend a token creation whose connection dropped, and says the token may exist (exit 7)', async () => {
    fake.script({ reset: true }, { status: 200, json: { token: {}, secret: 's' } });
    const b = await backend();
    const e = await b.createEnrollmentToken({ profile: 'corp' }).catch((error: unknown) => error);
    expect(fake.seen).toHaveLength(1);
    expect(e).toBeInstanceOf(OutcomeUnknownError);
    expect((e as OutcomeUnknownError).exitCode).toBe(ExitCode.OUTCOME_UNKNOWN);
    expect((e as Error).message).toMatch(/may have been created.*ECONNRESET/);
    expect((e as OutcomeUnknownError).hint).toContain('emmctl enroll token list');
  });

  it('does not resend a token creation answered 503 (it may have been processed)', async () => {
    fake.script(error(503, 'unavailable', 'shutting down'), { status: 200, json: { token: {}, secret: 's' } });
    const b = await backend();
    const e = await failure(b.createApiToken({ name: 'ci', role: 'viewer' }));
    expect(fake.seen).toHaveLength(1);
    expect(e.status).toBe(503);
  });

  it('does resend it after a 429: the rate limiter refused it before it ran', async () => {
    fake.script(error(429, 'rate_limited', 'slow down', { 'retry-after': '1' }), { status: 200, json: { token: { id: 'et_1' }, secret: 's' } });
    const b = await backend();
    expect((await b.createEnrollmentToken({ profile: 'corp' })).secret).toBe('s');
    expect(fake.seen).toHaveLength(2);
    expect(fake.seen[0]!.headers['idempotency-key']).toBeUndefined();
  });

  it('does not retry a 500 (a bug on the server does not go away on replay)', async () => {
    fake.script(error(500, 'internal', 'boom'));
    const b = await backend();
    const e = await failure(b.listDevices({}));
    expect(fake.seen).toHaveLength(1);
    expect(e.code).toBe('unavailable');
    expect(e.message).toBe(`${fake.url} failed GET /v1/devices with HTTP 500: boom`);
    expect(e.hint).toMatch(/server log/);
  });
});

describe('timeouts, garbage and unreachable servers', () => {
  it('times out a request the server never answers, without retrying it', async () => {
    fake.script({ hang: true });
    const b = await backend({ timeoutMs: 300 });
    const e = await failure(b.getDevice('dev_1'));
    expect(e.code).toBe('unavailable');
    expect(e.message).toBe(`emmctl server at ${fake.url} did not answer GET /v1/devices/dev_1 within 300 ms`);
    expect(fake.seen).toHaveLength(1);
  });

  it('reports a non-JSON body as a protocol error', async () => {
    fake.script({ status: 200, text: '<html>login</html>' });
    const b = await backend();
    const e = await failure(b.listDevices({}));
    expect(e.code).toBe('protocol');
    expect(e.message).toBe(`unexpected response from ${fake.url} to GET /v1/devices (HTTP 200): the body is not JSON (text/html, 18 bytes)`);
  });

  it('reports JSON of the wrong shape as a protocol error', async () => {
    fake.script({ status: 200, json: { devices: [] } }, { status: 200, json: { items: [{ name: 'no id' }] } });
    const b = await backend();
    expect((await failure(b.listDevices({}))).message).toMatch(/\(HTTP 200\): the response lacks items\[\]$/);
    expect((await failure(b.listDevices({}))).message).toMatch(/items\[0\]: the response lacks id, platform$/);
  });

  it('says a 404 without our error body is not an emmctl server', async () => {
    fake.script({ status: 404, text: '<h1>Not Found</h1>' }, error(404, 'not_found', 'device dev_9 not found'));
    const b = await backend();
    const wrong = await failure(b.listDevices({}));
    expect(wrong.code).toBe('protocol');
    expect(wrong.message).toMatch(/no such route — is .* an emmctl server/);
    const real = await failure(b.getDevice('dev_9'));
    expect(real.code).toBe('not_found');
    expect(real.message).toBe('device dev_9 not found');
  });

  it('explains a redirect instead of following it', async () => {
    fake.script({ status: 301, text: '', headers: { location: 'https://emm.example.com/v1/devices' } });
    const b = await backend();
    const e = await failure(b.listDevices({}));
    expect(e.code).toBe('protocol');
    expect(e.message).toMatch(/redirected to https:\/\/emm\.example\.com\/v1\/devices; use the final URL/);
  });

  it('names an unreachable server and how to start one', async () => {
    const port = await closedPort();
    const b = await backend({ server: `http://127.0.0.1:${port}` });
    const e = await failure(b.listResources());
    expect(e.code).toBe('unavailable');
    expect(e.message).toBe(`cannot reach emmctl server at http://127.0.0.1:${port}: ECONNREFUSED — is it running? (3 attempts)`);
    expect(e.hint).toMatch(/emmctl server/);
  });

  it('rejects a server address that is not an http(s) URL', async () => {
    await expect(openHttpBackend({ server: 'localhost:8787' })).rejects.toBeInstanceOf(UsageError);
    await expect(openHttpBackend({ server: 'ftp://example.com' })).rejects.toThrow(/not an http\(s\) URL/);
  });
});

describe('auth errors and secrets', () => {
  it('says the token was rejected and how to make one, never showing the token', async () => {
    // A server that echoes the credential back must still not get it into a message.
    fake.script(error(401, 'unauthorized', `invalid token ${TOKEN}`));
    const b = await backend();
    const e = await failure(b.listDevices({}));
    expect(e.code).toBe('unauthorized');
    expect(e.message).toMatch(/^token rejected by http:\/\/127\.0\.0\.1:\d+/);
    expect(e.hint).toMatch(/emmctl server token create/);
    expect(`${e.message} ${e.hint} ${e.stack} ${debug.join('\n')}`).not.toContain(TOKEN);
    expect(fake.seen[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('says when no token is configured', async () => {
    fake.script(error(401, 'unauthorized', 'missing API token'));
    const b = await backend({ token: undefined });
    const e = await failure(b.listDevices({}));
    expect(e.message).toMatch(/needs an API token and none is configured/);
    expect(fake.seen[0]!.headers.authorization).toBeUndefined();
  });

  it("names the token's role and what it cannot do on 403", async () => {
    fake.fallback = (req) => (req.url === '/v1/whoami' ? { status: 200, json: { name: 'dash', role: 'viewer' } } : error(403, 'forbidden', 'needs admin'));
    const b = await backend();
    const e = await failure(b.enqueueCommands({ deviceIds: ['dev_1'], type: 'wipe', idempotencyKey: 'k' }));
    expect(e.code).toBe('forbidden');
    expect(e.message).toBe("your token's role viewer cannot send wipe commands");
    expect(e.hint).toMatch(/admins also wipe/);
  });

  it('trims a pasted newline off the token and refuses one with inner spaces, without showing it', async () => {
    const b = await backend({ token: `${TOKEN}\n` });
    await b.listResources();
    expect(fake.seen[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const e = await openHttpBackend({ server: fake.url, token: `${TOKEN} x` }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UsageError);
    expect(`${(e as UsageError).message} ${(e as UsageError).hint}`).not.toContain(TOKEN);
  });

  it('keeps debug lines to method, path and status', async () => {
    fake.script({ status: 200, json: { token: { id: 'et_1' }, secret: 'enroll-secret-xyz' } });
    const b = await backend();
    await b.createEnrollmentToken({ profile: 'corp' });
    expect(debug).toHaveLength(1);
    expect(debug[0]).toMatch(/^http: POST \/v1\/enrollment-tokens → 200 \(\d+ ms\)$/);
  });
});

describe('requests', () => {
  it('sends repeated filters, sort, limit and cursor in the query', async () => {
    const b = await backend();
    await b.listDevices({ filters: [{ field: 'platform', op: '=', value: 'android' }, { field: 'os', op: '<', value: '14' }], sort: '-lastCheckIn', limit: 50, cursor: 'abc' });
    expect(fake.seen[0]!.url).toBe('/v1/devices?filter=platform%3Dandroid&filter=os%3C14&sort=-lastCheckIn&limit=50&cursor=abc');
  });

  it('keeps a path prefix of the server URL and escapes ids', async () => {
    fake.fallback = () => ({ status: 200, json: COMMAND });
    const b = await backend({ server: `${fake.url}/emm/` });
    await b.cancelCommand('cmd/1');
    expect(fake.seen[0]!.url).toBe('/emm/v1/commands/cmd%2F1/cancel');
    expect(b.location).toBe(`${fake.url}/emm`);
  });
});
