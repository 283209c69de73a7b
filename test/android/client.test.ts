// AmapiClient against a scripted HTTP server on 127.0.0.1: what it sends (method, path, query,
// bearer token, and every body checked against Google's discovery schema when
// ../shared/vendor-specs is there), how it reads the answers (paging, 404s, a policy in use,
// answers out of shape), and what it does when Google fails: backoff with Retry-After for reads
// and idempotent writes, never a second issueCommand, and an outcome that says whether a write may
// have landed. Sleeps and the clock are injected (the backoff waits are asserted, not timed).
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GoogleTokenSource, readServiceAccountKey } from '../../src/channels/android/auth.js';
import { AmapiCallError, AmapiClient, type AmapiClientOptions } from '../../src/channels/android/client.js';
import type { AmapiPolicy } from '../../src/channels/android/amapi-types.js';
import { enrollmentTokenRequest, readCreatedToken } from '../../src/channels/android/enrollment.js';
import { QuotaWindow } from '../../src/channels/android/quota.js';
import { UsageError } from '../../src/errors.js';
import { checkAmapi, specsAvailable } from './amapi-schema.js';
import { startFakeAmapi, type FakeAmapi } from './fake-amapi.js';
import { drop, hang, json, rpcError, startLocal, type LocalServer, type Seen } from './local-google.js';

const E = 'enterprises/LC00abc123';
const DEVICE = `${E}/devices/3a1f9c0e7d2b4c55`;
const POLICY = `${E}/policies/emmctl-r1-fm-0123456789abcdef`;
const specs = specsAvailable();

/** Checks a body against a discovery schema (when the specs are present), failing the test with the problems. */
function conforms(schema: string, body: unknown): void {
  if (!specs) return;
  expect(checkAmapi(schema, body), `${schema}: ${JSON.stringify(body)}`).toEqual([]);
}

/** An answer the way Google gives it, itself checked against the schema: the test scripts nothing Google would not send. */
function answer(schema: string, body: Record<string, unknown>, status = 200) {
  conforms(schema, body);
  return (_q: Seen, res: ServerResponse) => json(res, status, body);
}

async function rejection(p: Promise<unknown>): Promise<AmapiCallError> {
  try {
    await p;
  } catch (error) {
    if (!(error instanceof AmapiCallError)) throw error;
    return error;
  }
  throw new Error('expected a rejection');
}

const policy: AmapiPolicy = {
  cameraAccess: 'CAMERA_ACCESS_DISABLED',
  maximumTimeToLock: '300000',
  statusReportingSettings: { softwareInfoEnabled: true, deviceSettingsEnabled: true, applicationReportsEnabled: true },
  playStoreMode: 'BLACKLIST',
};

let server: LocalServer;
let waits: number[];
let logs: Array<Record<string, unknown>>;
let clock: number;
let tokens: number;
let invalidated: number;

function client(extra: Partial<AmapiClientOptions> = {}): AmapiClient {
  return new AmapiClient({
    endpoint: server.url,
    tokens: { token: async () => `ya29.t${tokens}`, invalidate: () => { invalidated++; tokens++; } },
    now: () => new Date(clock),
    sleep: async (ms) => {
      waits.push(ms);
      clock += ms;
    },
    random: () => 0.5,
    log: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
    ...extra,
  });
}

beforeEach(async () => {
  server = await startLocal();
  waits = [];
  logs = [];
  clock = Date.parse('2026-12-01T10:00:00Z');
  tokens = 1;
  invalidated = 0;
});
afterEach(async () => server.close());

describe('AmapiClient: the calls as Google documents them', () => {
  it('signupUrls.create and enterprises.create: query parameters, the Enterprise body, the answers read', async () => {
    server.handlers.push(answer('SignupUrl', { name: 'signupUrls/C1a2b3', url: 'https://enterprise.google.com/signup/android/email?callbackUrl=x' }));
    server.handlers.push(answer('Enterprise', { name: E, enterpriseDisplayName: 'Acme' }));
    const c = client();
    expect(await c.createSignupUrl('emmctl-test', 'https://emm.example.com/signup-done', 'admin@example.com')).toEqual({ name: 'signupUrls/C1a2b3', url: 'https://enterprise.google.com/signup/android/email?callbackUrl=x' });
    const body = { enterpriseDisplayName: 'Acme' };
    conforms('Enterprise', body);
    expect(await c.createEnterprise('emmctl-test', 'signupUrls/C1a2b3', 'EAH2t0k3n', body)).toEqual({ name: E, enterpriseDisplayName: 'Acme' });
    expect(server.seen.map((s) => [s.method, s.path, s.query, s.body])).toEqual([
      ['POST', '/v1/signupUrls', { projectId: 'emmctl-test', callbackUrl: 'https://emm.example.com/signup-done', adminEmail: 'admin@example.com' }, undefined],
      ['POST', '/v1/enterprises', { projectId: 'emmctl-test', signupUrlName: 'signupUrls/C1a2b3', enterpriseToken: 'EAH2t0k3n' }, body],
    ]);
    expect(server.seen.every((s) => s.headers.authorization === 'Bearer ya29.t1')).toBe(true);
  });

  it('policies: patch with a Policy body, list by pages, delete (deleted / not found / in use)', async () => {
    conforms('Policy', policy);
    server.handlers.push(answer('Policy', { name: POLICY, version: '3', ...policy }));
    server.handlers.push(answer('ListPoliciesResponse', { policies: [{ name: POLICY, version: '3' }], nextPageToken: 'p2' }));
    server.handlers.push(answer('ListPoliciesResponse', { policies: [{ name: `${E}/policies/other` }] }));
    server.handlers.push(answer('Empty', {}));
    server.handlers.push((_q, res) => rpcError(res, 404, 'NOT_FOUND', 'Resource not found'));
    server.handlers.push((_q, res) => rpcError(res, 400, 'FAILED_PRECONDITION', 'Policy is used by 2 devices'));
    const c = client();
    expect(await c.patchPolicy(POLICY, policy)).toEqual({ name: POLICY, version: '3' });
    const first = await c.listPolicies(E);
    expect(first).toEqual({ policies: [{ name: POLICY, version: '3' }], nextPageToken: 'p2' });
    expect(await c.listPolicies(E, first.nextPageToken)).toEqual({ policies: [{ name: `${E}/policies/other` }] });
    expect([await c.deletePolicy(POLICY), await c.deletePolicy(POLICY), await c.deletePolicy(POLICY)]).toEqual(['deleted', 'not-found', 'in-use']);
    expect(server.seen.map((s) => [s.method, s.path, s.query])).toEqual([
      ['PATCH', `/v1/${POLICY}`, {}],
      ['GET', `/v1/${E}/policies`, {}],
      ['GET', `/v1/${E}/policies`, { pageToken: 'p2' }],
      ['DELETE', `/v1/${POLICY}`, {}],
      ['DELETE', `/v1/${POLICY}`, {}],
      ['DELETE', `/v1/${POLICY}`, {}],
    ]);
    expect(server.seen[0]!.body).toEqual(policy);
    expect(waits).toEqual([]); // a 404 and a policy in use are answers, not failures to retry
  });

  it('devices: list by pages with pageSize, get (404 → undefined), patch policyName with its updateMask, delete with wipe flags and reason', async () => {
    const device = { name: DEVICE, state: 'ACTIVE', policyName: POLICY, managementMode: 'DEVICE_OWNER', ownership: 'COMPANY_OWNED', softwareInfo: { androidVersion: '14' } };
    server.handlers.push(answer('ListDevicesResponse', { devices: [device], nextPageToken: 'n2' }));
    server.handlers.push(answer('ListDevicesResponse', {}));
    server.handlers.push(answer('Device', device));
    server.handlers.push((_q, res) => rpcError(res, 404, 'NOT_FOUND', 'Device not found'));
    server.handlers.push(answer('Device', { ...device, policyName: `${E}/policies/next` }));
    server.handlers.push(answer('Empty', {}));
    server.handlers.push((_q, res) => rpcError(res, 404, 'NOT_FOUND', 'Device not found'));
    const c = client();
    expect(await c.listDevices(E, undefined, 100)).toEqual({ devices: [device], nextPageToken: 'n2' });
    expect(await c.listDevices(E, 'n2', 100)).toEqual({ devices: [] });
    expect(await c.getDevice(DEVICE)).toEqual(device);
    expect(await c.getDevice(DEVICE)).toBeUndefined();
    expect(await c.setDevicePolicy(DEVICE, `${E}/policies/next`)).toEqual({ ...device, policyName: `${E}/policies/next` });
    expect(await c.deleteDevice(DEVICE, { wipeReasonMessage: 'Lost phone: work data removed', wipeDataFlags: ['WIPE_EXTERNAL_STORAGE', 'WIPE_ESIMS'] })).toBe('deleted');
    expect(await c.deleteDevice(DEVICE)).toBe('not-found');
    expect(server.seen.map((s) => [s.method, s.path, s.query])).toEqual([
      ['GET', `/v1/${E}/devices`, { pageSize: '100' }],
      ['GET', `/v1/${E}/devices`, { pageSize: '100', pageToken: 'n2' }],
      ['GET', `/v1/${DEVICE}`, {}],
      ['GET', `/v1/${DEVICE}`, {}],
      ['PATCH', `/v1/${DEVICE}`, { updateMask: 'policyName' }],
      ['DELETE', `/v1/${DEVICE}`, { wipeDataFlags: ['WIPE_EXTERNAL_STORAGE', 'WIPE_ESIMS'], wipeReasonMessage: 'Lost phone: work data removed' }],
      ['DELETE', `/v1/${DEVICE}`, {}],
    ]);
    conforms('Device', server.seen[4]!.body);
    expect(server.seen[4]!.body).toEqual({ policyName: `${E}/policies/next` });
  });

  it('commands: issueCommand with a Command body answers the Operation; operations get (404 → undefined) and list by pages', async () => {
    const op = { name: `${DEVICE}/operations/1701`, done: false, metadata: { '@type': 'type.googleapis.com/google.android.devicemanagement.v1.Command', type: 'LOCK', createTime: '2026-12-01T10:00:00Z' } };
    server.handlers.push(answer('Operation', op));
    server.handlers.push(answer('Operation', { ...op, done: true }));
    server.handlers.push((_q, res) => rpcError(res, 404, 'NOT_FOUND', 'Operation not found'));
    server.handlers.push(answer('ListOperationsResponse', { operations: [op], nextPageToken: 'o2' }));
    server.handlers.push(answer('ListOperationsResponse', { operations: [] }));
    const c = client();
    const command = { type: 'LOCK', duration: '600s' };
    conforms('Command', command);
    expect(await c.issueCommand(DEVICE, command)).toEqual(op);
    expect(await c.getOperation(op.name)).toEqual({ ...op, done: true });
    expect(await c.getOperation(op.name)).toBeUndefined();
    expect(await c.listOperations(DEVICE)).toEqual({ operations: [op], nextPageToken: 'o2' });
    expect(await c.listOperations(DEVICE, 'o2')).toEqual({ operations: [] });
    expect(server.seen.map((s) => [s.method, s.path, s.query])).toEqual([
      ['POST', `/v1/${DEVICE}:issueCommand`, {}],
      ['GET', `/v1/${op.name}`, {}],
      ['GET', `/v1/${op.name}`, {}],
      ['GET', `/v1/${DEVICE}/operations`, {}],
      ['GET', `/v1/${DEVICE}/operations`, { pageToken: 'o2' }],
    ]);
    expect(server.seen[0]!.body).toEqual(command);
  });

  it('enrollment tokens: create with the EnrollmentToken body (readCreatedToken reads the answer), delete', async () => {
    const plan = enrollmentTokenRequest({ tokenId: 'tok_1', profile: 'corp', ownership: 'corporate', policyName: POLICY, ttlSeconds: 3600, maxUses: 1 });
    conforms('EnrollmentToken', plan.body);
    const created = { name: `${E}/enrollmentTokens/T1`, value: 'SECRETVALUE', qrCode: JSON.stringify({ 'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE': { 'com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN': 'SECRETVALUE' } }), expirationTimestamp: '2026-12-01T11:00:00Z', ...plan.body };
    server.handlers.push(answer('EnrollmentToken', created));
    server.handlers.push(answer('Empty', {}));
    const c = client();
    expect(readCreatedToken(await c.createEnrollmentToken(E, plan.body)).value).toBe('SECRETVALUE');
    expect(await c.deleteEnrollmentToken(`${E}/enrollmentTokens/T1`)).toBe('deleted');
    expect(server.seen.map((s) => [s.method, s.path])).toEqual([['POST', `/v1/${E}/enrollmentTokens`], ['DELETE', `/v1/${E}/enrollmentTokens/T1`]]);
    expect(server.seen[0]!.body).toEqual(plan.body);
    expect(logs).toEqual([]);
  });

  it('keeps connections alive for reads and idempotent writes, but sends issueCommand and creates on a connection of their own', async () => {
    server.fallback = answer('Operation', { name: `${DEVICE}/operations/1` });
    server.handlers.push(answer('Device', { name: DEVICE }), answer('Device', { name: DEVICE }));
    const c = client();
    await c.getDevice(DEVICE);
    await c.getDevice(DEVICE);
    await c.issueCommand(DEVICE, { type: 'LOCK' });
    await c.issueCommand(DEVICE, { type: 'LOCK' });
    const [a, b, x, y] = server.seen.map((s) => s.port);
    expect(a).toBe(b);
    expect(new Set([a, x, y]).size).toBe(3);
  });

  it('refuses a name that is not of its kind before sending anything (no path tricks)', async () => {
    const c = client();
    for (const p of [c.getDevice(`${E}/devices/../../policies/x`), c.getDevice(POLICY), c.deletePolicy('enterprises/LC1/policies/a/b'), c.getOperation(DEVICE), c.listDevices('enterprises/')]) {
      await expect(p).rejects.toBeInstanceOf(UsageError);
    }
    await expect(c.setDevicePolicy(DEVICE, 'enterprises/LCother/policies/p')).rejects.toThrow(/not of the device's enterprise/);
    expect(server.seen).toEqual([]);
  });
});

describe('AmapiClient: retries and outcomes', () => {
  it('honours Retry-After on a 429 (RESOURCE_EXHAUSTED) and logs one JSON line per back-off', async () => {
    server.handlers.push((_q, res) => rpcError(res, 429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', { 'retry-after': '7' }));
    server.handlers.push(answer('Device', { name: DEVICE }));
    expect(await client().getDevice(DEVICE)).toEqual({ name: DEVICE });
    expect(waits).toEqual([7000]);
    expect(logs).toEqual([{ time: '2026-12-01T10:00:00.000Z', event: 'amapi.retry', operation: 'enterprises.devices.get', attempt: 1, status: 'RESOURCE_EXHAUSTED', httpStatus: 429, waitMs: 7000 }]);
  });

  it('retries a read on 5xx and on a dropped connection with exponential backoff, and gives up after maxAttempts', async () => {
    server.handlers.push((_q, res) => rpcError(res, 503, 'UNAVAILABLE', 'The service is currently unavailable.'));
    server.handlers.push(drop);
    server.handlers.push(answer('ListDevicesResponse', { devices: [] }));
    expect(await client().listDevices(E)).toEqual({ devices: [] });
    expect(waits).toEqual([500, 1000]); // full jitter at 0.5 of 1 s, 2 s
    waits = [];
    server.fallback = (_q, res) => rpcError(res, 500, 'INTERNAL', 'Internal error encountered.');
    const before = server.seen.length;
    const e = await rejection(client({ maxAttempts: 3 }).listDevices(E));
    expect(server.seen.length - before).toBe(3);
    expect(waits).toEqual([500, 1000]);
    expect([e.code, e.outcome, e.amapi.status, e.message]).toEqual(['unavailable', 'not-sent', 'INTERNAL', 'Android Management API enterprises.devices.list failed: Internal error encountered. (INTERNAL, HTTP 500)']);
  });

  it('never sends issueCommand twice: a timeout is outcome unknown, a 503 too, a 429 is not-sent; none retried', async () => {
    const c = client({ timeoutMs: 300 });
    server.handlers.push(hang);
    const timeout = await rejection(c.issueCommand(DEVICE, { type: 'LOCK' }));
    expect([timeout.outcome, timeout.code, timeout.amapi.httpStatus]).toEqual(['unknown', 'unavailable', 0]);
    expect(timeout.message).toBe(`Android Management API enterprises.devices.issueCommand LOCK failed: no answer from ${server.url.slice(0, -1)}: no answer within 0.3 s (UNAVAILABLE, no answer); the request may have been carried out (its outcome is unknown)`);
    server.handlers.push(drop);
    expect((await rejection(c.issueCommand(DEVICE, { type: 'LOCK' }))).outcome).toBe('unknown');
    server.handlers.push((_q, res) => rpcError(res, 503, 'UNAVAILABLE', 'backend'));
    expect((await rejection(c.issueCommand(DEVICE, { type: 'REBOOT' }))).outcome).toBe('unknown');
    server.handlers.push((_q, res) => rpcError(res, 429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', { 'retry-after': '1' }));
    const quota = await rejection(c.issueCommand(DEVICE, { type: 'LOCK' }));
    expect([quota.outcome, quota.code]).toEqual(['not-sent', 'rate_limited']);
    server.handlers.push((_q, res) => rpcError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'));
    expect((await rejection(c.issueCommand(DEVICE, { type: 'LOCK' }))).outcome).toBe('not-sent');
    expect(server.seen.filter((s) => s.path.endsWith(':issueCommand'))).toHaveLength(5);
    expect(waits).toEqual([]);
  });

  it('says not-sent when the connection never took the request (nothing listening)', async () => {
    const url = server.url;
    await server.close();
    const c = new AmapiClient({ endpoint: url, tokens: { token: async () => 't' }, sleep: async (ms) => void waits.push(ms), random: () => 0.5, maxAttempts: 2 });
    const e = await rejection(c.issueCommand(DEVICE, { type: 'LOCK' }));
    expect([e.outcome, e.message]).toEqual(['not-sent', `Android Management API enterprises.devices.issueCommand LOCK failed: no answer from ${url.slice(0, -1)}: ECONNREFUSED (connect) (UNAVAILABLE, no answer)`]);
    expect(waits).toEqual([]);
    // a create that never reached Google may be sent again
    expect((await rejection(c.createSignupUrl('p', 'https://x.example.com'))).outcome).toBe('not-sent');
    expect(waits).toEqual([500]);
    server = await startLocal();
  });

  it('resends an idempotent write whose answer was lost; a delete whose answer was lost and then finds nothing has landed', async () => {
    server.handlers.push(drop);
    server.handlers.push(answer('Policy', { name: POLICY, version: '4' }));
    expect(await client().patchPolicy(POLICY, policy)).toEqual({ name: POLICY, version: '4' });
    server.handlers.push(drop);
    server.handlers.push((_q, res) => rpcError(res, 404, 'NOT_FOUND', 'Device not found'));
    expect(await client().deleteDevice(DEVICE)).toBe('deleted');
    expect(server.seen.map((s) => s.method)).toEqual(['PATCH', 'PATCH', 'DELETE', 'DELETE']);
    // when the attempts run out, the outcome stays unknown even if the last answer was a 429
    server.handlers.push((_q, res) => rpcError(res, 502, 'UNAVAILABLE', 'Bad gateway'));
    server.handlers.push((_q, res) => rpcError(res, 429, 'RESOURCE_EXHAUSTED', 'Quota exceeded'));
    const e = await rejection(client({ maxAttempts: 2 }).deleteDevice(DEVICE));
    expect([e.outcome, e.amapi.status]).toEqual(['unknown', 'RESOURCE_EXHAUSTED']);
  });

  it('does not resend a create whose answer may have been lost (5xx, dropped after the request)', async () => {
    server.handlers.push((_q, res) => rpcError(res, 500, 'INTERNAL', 'oops'));
    const e = await rejection(client().createEnrollmentToken(E, enrollmentTokenRequest({ tokenId: 'tok_1', profile: 'p', ownership: 'personal', policyName: POLICY, ttlSeconds: 600 }).body));
    expect(e.outcome).toBe('unknown');
    server.handlers.push(drop);
    expect((await rejection(client().createEnterprise('p', 'signupUrls/x', 'tok'))).outcome).toBe('unknown');
    expect(server.seen).toHaveLength(2);
  });

  it('gets a fresh token once after a 401, and passes a token failure on as it was said', async () => {
    server.handlers.push((_q, res) => rpcError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'));
    server.handlers.push(answer('Enterprise', { name: E }));
    expect(await client().getEnterprise(E)).toEqual({ name: E });
    expect(invalidated).toBe(1);
    expect(server.seen.map((s) => s.headers.authorization)).toEqual(['Bearer ya29.t1', 'Bearer ya29.t2']);
    const { BackendError } = await import('../../src/errors.js');
    const failing = new AmapiClient({ endpoint: server.url, tokens: { token: async () => { throw new BackendError('unauthorized', 'Google refused to issue an access token to the service account x: invalid_grant', { hint: 'new key' }); } } });
    const e = await rejection(failing.getEnterprise(E));
    expect([e.code, e.outcome, e.message, e.hint]).toEqual(['unauthorized', 'not-sent', 'Google refused to issue an access token to the service account x: invalid_grant', 'new key']);
    expect(server.seen).toHaveLength(2);
  });

  it('keeps within the quota window: the call past the limit waits until the oldest leaves the window', async () => {
    server.fallback = answer('Enterprise', { name: E });
    const c = client({ quota: new QuotaWindow(2, 10_000) });
    await c.getEnterprise(E);
    clock += 1000;
    await c.getEnterprise(E);
    await c.getEnterprise(E);
    expect(waits).toEqual([9000]);
    expect(logs).toEqual([{ time: '2026-12-01T10:00:01.000Z', event: 'amapi.quota-wait', operation: 'enterprises.get', waitMs: 9000, used: 2 }]);
    expect(server.seen).toHaveLength(3);
  });

  it('a read that times out is retried, then fails unavailable (not-sent: a read changes nothing)', async () => {
    server.fallback = hang;
    const e = await rejection(client({ timeoutMs: 200, maxAttempts: 2 }).getDevice(DEVICE));
    expect([e.code, e.outcome]).toEqual(['unavailable', 'not-sent']);
    expect(server.seen).toHaveLength(2);
    expect(waits).toEqual([500]);
  });

  it('does not sleep for a day when Google asks for it: the error goes to the caller with the wait', async () => {
    server.handlers.push((_q, res) => rpcError(res, 429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', { 'retry-after': '3600' }));
    const e = await rejection(client().listDevices(E));
    expect([e.code, e.amapi.retryAfterMs]).toEqual(['rate_limited', 3_600_000]);
    expect(waits).toEqual([]);
  });
});

describe('AmapiClient: answers out of shape are protocol errors', () => {
  it.each([
    ['enterprises.get answering an array', (c: AmapiClient) => c.getEnterprise(E), [1, 2], 'not-sent', 'not a Enterprise object'],
    ['devices.list whose devices are not objects', (c: AmapiClient) => c.listDevices(E), { devices: ['x'] }, 'not-sent', 'devices is not a list of objects'],
    ['devices.list with a numeric nextPageToken', (c: AmapiClient) => c.listDevices(E), { devices: [], nextPageToken: 7 }, 'not-sent', 'nextPageToken is not a string'],
    ['issueCommand answering another device\'s operation', (c: AmapiClient) => c.issueCommand(DEVICE, { type: 'LOCK' }), { name: `${E}/devices/other/operations/1` }, 'unknown', `Operation.name is not ${DEVICE}/operations/{id}`],
    ['policies.patch answering another policy', (c: AmapiClient) => c.patchPolicy(POLICY, policy), { name: `${E}/policies/x` }, 'unknown', 'Policy.name is not the policy patched'],
    ['signupUrls.create answering an http URL', (c: AmapiClient) => c.createSignupUrl('p', 'https://x.example.com'), { name: 'signupUrls/a', url: 'http://evil.example.com' }, 'unknown', 'SignupUrl.url is not an https URL'],
    ['enterprises.create without a name', (c: AmapiClient) => c.createEnterprise('p', 'signupUrls/a', 't'), {}, 'unknown', 'Enterprise.name is not enterprises/{enterpriseId}'],
  ])('%s', async (_what, call, body, outcome, problem) => {
    server.handlers.push((_q, res) => json(res, 200, body));
    const e = await rejection(call(client()));
    expect([e.code, e.outcome]).toEqual(['protocol', outcome]);
    expect(e.message).toContain(`the answer is out of shape: ${problem} (HTTP 200)`);
    expect(server.seen).toHaveLength(1);
  });

  it('an answer that is not JSON, and an error page that is no google.rpc.Status', async () => {
    server.handlers.push((_q, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
    });
    const e = await rejection(client().getEnterprise(E));
    expect([e.code, e.message]).toEqual(['protocol', 'Android Management API enterprises.get failed: the answer is not JSON (HTTP 200)']);
    server.handlers.push((_q, res) => {
      res.writeHead(403, { 'content-type': 'text/html' });
      res.end('<html>forbidden</html>');
    });
    const f = await rejection(client().getEnterprise(E));
    expect([f.code, f.message]).toEqual(['forbidden', 'Android Management API enterprises.get failed: HTTP 403 with a body that is not a google.rpc.Status (PERMISSION_DENIED, HTTP 403)']);
    expect(f.hint).toMatch(/Android Management User role/);
  });
});

describe('AmapiClient: the endpoint', () => {
  it('takes https, or http to this machine only (the bearer token travels there)', () => {
    expect(new AmapiClient({ tokens: { token: async () => 't' } }).endpoint).toBe('https://androidmanagement.googleapis.com/');
    expect(new AmapiClient({ endpoint: 'http://127.0.0.1:9/amapi', tokens: { token: async () => 't' } }).endpoint).toBe('http://127.0.0.1:9/amapi/');
    expect(() => new AmapiClient({ endpoint: 'http://amapi.example.com/', tokens: { token: async () => 't' } })).toThrow(/--amapi-endpoint must be an https:\/\/ URL/);
  });
});

describe('AmapiClient against the fake Google (fake-amapi.ts)', () => {
  let fake: FakeAmapi;
  let c: AmapiClient;
  beforeEach(async () => {
    fake = await startFakeAmapi({ seed: 11 });
    const key = readServiceAccountKey(readFileSync(fake.credentialsFile, 'utf8'), fake.credentialsFile);
    c = new AmapiClient({ endpoint: fake.url, tokens: new GoogleTokenSource(key), sleep: async (ms) => void waits.push(ms), random: () => 0.5 });
  });
  afterEach(async () => {
    expect(fake.schemaErrors).toEqual([]);
    await fake.close();
  });

  async function enrolledDevice(): Promise<{ device: string; policyName: string; token: string }> {
    const policyName = `${fake.enterprise}/policies/emmctl-r1-fm-00000000000000ab`;
    await c.patchPolicy(policyName, policy);
    const plan = enrollmentTokenRequest({ tokenId: 'tok_1', profile: 'corp', ownership: 'corporate', policyName, ttlSeconds: 3600 });
    const token = readCreatedToken(await c.createEnrollmentToken(fake.enterprise, plan.body));
    return { device: await fake.devices.enroll(token.value), policyName, token: token.name };
  }

  it('a policy a device uses is in-use (FAILED_PRECONDITION), deletable once the device is gone; one access token for every call', async () => {
    const { device, policyName, token } = await enrolledDevice();
    expect(await c.deleteEnrollmentToken(token)).toBe('deleted');
    expect(await c.deleteEnrollmentToken(token)).toBe('not-found');
    expect(await c.deletePolicy(policyName)).toBe('in-use');
    expect(await c.deleteDevice(device)).toBe('deleted');
    expect(await c.getDevice(device)).toBeUndefined();
    expect(await c.deleteDevice(device)).toBe('not-found');
    expect(await c.deletePolicy(policyName)).toBe('deleted');
    expect(await c.getOperation(`${device}/operations/none`)).toBeUndefined();
    expect(fake.tokensIssued()).toBe(1);
  });

  it('retries a read through a 503, but sends issueCommand into a quota storm once and says not-sent', async () => {
    const { device } = await enrolledDevice();
    fake.faults.failNext('enterprises.devices.get', 503, 'UNAVAILABLE');
    expect(await c.getDevice(device)).toMatchObject({ name: device });
    expect(fake.requests.filter((r) => r.call === 'enterprises.devices.get').map((r) => r.status)).toEqual([503, 200]);
    fake.faults.quotaStorm(2, 4);
    const e = await rejection(c.issueCommand(device, { type: 'LOCK' }));
    expect([e.outcome, e.code, e.amapi.retryAfterMs]).toEqual(['not-sent', 'rate_limited', 4000]);
    expect(fake.requests.filter((r) => r.call === 'enterprises.devices.issueCommand').map((r) => r.status)).toEqual([429]);
    expect(fake.devices.executed(device)).toEqual([]);
  });
});
