// Google credentials: the service account key file, the JWT bearer flow against a token endpoint
// on 127.0.0.1 that checks the assertion the way Google does (RS256 signature with the key's public
// half, kid, iss, aud = token_uri, scope, iat/exp), the cache, and the Pub/Sub push verifier against
// a JWKS endpoint. Clocks are injected; no timing is asserted.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importSPKI, jwtVerify, decodeProtectedHeader, SignJWT, importPKCS8 } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError, UsageError } from '../../src/errors.js';
import { GoogleTokenSource, loadServiceAccountKey, pushVerifier, readServiceAccountKey, AMAPI_SCOPE } from '../../src/channels/android/auth.js';
import { tempDir } from '../helpers/cli.js';
import { hang, json, keyFileJson, rsaKey, startLocal, type LocalServer, type Seen, type TestKey } from './local-google.js';

const key = rsaKey();
const keyBody = key.privateKeyPem.split('\n')[5]!;

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('readServiceAccountKey', () => {
  it('reads a key file as Google Cloud hands it out', () => {
    const k = readServiceAccountKey(keyFileJson(key, 'https://oauth2.googleapis.com/token'), 'sa.json');
    expect(k).toEqual({ clientEmail: 'emmctl@emmctl-test.iam.gserviceaccount.com', privateKey: key.privateKeyPem, privateKeyId: key.kid, tokenUri: 'https://oauth2.googleapis.com/token', projectId: 'emmctl-test' });
  });

  it('takes Google\'s token endpoint when the file names none', () => {
    const text = JSON.stringify({ ...JSON.parse(keyFileJson(key, 'x')), token_uri: undefined });
    expect(readServiceAccountKey(text, 'sa.json').tokenUri).toBe('https://oauth2.googleapis.com/token');
  });

  it.each([
    ['not JSON', `{"type": "service_account", "private_key": "${keyBody}`, /^sa\.json is not a JSON key file$/],
    ['an array', '[]', /not a service account key/],
    ['user credentials', JSON.stringify({ type: 'authorized_user', client_id: 'x', refresh_token: 'y' }), /"type" is "authorized_user", not "service_account"/],
    ['no client_email', keyFileJson(key, 'https://oauth2.googleapis.com/token', { client_email: undefined }), /"client_email" is missing/],
    ['a client_email that is no address', keyFileJson(key, 'https://oauth2.googleapis.com/token', { client_email: 'nobody' }), /"client_email" is not an e-mail address/],
    ['no private key', keyFileJson(key, 'https://oauth2.googleapis.com/token', { private_key: '' }), /"private_key" is missing or empty/],
    ['a private key that is no PEM', keyFileJson(key, 'https://oauth2.googleapis.com/token', { private_key: keyBody }), /"private_key" is not a PKCS#8 PEM private key/],
    ['a token_uri over plain http to another host', keyFileJson(key, 'http://oauth2.example.com/token'), /"token_uri" must be an https:\/\/ URL/],
    ['a token_uri that is no URL', keyFileJson(key, 'token'), /"token_uri" is not a URL/],
  ])('refuses %s, naming the file and the field, quoting no key material', (_what, text, message) => {
    const e = caught(() => readServiceAccountKey(text, 'sa.json'));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(message);
    expect(e.message).toContain('sa.json');
    expect(`${e.message} ${(e as UsageError).hint ?? ''}`).not.toContain(keyBody.slice(0, 16));
  });
});

describe('loadServiceAccountKey', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it('reads the flag\'s file, else GOOGLE_APPLICATION_CREDENTIALS, and warns when others may read it', async () => {
    const file = join(dir.path, 'sa.json');
    writeFileSync(file, keyFileJson(key, 'https://oauth2.googleapis.com/token'), { mode: 0o600 });
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    expect((await loadServiceAccountKey(file, {}, warn)).key.clientEmail).toBe('emmctl@emmctl-test.iam.gserviceaccount.com');
    expect((await loadServiceAccountKey(undefined, { GOOGLE_APPLICATION_CREDENTIALS: file }, warn)).file).toBe(file);
    expect(warnings).toEqual([]);
    if (process.platform === 'win32') return;
    chmodSync(file, 0o640);
    await loadServiceAccountKey(file, {}, warn);
    chmodSync(file, 0o644);
    await loadServiceAccountKey(file, {}, warn);
    expect(warnings).toEqual([
      `${file} can be read by its group: a service account key is a secret (chmod 600 ${file})`,
      `${file} can be read by every user: a service account key is a secret (chmod 600 ${file})`,
    ]);
  });

  it('says which flag or variable to set when none names a file, and which file it cannot read', async () => {
    const none = await rejection(loadServiceAccountKey(undefined, {}, () => {}));
    expect(none).toBeInstanceOf(UsageError);
    expect(none.message).toMatch(/--google-credentials FILE/);
    expect((none as UsageError).hint).toMatch(/GOOGLE_APPLICATION_CREDENTIALS/);
    const missing = await rejection(loadServiceAccountKey(join(dir.path, 'nope.json'), {}, () => {}));
    expect(missing.message).toBe(`cannot read the Google credentials ${join(dir.path, 'nope.json')}: ENOENT`);
  });
});

/** A token endpoint that checks the assertion as Google does and hands out numbered tokens. */
async function tokenEndpoint(k: TestKey, clock: () => Date = () => new Date(), expiresIn = 3600): Promise<LocalServer & { claims: Array<Record<string, unknown>> }> {
  const publicKey = await importSPKI(k.publicKeyPem, 'RS256');
  const claims: Array<Record<string, unknown>> = [];
  let n = 0;
  const server = await startLocal(async (q: Seen, res) => {
    const form = new URLSearchParams(q.text);
    if (q.method !== 'POST' || q.headers['content-type'] !== 'application/x-www-form-urlencoded' || form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' });
    }
    const assertion = form.get('assertion') ?? '';
    try {
      const header = decodeProtectedHeader(assertion);
      const { payload } = await jwtVerify(assertion, publicKey, { algorithms: ['RS256'], audience: server.url + 'token', issuer: 'emmctl@emmctl-test.iam.gserviceaccount.com', currentDate: clock() });
      claims.push({ ...payload, kid: header.kid, typ: header.typ });
    } catch {
      return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    }
    n++;
    json(res, 200, { access_token: `ya29.token-${n}`, expires_in: expiresIn, token_type: 'Bearer' });
  });
  return Object.assign(server, { claims });
}

describe('GoogleTokenSource', () => {
  let server: Awaited<ReturnType<typeof tokenEndpoint>>;
  afterEach(async () => server?.close());

  it('signs an RS256 assertion for the androidmanagement scope, caches the token and renews it shortly before it expires', async () => {
    let now = new Date('2026-12-01T10:00:00Z');
    server = await tokenEndpoint(key, () => now);
    const source = new GoogleTokenSource(readServiceAccountKey(keyFileJson(key, server.url + 'token'), 'sa.json'), { now: () => now });
    const [a, b] = await Promise.all([source.token(), source.token()]);
    expect([a, b]).toEqual(['ya29.token-1', 'ya29.token-1']);
    expect(server.seen).toHaveLength(1);
    const iat = Math.floor(now.getTime() / 1000);
    expect(server.claims[0]).toEqual({ iss: 'emmctl@emmctl-test.iam.gserviceaccount.com', aud: server.url + 'token', scope: AMAPI_SCOPE, iat, exp: iat + 3600, kid: key.kid, typ: 'JWT' });
    now = new Date(now.getTime() + 3000_000); // 50 minutes: still more than five left
    expect(await source.token()).toBe('ya29.token-1');
    expect(server.seen).toHaveLength(1);
    now = new Date(now.getTime() + 301_000); // less than five minutes left
    expect(await source.token()).toBe('ya29.token-2');
    expect(server.seen).toHaveLength(2);
    source.invalidate();
    expect(await source.token()).toBe('ya29.token-3');
  });

  it('says plainly that Google refused the key (invalid_grant), without any key material', async () => {
    server = await tokenEndpoint(rsaKey()); // checks against another key: the signature is wrong
    const source = new GoogleTokenSource(readServiceAccountKey(keyFileJson(key, server.url + 'token'), 'sa.json'));
    const e = await rejection(source.token());
    expect(e).toBeInstanceOf(BackendError);
    expect((e as BackendError).code).toBe('unauthorized');
    expect(e.message).toBe(`Google refused to issue an access token to the service account emmctl@emmctl-test.iam.gserviceaccount.com (${server.url}token): invalid_grant (Invalid JWT Signature.) (HTTP 400)`);
    expect((e as BackendError).hint).toMatch(/deleted or disabled|clock/);
    const assertion = new URLSearchParams(server.seen[0]!.text).get('assertion')!;
    for (const text of [e.message, (e as BackendError).hint ?? '']) {
      expect(text).not.toContain(keyBody.slice(0, 16));
      expect(text).not.toContain(assertion.split('.')[2]!.slice(0, 16));
    }
  });

  it('tells an unreachable or failing token endpoint (unavailable) from an answer out of shape (protocol)', async () => {
    server = await tokenEndpoint(key);
    const source = (timeoutMs = 30_000) => new GoogleTokenSource(readServiceAccountKey(keyFileJson(key, server.url + 'token'), 'sa.json'), { timeoutMs });
    server.handlers.push((_q, res) => json(res, 503, { error: 'backend_error' }));
    const busy = await rejection(source().token());
    expect([(busy as BackendError).code, busy.message]).toEqual(['unavailable', `cannot get an access token for emmctl@emmctl-test.iam.gserviceaccount.com from ${server.url}token: backend_error (HTTP 503)`]);
    server.handlers.push((_q, res) => json(res, 200, { access_token: 'x', token_type: 'Bearer' }));
    const noExpiry = await rejection(source().token());
    expect([(noExpiry as BackendError).code, noExpiry.message]).toEqual(['protocol', `the token endpoint ${server.url}token answered without a positive expires_in`]);
    server.handlers.push((_q, res) => json(res, 200, { access_token: 'x', expires_in: 3600, token_type: 'mac' }));
    expect((await rejection(source().token())).message).toMatch(/token_type other than Bearer/);
    server.handlers.push(hang);
    const timeout = await rejection(source(200).token());
    expect([(timeout as BackendError).code, timeout.message]).toEqual(['unavailable', `cannot get an access token for emmctl@emmctl-test.iam.gserviceaccount.com from ${server.url}token: no answer within 0.2 s`]);
  });

  it('refuses a private key that is no RSA key before sending anything', async () => {
    server = await tokenEndpoint(key);
    const bad = readServiceAccountKey(keyFileJson(key, server.url + 'token', { private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }), 'sa.json');
    const e = await rejection(new GoogleTokenSource(bad).token());
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe('the private_key of the service account emmctl@emmctl-test.iam.gserviceaccount.com is not an RSA key jose can sign with');
    expect(server.seen).toEqual([]);
  });
});

describe('pushVerifier', () => {
  const google = rsaKey();
  const stranger = rsaKey();
  let certs: LocalServer;
  const now = new Date('2026-12-01T10:00:00Z');
  const audience = 'https://emm.example.com/v1/android/pubsub';
  const email = 'pubsub-push@emmctl-test.iam.gserviceaccount.com';

  beforeEach(async () => {
    certs = await startLocal((_q, res) => json(res, 200, { keys: [google.jwk] }));
  });
  afterEach(async () => certs.close());

  async function token(opts: { signer?: TestKey; kid?: string; iss?: string; aud?: string; email?: string; verified?: boolean; exp?: number } = {}): Promise<string> {
    const signer = opts.signer ?? google;
    const iat = Math.floor(now.getTime() / 1000);
    return new SignJWT({ email: opts.email ?? email, email_verified: opts.verified ?? true, azp: '1234', sub: '1234' })
      .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? signer.kid, typ: 'JWT' })
      .setIssuer(opts.iss ?? 'https://accounts.google.com')
      .setAudience(opts.aud ?? audience)
      .setIssuedAt(iat)
      .setExpirationTime(opts.exp ?? iat + 3600)
      .sign(await importPKCS8(signer.privateKeyPem, 'RS256'));
  }

  it('accepts Google\'s token for the audience and the push service account (both issuer spellings)', async () => {
    const v = pushVerifier({ audience, email, certsUrl: certs.url, now: () => now });
    await v.verify(`Bearer ${await token()}`);
    await v.verify(`Bearer ${await token({ iss: 'accounts.google.com' })}`);
    expect(certs.seen).toHaveLength(1); // the keys are cached
  });

  it.each([
    ['no header', undefined, /no Authorization header/],
    ['a Basic header', 'Basic dXNlcjpwYXNz', /not a Bearer JWT/],
  ])('refuses %s', async (_what, header, message) => {
    const e = await rejection(pushVerifier({ audience, email, certsUrl: certs.url }).verify(header));
    expect([(e as BackendError).code, e.message]).toEqual(['unauthorized', expect.stringMatching(message)]);
  });

  it.each([
    ['another audience', { aud: 'https://other.example.com/push' }, 'the token is for another audience than --pubsub-audience'],
    ['another issuer', { iss: 'https://evil.example.com' }, 'the token was not issued by Google (accounts.google.com)'],
    ['another service account', { email: 'someone@evil.iam.gserviceaccount.com' }, 'the token was issued to another service account than --pubsub-service-account'],
    ['an unverified e-mail', { verified: false }, 'the token\'s e-mail is not verified'],
    ['an expired token', { exp: Math.floor(now.getTime() / 1000) - 3600 }, 'the token has expired'],
    ['a key that is not Google\'s', { signer: stranger }, 'the token is signed with a key that is not one of Google\'s'],
    ['a forged signature under Google\'s key id', { signer: stranger, kid: google.kid }, 'the token\'s signature is not valid'],
  ])('refuses %s, saying what failed and quoting no token', async (_what, opts, message) => {
    const t = await token(opts);
    const e = await rejection(pushVerifier({ audience, email, certsUrl: certs.url, now: () => now }).verify(`Bearer ${t}`));
    expect(e).toBeInstanceOf(BackendError);
    expect([(e as BackendError).code, e.message]).toEqual(['unauthorized', `Pub/Sub push refused: ${message}`]);
    expect(e.message).not.toContain(t.split('.')[1]!.slice(0, 12));
  });

  it('says the keys could not be fetched (unavailable, so Pub/Sub delivers again) rather than refusing', async () => {
    await certs.close();
    const e = await rejection(pushVerifier({ audience, email, certsUrl: certs.url, now: () => now }).verify(`Bearer ${await token()}`));
    expect([(e as BackendError).code, e.message]).toEqual(['unavailable', `Pub/Sub push not checked: Google's signing keys could not be fetched from ${certs.url}`]);
    certs = await startLocal();
    certs.fallback = (_q, res) => json(res, 500, { error: 'backend' });
    const f = await rejection(pushVerifier({ audience, email, certsUrl: certs.url, now: () => now }).verify(`Bearer ${await token()}`));
    expect([(f as BackendError).code, f.message]).toEqual(['unavailable', `Pub/Sub push not checked: Google's signing keys could not be fetched from ${certs.url}`]);
    certs.fallback = (_q, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('<html>');
    expect(((await rejection(pushVerifier({ audience, email, certsUrl: certs.url, now: () => now }).verify(`Bearer ${await token()}`))) as BackendError).code).toBe('unavailable');
  });
});
