// The fake Google the Android channel is tested against, driven here with plain HTTP (fetch) and
// a JWT signed with node:crypto, so that what the other Android tests lean on is itself proven:
// the token endpoint's checks, the paths and paging, Operations that complete on the device's
// tick, google.rpc.Status errors, the fault switches, signed Pub/Sub pushes, the schema checks,
// and simulated devices that apply their policy and report like Android Device Policy.
import { createPublicKey, createSign, generateKeyPairSync, verify, type JsonWebKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { specsAvailable } from './amapi-schema.js';
import { AMAPI_SCOPE, startFakeAmapi, type FakeAmapi } from './fake-amapi.js';

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

/** An RS256 assertion signed with node:crypto (not with the fake's own helper, so a shared mistake cannot pass). */
function assertion(claims: Record<string, unknown>, privateKey: string, kid?: string): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...(kid ? { kid } : {}) }));
  const input = `${header}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(input).sign(privateKey);
  return `${input}.${b64url(signature)}`;
}

function keyFile(fake: FakeAmapi): { client_email: string; private_key: string; private_key_id: string; token_uri: string; project_id: string; type: string } {
  return JSON.parse(readFileSync(fake.credentialsFile, 'utf8'));
}

async function exchange(fake: FakeAmapi, jwt: string, grant = 'urn:ietf:params:oauth:grant-type:jwt-bearer'): Promise<Answer> {
  const res = await fetch(keyFile(fake).token_uri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: grant, assertion: jwt }).toString() });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

function claims(fake: FakeAmapi, nowSeconds: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const key = keyFile(fake);
  return { iss: key.client_email, scope: AMAPI_SCOPE, aud: key.token_uri, iat: nowSeconds, exp: nowSeconds + 3600, ...over };
}

async function accessToken(fake: FakeAmapi, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const key = keyFile(fake);
  const a = await exchange(fake, assertion(claims(fake, nowSeconds), key.private_key, key.private_key_id));
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  return a.body.access_token as string;
}

function client(fake: FakeAmapi, token: string) {
  return async (method: string, path: string, opts: { query?: Record<string, string | string[]>; body?: unknown } = {}): Promise<Answer> => {
    const url = new URL(path, fake.url);
    for (const [k, v] of Object.entries(opts.query ?? {})) for (const x of Array.isArray(v) ? v : [v]) url.searchParams.append(k, x);
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers };
  };
}

const REPORTING = { softwareInfoEnabled: true, deviceSettingsEnabled: true, applicationReportsEnabled: true };
const POLICY = {
  passwordPolicies: [{ passwordScope: 'SCOPE_DEVICE', passwordQuality: 'NUMERIC_COMPLEX', passwordMinimumLength: 6 }],
  encryptionPolicy: 'ENABLED_WITHOUT_PASSWORD',
  applications: [{ packageName: 'com.microsoft.teams', installType: 'FORCE_INSTALLED' }, { packageName: 'com.king.candycrushsaga', installType: 'BLOCKED' }],
  statusReportingSettings: REPORTING,
  playStoreMode: 'BLACKLIST',
};

type Call = ReturnType<typeof client>;

let fake: FakeAmapi;
let call: Call;
let clock: Date;
let expectCleanSchema: boolean;

async function setUp(): Promise<void> {
  clock = new Date();
  fake = await startFakeAmapi({ seed: 7, now: () => clock });
  call = client(fake, await accessToken(fake));
  expectCleanSchema = true;
}

async function publish(id: string, body: Record<string, unknown> = POLICY): Promise<string> {
  const a = await call('PATCH', `v1/${fake.enterprise}/policies/${id}`, { body });
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  return a.body.name as string;
}

async function token(policy: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const a = await call('POST', `v1/${fake.enterprise}/enrollmentTokens`, { body: { policyName: policy, duration: '3600s', allowPersonalUsage: 'PERSONAL_USAGE_DISALLOWED', ...body } });
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  return a.body;
}

beforeEach(setUp);
afterEach(async () => {
  if (expectCleanSchema) expect(fake.schemaErrors).toEqual([]);
  await fake.close();
});

describe('token endpoint (RFC 7523 JWT bearer)', () => {
  it('writes a service account key file whose token_uri is the fake, readable by its owner only', () => {
    const key = keyFile(fake);
    expect(key).toMatchObject({ type: 'service_account', token_uri: `${fake.url}token` });
    expect(key.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(key.client_email).toMatch(/@.*\.iam\.gserviceaccount\.com$/);
    expect(statSync(fake.credentialsFile).mode & 0o077).toBe(0);
  });

  it('answers a valid assertion with a Bearer token that the API then accepts', async () => {
    const key = keyFile(fake);
    const a = await exchange(fake, assertion(claims(fake, Math.floor(clock.getTime() / 1000)), key.private_key, key.private_key_id));
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ access_token: expect.stringMatching(/^ya29\./), expires_in: 3599, token_type: 'Bearer' });
    expect((await client(fake, a.body.access_token as string)('GET', `v1/${fake.enterprise}`)).status).toBe(200);
  });

  it('refuses an assertion signed by another key, for another audience, scope or issuer, out of time, or another grant type', async () => {
    const key = keyFile(fake);
    const t = Math.floor(clock.getTime() / 1000);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const cases: Array<[string, string]> = [
      [assertion(claims(fake, t), other, key.private_key_id), 'invalid_grant'],
      [assertion(claims(fake, t), key.private_key, 'not-this-key'), 'invalid_grant'],
      [assertion(claims(fake, t, { aud: 'https://oauth2.googleapis.com/token' }), key.private_key), 'invalid_grant'],
      [assertion(claims(fake, t, { iss: 'someone@else.iam.gserviceaccount.com' }), key.private_key), 'invalid_grant'],
      [assertion(claims(fake, t, { scope: 'https://www.googleapis.com/auth/cloud-platform' }), key.private_key), 'invalid_scope'],
      [assertion(claims(fake, t - 7200), key.private_key), 'invalid_grant'],
      [assertion(claims(fake, t, { exp: t + 7200 }), key.private_key), 'invalid_grant'],
      ['not.a.jwt', 'invalid_grant'],
    ];
    for (const [jwt, error] of cases) {
      const a = await exchange(fake, jwt);
      expect(a.status, jwt).toBe(400);
      expect(a.body.error, jwt).toBe(error);
    }
    expect((await exchange(fake, assertion(claims(fake, t), key.private_key), 'client_credentials')).body.error).toBe('unsupported_grant_type');
    expect(fake.tokensIssued()).toBe(1); // the one setUp took
  });

  it('answers an API call without a valid token with 401 UNAUTHENTICATED, and once the token expires', async () => {
    for (const auth of [undefined, 'Bearer ya29.forged']) {
      const res = await fetch(new URL(`v1/${fake.enterprise}`, fake.url), { headers: auth ? { authorization: auth } : {} });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 401, message: expect.stringContaining('invalid authentication credentials'), status: 'UNAUTHENTICATED' } });
    }
    clock = new Date(clock.getTime() + 3600_000);
    expect((await call('GET', `v1/${fake.enterprise}`)).status).toBe(401);
  });
});

describe('policies', () => {
  it('upserts with patch (the version counts up), reads back, lists with paging, and deletes', async () => {
    const first = await call('PATCH', `v1/${fake.enterprise}/policies/p1`, { body: POLICY });
    expect(first.body).toMatchObject({ name: `${fake.enterprise}/policies/p1`, version: '1', playStoreMode: 'BLACKLIST' });
    const second = await call('PATCH', `v1/${fake.enterprise}/policies/p1`, { body: { ...POLICY, cameraAccess: 'CAMERA_ACCESS_DISABLED' } });
    expect(second.body).toMatchObject({ version: '2', cameraAccess: 'CAMERA_ACCESS_DISABLED' });
    const masked = await call('PATCH', `v1/${fake.enterprise}/policies/p1`, { query: { updateMask: 'cameraAccess' }, body: { cameraAccess: 'CAMERA_ACCESS_USER_CHOICE' } });
    expect(masked.body).toMatchObject({ version: '3', cameraAccess: 'CAMERA_ACCESS_USER_CHOICE', playStoreMode: 'BLACKLIST' });
    expect((await call('GET', `v1/${fake.enterprise}/policies/p1`)).body).toEqual(masked.body);

    for (let i = 2; i <= 12; i++) await publish(`p${i}`);
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const a = await call('GET', `v1/${fake.enterprise}/policies`, { query: { pageSize: '5', ...(pageToken ? { pageToken } : {}) } });
      seen.push(...(a.body.policies as Array<{ name: string }>).map((p) => p.name));
      pageToken = a.body.nextPageToken as string | undefined;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `${fake.enterprise}/policies/p${i + 1}`).sort());

    expect((await call('DELETE', `v1/${fake.enterprise}/policies/p12`)).body).toEqual({});
    const again = await call('DELETE', `v1/${fake.enterprise}/policies/p12`);
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });

  it('refuses to delete a policy a device references (400 FAILED_PRECONDITION) and deletes it once no device does', async () => {
    const p = await publish('in-use');
    await publish('other');
    const d = await fake.devices.enroll((await token(p)).value as string);
    const refused = await call('DELETE', `v1/${p}`);
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ error: { code: 400, message: expect.stringContaining('referenced by 1 device'), status: 'FAILED_PRECONDITION' } });
    expect((await call('PATCH', `v1/${d}`, { query: { updateMask: 'policyName' }, body: { policyName: 'other' } })).status).toBe(200);
    expect((await call('DELETE', `v1/${p}`)).status).toBe(200);
  });
});

describe.skipIf(!specsAvailable())('schema checks against the discovery document', () => {
  it('catches a misspelled field in a request body: refused with 400 INVALID_ARGUMENT and recorded', async () => {
    const { passwordPolicies, ...rest } = POLICY;
    const a = await call('PATCH', `v1/${fake.enterprise}/policies/bad`, { body: { ...rest, passwordPolicy: passwordPolicies } });
    expect(a.status).toBe(400);
    expect(a.body).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
    expect(fake.schemaErrors).toEqual(['enterprises.policies.patch request body: body.passwordPolicy unknown field "passwordPolicy" (did you mean "passwordPolicies"?)']);
    expect((await call('GET', `v1/${fake.enterprise}/policies/bad`)).status).toBe(404);
    expectCleanSchema = false;
  });

  it('catches a wrong enum value and an int64 sent as a number deep in a body, and an undocumented query parameter', async () => {
    const p = await publish('p');
    await call('POST', `v1/${fake.enterprise}/enrollmentTokens`, { body: { policyName: p, allowPersonalUsage: 'PERSONAL', duration: 3600 } });
    await call('GET', `v1/${fake.enterprise}/devices`, { query: { page_size: '5' } });
    expect(fake.schemaErrors).toEqual([
      expect.stringMatching(/^enterprises\.enrollmentTokens\.create request body: body\.allowPersonalUsage "PERSONAL" is not one of/),
      'enterprises.enrollmentTokens.create request body: body.duration must be a string (got the number 3600)',
      'enterprises.devices.list query: unknown parameter "page_size"',
    ]);
    expectCleanSchema = false;
  });

  it('holds its own answers to the schema too: every Device of a realistic fleet, every Operation and token conforms', async () => {
    const t = await token(await publish('p'), { allowPersonalUsage: 'PERSONAL_USAGE_ALLOWED' });
    const names = await fake.devices.enrollMany(t.value as string, 30);
    for (const n of names.slice(0, 5)) await call('POST', `v1/${n}:issueCommand`, { body: { type: 'LOCK' } });
    fake.devices.report();
    let pageToken: string | undefined;
    do {
      const a = await call('GET', `v1/${fake.enterprise}/devices`, { query: pageToken ? { pageToken } : {} });
      pageToken = a.body.nextPageToken as string | undefined;
    } while (pageToken);
    for (const n of names.slice(0, 5)) await call('GET', `v1/${n}/operations`);
    // afterEach asserts fake.schemaErrors is empty; prove here that the answers were checked at all.
    expect(fake.requests.filter((r) => r.call === 'enterprises.devices.list').length).toBeGreaterThanOrEqual(3);
  });
});

describe('enrollment tokens and enroll()', () => {
  it('creates a token whose QR payload carries its value, and a device enrolls with it fully managed', async () => {
    const p = await publish('fm');
    const t = await token(p, { oneTimeOnly: true, additionalData: '{"emmctl":{"token":"tok_1","profile":"corp"}}' });
    expect(t).toMatchObject({ name: expect.stringMatching(new RegExp(`^${fake.enterprise}/enrollmentTokens/[A-Za-z0-9]+$`)), value: expect.stringMatching(/^[A-Z]{20}$/), policyName: p, oneTimeOnly: true, duration: '3600s' });
    expect(t.expirationTimestamp).toBe(new Date(clock.getTime() + 3600_000).toISOString());
    const qr = JSON.parse(t.qrCode as string) as Record<string, Record<string, string>>;
    expect(qr['android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE']!['com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN']).toBe(t.value);

    const name = await fake.devices.enroll(t.value as string, { serial: 'SER123', model: 'Pixel 8 Pro' });
    expect(name).toMatch(new RegExp(`^${fake.enterprise}/devices/[0-9a-f]{16}$`));
    const d = (await call('GET', `v1/${name}`)).body;
    expect(d).toMatchObject({
      name, state: 'ACTIVE', ownership: 'COMPANY_OWNED', managementMode: 'DEVICE_OWNER', policyName: p, appliedPolicyName: p, appliedPolicyVersion: '1',
      enrollmentTokenName: t.name, enrollmentTokenData: '{"emmctl":{"token":"tok_1","profile":"corp"}}', hardwareInfo: { serialNumber: 'SER123', model: 'Pixel 8 Pro' },
      policyCompliant: true, nonComplianceDetails: [],
    });
    await expect(fake.devices.enroll(t.value as string)).rejects.toThrow('the one-time token was used already');
  });

  it('provisions a personally owned work profile from a token that allows personal usage (no serial revealed)', async () => {
    const t = await token(await publish('wp'), { allowPersonalUsage: 'PERSONAL_USAGE_ALLOWED' });
    const name = await fake.devices.enroll(t.value as string, { serial: 'SER999' });
    const d = fake.devices.get(name)!;
    expect(d).toMatchObject({ ownership: 'PERSONALLY_OWNED', managementMode: 'PROFILE_OWNER' });
    const hw = d.hardwareInfo as Record<string, string>;
    expect(hw.serialNumber).toBe(hw.enterpriseSpecificId);
    expect(hw.serialNumber).not.toBe('SER999');
    const wpc = fake.devices.get(await fake.devices.enroll(t.value as string, { mode: 'wpc' }))!;
    expect(wpc).toMatchObject({ ownership: 'COMPANY_OWNED', managementMode: 'PROFILE_OWNER' });
    await expect(fake.devices.enroll(t.value as string, { mode: 'fm' })).rejects.toThrow('work profile');
  });

  it('refuses enrollment with a deleted or expired token, and a token for a policy that does not exist', async () => {
    const p = await publish('p');
    const deleted = await token(p);
    expect((await call('DELETE', `v1/${deleted.name as string}`)).body).toEqual({});
    expect((await call('DELETE', `v1/${deleted.name as string}`)).status).toBe(404);
    await expect(fake.devices.enroll(deleted.value as string)).rejects.toThrow('unknown or deleted');
    const short = await token(p, { duration: '60s' });
    clock = new Date(clock.getTime() + 61_000);
    call = client(fake, await accessToken(fake, Math.floor(clock.getTime() / 1000)));
    await expect(fake.devices.enroll(short.value as string)).rejects.toThrow('expired');
    const missing = await call('POST', `v1/${fake.enterprise}/enrollmentTokens`, { body: { policyName: `${fake.enterprise}/policies/nope` } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: { status: 'INVALID_ARGUMENT', message: expect.stringContaining('not found') } });
    expect((await call('POST', `v1/${fake.enterprise}/enrollmentTokens`, { body: { policyName: p, duration: '30s' } })).status).toBe(400);
    expect(fake.devices.names()).toEqual([]);
  });
});

describe('enterprises', () => {
  it('answers 403 PERMISSION_DENIED for an enterprise the caller does not own, on every route under it', async () => {
    for (const [method, path] of [['GET', 'v1/enterprises/LCnotours'], ['GET', 'v1/enterprises/LCnotours/devices'], ['GET', 'v1/enterprises/LCnotours/devices/0123456789abcdef'], ['DELETE', 'v1/enterprises/LCnotours/policies/p']] as const) {
      const a = await call(method, path);
      expect(a.status, path).toBe(403);
      expect(a.body, path).toEqual({ error: { code: 403, message: 'The caller does not have permission', status: 'PERMISSION_DENIED' } });
    }
  });
});

describe('devices', () => {
  it('lists with pageSize and pageToken (10 by default, at most 100), every device once; a forged page token is refused', async () => {
    const t = await token(await publish('p'));
    const names = await fake.devices.enrollMany(t.value as string, 23);
    expect(new Set(names).size).toBe(23);
    const walk = async (query: Record<string, string>): Promise<{ pages: number[]; names: string[] }> => {
      const out = { pages: [] as number[], names: [] as string[] };
      let pageToken: string | undefined;
      do {
        const a = await call('GET', `v1/${fake.enterprise}/devices`, { query: { ...query, ...(pageToken ? { pageToken } : {}) } });
        expect(a.status).toBe(200);
        const devs = (a.body.devices ?? []) as Array<{ name: string }>;
        out.pages.push(devs.length);
        out.names.push(...devs.map((d) => d.name));
        pageToken = a.body.nextPageToken as string | undefined;
      } while (pageToken);
      return out;
    };
    expect(await walk({})).toEqual({ pages: [10, 10, 3], names: [...names].sort() });
    expect((await walk({ pageSize: '7' })).pages).toEqual([7, 7, 7, 2]);
    expect((await walk({ pageSize: '500' })).pages).toEqual([23]);
    const forged = await call('GET', `v1/${fake.enterprise}/devices`, { query: { pageToken: 'bm90LW91cnM' } });
    expect(forged.status).toBe(400);
    expect(forged.body).toMatchObject({ error: { status: 'INVALID_ARGUMENT', message: 'Invalid page token.' } });
  });

  it('moves a device to another policy with patch; the device applies it on its next report', async () => {
    const p1 = await publish('p1');
    const p2 = await publish('p2', { ...POLICY, cameraAccess: 'CAMERA_ACCESS_DISABLED' });
    const d = await fake.devices.enroll((await token(p1)).value as string);
    const patched = await call('PATCH', `v1/${d}`, { query: { updateMask: 'policyName' }, body: { policyName: p2 } });
    expect(patched.body).toMatchObject({ policyName: p2, appliedPolicyName: p1 });
    fake.devices.report(d);
    expect(fake.devices.get(d)).toMatchObject({ policyName: p2, appliedPolicyName: p2, appliedPolicyVersion: '1' });
    await publish('p2', POLICY);
    fake.devices.report(d);
    expect(fake.devices.get(d)).toMatchObject({ appliedPolicyVersion: '2' });
    expect((await call('PATCH', `v1/${d}`, { query: { updateMask: 'policyName' }, body: { policyName: 'nope' } })).status).toBe(400);
    expect((await call('PATCH', `v1/${d}`, { query: { updateMask: 'ownership' }, body: { ownership: 'PERSONALLY_OWNED' } })).status).toBe(400);
    expect((await call('PATCH', `v1/${fake.enterprise}/devices/0000000000000000`, { query: { updateMask: 'policyName' }, body: { policyName: p2 } })).status).toBe(404);
  });

  it('deletes (wipes) a device: gone from the API at once, one WIPE carried out with its flags, a second delete is 404', async () => {
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string);
    const a = await call('DELETE', `v1/${d}`, { query: { wipeDataFlags: ['WIPE_EXTERNAL_STORAGE'], wipeReasonMessage: 'lost' } });
    expect(a).toMatchObject({ status: 200, body: {} });
    expect((await call('GET', `v1/${d}`)).body).toEqual({ error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' } });
    expect(fake.devices.get(d)).toBeUndefined();
    expect(fake.devices.executed(d)).toEqual([{ type: 'WIPE', at: clock.toISOString(), effect: 'factory-reset', flags: ['WIPE_EXTERNAL_STORAGE'] }]);
    expect((await call('DELETE', `v1/${d}`)).status).toBe(404);
    expect(fake.devices.executed(d)).toHaveLength(1);
    // A wiped phone reports nothing any more; a name the fake never enrolled is a mistake in the test.
    fake.devices.report(d);
    expect(fake.devices.get(d)).toBeUndefined();
    expect(() => fake.devices.report(`${fake.enterprise}/devices/ffffffffffffffff`)).toThrow('the fake has no device');
  });
});

describe('issueCommand and Operations', () => {
  it('answers an Operation that is not done until the device carries the command out on its next report', async () => {
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string);
    const a = await call('POST', `v1/${d}:issueCommand`, { body: { type: 'LOCK', duration: '300s' } });
    expect(a.status).toBe(200);
    const op = a.body;
    expect(op).toEqual({
      name: expect.stringMatching(new RegExp(`^${d}/operations/\\d+$`)),
      metadata: { '@type': 'type.googleapis.com/google.android.devicemanagement.v1.Command', type: 'LOCK', createTime: clock.toISOString(), duration: '300s', userName: expect.stringMatching(/\/users\/\d+$/) },
    });
    expect((await call('GET', `v1/${op.name as string}`)).body.done).toBeUndefined();
    expect(fake.devices.executed(d)).toEqual([]);
    fake.devices.report(d);
    expect((await call('GET', `v1/${op.name as string}`)).body).toMatchObject({ done: true, response: { '@type': 'type.googleapis.com/google.protobuf.Empty' } });
    expect(fake.devices.executed(d)).toEqual([{ type: 'LOCK', at: clock.toISOString() }]);
    const list = await call('GET', `v1/${d}/operations`);
    expect((list.body.operations as Array<{ name: string }>).map((o) => o.name)).toEqual([op.name]);
    expect((await call('GET', `v1/${d}/operations/1`)).status).toBe(404);
  });

  it('cancels an Operation the device has not carried out yet: done with CANCELLED, never carried out', async () => {
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string);
    const op = (await call('POST', `v1/${d}:issueCommand`, { body: { type: 'REBOOT' } })).body;
    expect((await call('POST', `v1/${op.name as string}:cancel`)).body).toEqual({});
    fake.devices.report(d);
    expect((await call('GET', `v1/${op.name as string}`)).body).toMatchObject({ done: true, error: { code: 1 } });
    expect(fake.devices.executed(d)).toEqual([]);
  });

  it('fails a command the device cannot carry out with its error code, and expires one the device did not get to in time', async () => {
    const t = await token(await publish('p'), { allowPersonalUsage: 'PERSONAL_USAGE_ALLOWED' });
    const wp = await fake.devices.enroll(t.value as string);
    const reboot = (await call('POST', `v1/${wp}:issueCommand`, { body: { type: 'REBOOT' } })).body;
    const lock = (await call('POST', `v1/${wp}:issueCommand`, { body: { type: 'LOCK', duration: '60s' } })).body;
    fake.devices.set(wp, { online: false });
    fake.devices.report(wp);
    expect((await call('GET', `v1/${reboot.name as string}`)).body.done).toBeUndefined();
    clock = new Date(clock.getTime() + 120_000);
    call = client(fake, await accessToken(fake, Math.floor(clock.getTime() / 1000)));
    fake.devices.set(wp, { online: true });
    fake.devices.report(wp);
    expect((await call('GET', `v1/${reboot.name as string}`)).body).toMatchObject({ done: true, error: { code: 9 }, metadata: { errorCode: 'MANAGEMENT_MODE' } });
    expect((await call('GET', `v1/${lock.name as string}`)).body).toMatchObject({ done: true, error: { code: 4 } });
    expect(fake.devices.executed(wp)).toEqual([]);
  });

  it('relinquishes ownership of a company-owned work profile (the device leaves the enterprise), and refuses unknown devices and command types', async () => {
    const t = await token(await publish('p'), { allowPersonalUsage: 'PERSONAL_USAGE_ALLOWED' });
    const wpc = await fake.devices.enroll(t.value as string, { mode: 'wpc' });
    const op = (await call('POST', `v1/${wpc}:issueCommand`, { body: { type: 'RELINQUISH_OWNERSHIP' } })).body;
    fake.devices.report();
    expect((await call('GET', `v1/${op.name as string}`)).body).toMatchObject({ done: true, response: {} });
    expect((await call('GET', `v1/${wpc}`)).status).toBe(404);
    expect(fake.devices.executed(wpc).map((e) => e.type)).toEqual(['RELINQUISH_OWNERSHIP']);
    expect((await call('POST', `v1/${fake.enterprise}/devices/0123456789abcdef:issueCommand`, { body: { type: 'LOCK' } })).status).toBe(404);
    const other = await fake.devices.enroll(t.value as string);
    expect((await call('POST', `v1/${other}:issueCommand`, { body: { type: 'COMMAND_TYPE_UNSPECIFIED' } })).body).toMatchObject({ error: { status: 'INVALID_ARGUMENT' } });
  });
});

describe('simulated devices apply their policy and report like Android Device Policy', () => {
  it('installs FORCE_INSTALLED apps, removes BLOCKED ones, and reports INSTALLED and REMOVED apps', async () => {
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string);
    fake.devices.set(d, { apps: ['com.king.candycrushsaga', 'com.whatsapp'] });
    fake.devices.report(d);
    const apps = (fake.devices.get(d)!.applicationReports as Array<{ packageName: string; state: string }>).map((a) => `${a.packageName}:${a.state}`);
    expect(apps).toEqual(['com.google.android.apps.work.clouddpc:INSTALLED', 'com.microsoft.teams:INSTALLED', 'com.whatsapp:INSTALLED', 'com.king.candycrushsaga:REMOVED']);
  });

  it('removes every app the policy does not list unless playStoreMode is BLACKLIST (Google\'s default is the allowlist)', async () => {
    const d = await fake.devices.enroll((await token(await publish('allow', { ...POLICY, playStoreMode: undefined }))).value as string, {});
    fake.devices.set(d, { apps: ['com.whatsapp'] });
    fake.devices.report(d);
    const installed = (fake.devices.get(d)!.applicationReports as Array<{ packageName: string; state: string }>).filter((a) => a.state === 'INSTALLED').map((a) => a.packageName);
    expect(installed).toEqual(['com.google.android.apps.work.clouddpc', 'com.microsoft.teams']);
  });

  it('reports softwareInfo, deviceSettings and applicationReports only when statusReportingSettings turns them on', async () => {
    const quiet = await fake.devices.enroll((await token(await publish('quiet', { playStoreMode: 'BLACKLIST' }))).value as string);
    const q = fake.devices.get(quiet)!;
    expect(q).not.toHaveProperty('softwareInfo');
    expect(q).not.toHaveProperty('deviceSettings');
    expect(q).not.toHaveProperty('applicationReports');
    expect(q).toHaveProperty('hardwareInfo');
    expect(q).toHaveProperty('securityPosture');
    const loud = fake.devices.get(await fake.devices.enroll((await token(await publish('loud'))).value as string, { androidVersion: '13' }))!;
    expect(loud.softwareInfo).toMatchObject({ androidVersion: '13', securityPatchLevel: expect.stringMatching(/^\d{4}-\d\d-\d\d$/) });
    expect(loud.deviceSettings).toMatchObject({ isEncrypted: true, isDeviceSecure: true });
    expect(loud.apiLevel).toBe(33);
    expect(loud.appliedPasswordPolicies).toEqual(POLICY.passwordPolicies);
  });

  it('says a security update is available when the patch level is two months or more behind', async () => {
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string);
    const month = (back: number): string => {
      const t = new Date(Date.UTC(clock.getUTCFullYear(), clock.getUTCMonth() - back, 5));
      return `${t.getUTCFullYear()}-${String(t.getUTCMonth() + 1).padStart(2, '0')}-05`;
    };
    fake.devices.set(d, { patchLevel: month(1) });
    fake.devices.report(d);
    expect((fake.devices.get(d)!.softwareInfo as { systemUpdateInfo: unknown }).systemUpdateInfo).toEqual({ updateStatus: 'UP_TO_DATE' });
    fake.devices.set(d, { patchLevel: month(6) });
    fake.devices.report(d);
    expect((fake.devices.get(d)!.softwareInfo as { systemUpdateInfo: unknown }).systemUpdateInfo).toEqual({ updateStatus: 'SECURITY_UPDATE_AVAILABLE', updateReceivedTime: expect.stringMatching(/^\d{4}-\d\d-05T00:00:00\.000Z$/) });
  });

  it('reports USER_ACTION when the screen lock or encryption does not meet the policy, and clears it once they do', async () => {
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string, { compliant: false });
    expect(fake.devices.get(d)).toMatchObject({
      policyCompliant: false,
      deviceSettings: { isEncrypted: false, isDeviceSecure: false, encryptionStatus: 'INACTIVE' },
      nonComplianceDetails: [
        { settingName: 'passwordPolicies', nonComplianceReason: 'USER_ACTION', specificNonComplianceReason: 'PASSWORD_POLICIES_PASSWORD_NOT_SUFFICIENT' },
        { settingName: 'encryptionPolicy', nonComplianceReason: 'USER_ACTION' },
      ],
    });
    fake.devices.set(d, { passcode: { quality: 'NUMERIC', length: 4 }, encrypted: true });
    fake.devices.report(d);
    expect(fake.devices.get(d)!.nonComplianceDetails).toEqual([{ settingName: 'passwordPolicies', nonComplianceReason: 'USER_ACTION', specificNonComplianceReason: 'PASSWORD_POLICIES_PASSWORD_NOT_SUFFICIENT' }]);
    fake.devices.set(d, { passcode: { quality: 'NUMERIC_COMPLEX', length: 6 } });
    fake.devices.report(d);
    expect(fake.devices.get(d)).toMatchObject({ policyCompliant: true, nonComplianceDetails: [], deviceSettings: { isEncrypted: true, isDeviceSecure: true } });
  });

  it('reports APP_NOT_INSTALLED for an app Play does not have, and for an always-on VPN app that is not installed', async () => {
    fake.unavailableApps.add('com.example.gone');
    const p = await publish('apps', { ...POLICY, applications: [{ packageName: 'com.example.gone', installType: 'FORCE_INSTALLED' }], alwaysOnVpnPackage: { packageName: 'com.cisco.anyconnect.vpn.android.avf', lockdownEnabled: true } });
    const d = fake.devices.get(await fake.devices.enroll((await token(p)).value as string))!;
    expect(d.nonComplianceDetails).toEqual([
      { settingName: 'applications', fieldPath: 'applications[0]', packageName: 'com.example.gone', nonComplianceReason: 'APP_NOT_INSTALLED', installationFailureReason: 'NOT_FOUND' },
      { settingName: 'alwaysOnVpnPackage', packageName: 'com.cisco.anyconnect.vpn.android.avf', nonComplianceReason: 'APP_NOT_INSTALLED' },
    ]);
  });

  it('shows a compromised device as POTENTIALLY_COMPROMISED once it reports', async () => {
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string);
    fake.devices.set(d, { compromised: true });
    expect(fake.devices.get(d)!.securityPosture).toEqual({ devicePosture: 'POTENTIALLY_COMPROMISED', postureDetails: [{ securityRisk: 'COMPROMISED_OS', advice: [{ defaultMessage: expect.any(String) }] }] });
  });

  it.skipIf(!specsAvailable())('reports API_LEVEL for a setting newer than the device\'s Android version (Google\'s own descriptions), not on a newer one', async () => {
    const p = await publish('new', { ...POLICY, deviceConnectivityManagement: { usbDataAccess: 'ALLOW_USB_DATA_TRANSFER', wifiDirectSettings: 'DISALLOW_WIFI_DIRECT' } });
    const t = (await token(p)).value as string;
    const old = fake.devices.get(await fake.devices.enroll(t, { androidVersion: '12' }))!;
    expect(old.nonComplianceDetails).toEqual([{ settingName: 'deviceConnectivityManagement', fieldPath: 'deviceConnectivityManagement.wifiDirectSettings', nonComplianceReason: 'API_LEVEL' }]);
    const current = fake.devices.get(await fake.devices.enroll(t, { androidVersion: '14' }))!;
    expect(current.nonComplianceDetails).toEqual([]);
  });

  it('enrolls a seeded realistic mix: Android 12–15, varied patch levels, locks and apps, the same for the same seed', async () => {
    const t = (await token(await publish('p'))).value as string;
    const mix = (await fake.devices.enrollMany(t, 40)).map((n) => fake.devices.get(n)!);
    const versions = new Set(mix.map((d) => (d.softwareInfo as { androidVersion: string }).androidVersion));
    expect([...versions].sort()).toEqual(['12', '13', '14', '15']);
    expect(new Set(mix.map((d) => (d.softwareInfo as { securityPatchLevel: string }).securityPatchLevel)).size).toBeGreaterThan(3);
    expect(mix.some((d) => (d.deviceSettings as { isDeviceSecure: boolean }).isDeviceSecure === false)).toBe(true);
    expect(mix.some((d) => d.policyCompliant === false) && mix.some((d) => d.policyCompliant === true)).toBe(true);
    expect(new Set(mix.map((d) => (d.hardwareInfo as { model: string }).model)).size).toBeGreaterThan(3);

    const twin = await startFakeAmapi({ seed: 7, now: () => clock });
    try {
      const tc = client(twin, await accessToken(twin));
      await tc('PATCH', `v1/${twin.enterprise}/policies/p`, { body: POLICY });
      const tt = (await tc('POST', `v1/${twin.enterprise}/enrollmentTokens`, { body: { policyName: `${twin.enterprise}/policies/p`, allowPersonalUsage: 'PERSONAL_USAGE_DISALLOWED' } })).body;
      const again = (await twin.devices.enrollMany(tt.value as string, 40)).map((n) => twin.devices.get(n)!);
      const shape = (d: Record<string, unknown>): unknown => [d.softwareInfo, d.deviceSettings, (d.hardwareInfo as { model: string }).model, d.nonComplianceDetails];
      expect(again.map(shape)).toEqual(mix.map(shape));
    } finally {
      await twin.close();
    }
  });
});

describe('faults', () => {
  it('quotaStorm: the next n calls get 429 RESOURCE_EXHAUSTED with Retry-After and an ErrorInfo, then calls succeed', async () => {
    fake.faults.quotaStorm(2, 3);
    for (let i = 0; i < 2; i++) {
      const a = await call('GET', `v1/${fake.enterprise}/devices`);
      expect(a.status).toBe(429);
      expect(a.headers.get('retry-after')).toBe('3');
      expect(a.body).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'RATE_LIMIT_EXCEEDED' }] } });
    }
    expect((await call('GET', `v1/${fake.enterprise}/devices`)).status).toBe(200);
  });

  it('enforces Google\'s per-project quota by itself: beyond it every call is 429 with a Retry-After inside the window', async () => {
    const tight = await startFakeAmapi({ seed: 1, quota: { requests: 3, perMs: 60_000 } });
    try {
      const c = client(tight, await accessToken(tight));
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await c('GET', `v1/${tight.enterprise}`)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const a = await c('GET', `v1/${tight.enterprise}`);
      expect(a.body).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });
      const wait = Number(a.headers.get('retry-after'));
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(60);
      expect(tight.schemaErrors).toEqual([]);
    } finally {
      await tight.close();
    }
  });

  it('loseNextResponse: the command is carried out and the connection drops; looking it up finds it (no second one needed)', async () => {
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string);
    fake.faults.loseNextResponse('issueCommand');
    await expect(call('POST', `v1/${d}:issueCommand`, { body: { type: 'LOCK' } })).rejects.toThrow();
    expect(fake.requests.at(-1)).toMatchObject({ call: 'enterprises.devices.issueCommand', status: 200, lost: true });
    const ops = (await call('GET', `v1/${d}/operations`)).body.operations as Array<{ metadata: { type: string } }>;
    expect(ops.map((o) => o.metadata.type)).toEqual(['LOCK']);
    expect((await call('POST', `v1/${d}:issueCommand`, { body: { type: 'LOCK' } })).status).toBe(200);

    fake.faults.loseNextResponse('delete');
    await expect(call('DELETE', `v1/${d}`)).rejects.toThrow();
    expect((await call('DELETE', `v1/${d}`)).status).toBe(404);
    expect(fake.devices.executed(d).map((e) => e.type)).toEqual(['WIPE']);
  });

  it('failNext: the named method fails once with the given status and is not carried out', async () => {
    const p = await publish('p');
    fake.faults.failNext('enrollmentTokens.create', 503, 'UNAVAILABLE');
    const a = await call('POST', `v1/${fake.enterprise}/enrollmentTokens`, { body: { policyName: p } });
    expect(a).toMatchObject({ status: 503, body: { error: { code: 503, status: 'UNAVAILABLE' } } });
    expect((await call('GET', `v1/${fake.enterprise}`)).status).toBe(200);
    expect((await call('POST', `v1/${fake.enterprise}/enrollmentTokens`, { body: { policyName: p } })).status).toBe(200);
  });
});

describe('Pub/Sub push', () => {
  let receiver: Server;
  let received: Array<{ authorization?: string; body: Record<string, unknown> }>;
  let answer: number[];

  beforeEach(async () => {
    received = [];
    answer = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ authorization: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        res.writeHead(answer.shift() ?? 204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  });
  afterEach(async () => {
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('pushes ENROLLMENT, COMMAND and STATUS_REPORT in the documented body, with an OIDC token that verifies against certsUrl', async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/android/pubsub`;
    fake.push.to(url, 'https://emmctl.example.com/v1/android/pubsub');
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string);
    const op = (await call('POST', `v1/${d}:issueCommand`, { body: { type: 'LOCK' } })).body;
    fake.devices.report(d);
    await fake.push.flush();
    expect(received.map((m) => (m.body.message as { attributes: { notificationType: string } }).attributes.notificationType)).toEqual(['ENROLLMENT', 'COMMAND', 'STATUS_REPORT']);

    const jwks = (await (await fetch(fake.certsUrl)).json()) as { keys: Array<JsonWebKey & { kid: string }> };
    for (const m of received) {
      expect(m.body).toEqual({
        message: { data: expect.any(String), attributes: { notificationType: expect.any(String) }, messageId: expect.stringMatching(/^\d+$/), message_id: expect.any(String), publishTime: clock.toISOString(), publish_time: clock.toISOString() },
        subscription: fake.push.subscription,
      });
      const [h, p, s] = m.authorization!.replace(/^Bearer /, '').split('.') as [string, string, string];
      const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; kid: string };
      const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
      expect(header.alg).toBe('RS256');
      expect(verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'))).toBe(true);
      expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toMatchObject({ iss: 'https://accounts.google.com', aud: 'https://emmctl.example.com/v1/android/pubsub', email: fake.push.email, email_verified: true });
    }
    const data = received.map((m) => JSON.parse(Buffer.from((m.body.message as { data: string }).data, 'base64').toString()) as Record<string, unknown>);
    expect(data[0]).toMatchObject({ name: d, enrollmentTokenName: expect.any(String) });
    expect(data[1]).toMatchObject({ name: op.name, done: true });
    expect(data[2]).toMatchObject({ name: d, lastStatusReportTime: clock.toISOString() });
  });

  it('redelivers a push the endpoint did not acknowledge, and sends nothing once stopped', async () => {
    answer = [500, 503];
    fake.push.to(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, 'aud');
    const d = await fake.devices.enroll((await token(await publish('p'))).value as string);
    await fake.push.flush();
    expect(received).toHaveLength(3);
    expect(new Set(received.map((m) => (m.body.message as { messageId: string }).messageId)).size).toBe(1);
    expect(fake.push.deliveries).toEqual([{ type: 'ENROLLMENT', messageId: expect.any(String), status: 204, attempts: 3 }]);
    fake.push.stop();
    fake.devices.report(d);
    await fake.push.flush();
    expect(received).toHaveLength(3);
  });
});

describe('signup (signupUrls.create → enterprises.create)', () => {
  it('gives a signup URL that lands on the callback with an enterprise token, which creates an enterprise once', async () => {
    const project = keyFile(fake).project_id;
    const s = await call('POST', 'v1/signupUrls', { query: { projectId: project, callbackUrl: 'https://admin.example.com/done' } });
    expect(s.body).toEqual({ name: expect.stringMatching(/^signupUrls\/C[0-9a-f]+$/), url: expect.stringMatching(/^https:\/\/enterprise\.google\.com\/signup\/android\/email\?origin=android-api&thirdPartyToken=C[0-9a-f]+$/) });
    const id = (s.body.name as string).slice('signupUrls/'.length);
    const landing = await fetch(new URL(`signup/${id}`, fake.url), { redirect: 'manual' });
    expect(landing.status).toBe(302);
    const callback = new URL(landing.headers.get('location')!);
    expect(callback.origin + callback.pathname).toBe('https://admin.example.com/done');
    const enterpriseToken = callback.searchParams.get('enterpriseToken')!;
    expect(fake.completeSignup(s.body.url as string)).toBe(enterpriseToken);
    expect(fake.completeSignup(s.body.name as string)).toBe(enterpriseToken);
    const create = (t: string): Promise<Answer> => call('POST', 'v1/enterprises', { query: { projectId: project, signupUrlName: s.body.name as string, enterpriseToken: t }, body: { enterpriseDisplayName: 'Acme' } });
    expect((await create('wrong')).status).toBe(400);
    const e = await create(enterpriseToken);
    expect(e.body).toEqual({ name: expect.stringMatching(/^enterprises\/LC[0-9a-z]+$/), enterpriseDisplayName: 'Acme' });
    expect((await call('GET', `v1/${e.body.name as string}`)).body).toEqual(e.body);
    expect((await create(enterpriseToken)).status).toBe(400);
  });
});
