// `emmctl android signup`, the built CLI as a child process against a stand-in for Google on
// 127.0.0.1 (token endpoint + AMAPI): what it asks Google (signupUrls.create, enterprises.create,
// with the service account's token and the Enterprise body checked against the discovery schema),
// what it prints where, and how it fails: no terminal, no credentials, a refused key, a lost
// answer to enterprises.create (exit 7, never sent again).
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cliEnv, runCli, tempDir } from '../helpers/cli.js';
import { checkAmapi, specsAvailable } from './amapi-schema.js';
import { startFakeAmapi, type FakeAmapi } from './fake-amapi.js';
import { drop, json, keyFileJson, rpcError, rsaKey, startLocal, type LocalServer } from './local-google.js';

const key = rsaKey();
const E = 'enterprises/LC04ab12cd';
const SIGNUP = 'signupUrls/C9f8e7d6c5b4a3';
const SIGNUP_URL = 'https://enterprise.google.com/android/enroll?c=C9f8e7d6c5b4a3';
const ENTERPRISE_TOKEN = 'EAJbT7yXyzd-Qk3fR_2w';
const CALLBACK = 'https://emm.example.com/android/signup';

let google: LocalServer;
let dir: ReturnType<typeof tempDir>;
let keyFile: string;
let tokenRequests: number;

/** Google as signup sees it: the token endpoint, then the AMAPI calls scripted in `handlers`. */
beforeEach(async () => {
  tokenRequests = 0;
  google = await startLocal((q, res) => {
    if (q.path === '/token') {
      tokenRequests++;
      return json(res, 200, { access_token: 'ya29.signup', expires_in: 3599, token_type: 'Bearer' });
    }
    if (q.headers.authorization !== 'Bearer ya29.signup') return rpcError(res, 401, 'UNAUTHENTICATED', 'Request is missing required authentication credential.');
    if (q.method === 'POST' && q.path === '/v1/signupUrls') return json(res, 200, { name: SIGNUP, url: SIGNUP_URL });
    if (q.method === 'POST' && q.path === '/v1/enterprises') {
      if (q.query.enterpriseToken !== ENTERPRISE_TOKEN || q.query.signupUrlName !== SIGNUP) return rpcError(res, 400, 'INVALID_ARGUMENT', 'The enterprise token is invalid or has expired.');
      return json(res, 200, { name: E, ...(q.body as object) });
    }
    return rpcError(res, 404, 'NOT_FOUND', 'Requested entity was not found.');
  });
  dir = tempDir();
  keyFile = join(dir.path, 'sa.json');
  writeFileSync(keyFile, keyFileJson(key, `${google.url}token`), { mode: 0o600 });
});
afterEach(async () => {
  await google.close();
  dir.cleanup();
});

const amapiCalls = () => google.seen.filter((s) => s.path.startsWith('/v1/'));

function signup(extra: string[], input?: string, env: Record<string, string | undefined> = {}) {
  return runCli(['android', 'signup', '--callback-url', CALLBACK, '--amapi-endpoint', google.url, ...extra], { input, env });
}

describe('emmctl android signup', () => {
  it('creates a signup URL, shows it, takes the enterprise token from stdin, creates the enterprise and prints its name', async () => {
    const r = await signup(['--google-credentials', keyFile, '--admin-email', 'it@example.com', '--display-name', 'Acme Corp', '--enterprise-token-stdin'], `${ENTERPRISE_TOKEN}\n`);
    expect(r.stderr).not.toMatch(/error/);
    expect([r.code, r.stdout]).toEqual([0, `${E}\n`]);
    expect(r.stderr).toContain(`Open this URL in a browser and sign up with the Google account that is to administer the enterprise:\n\n  ${SIGNUP_URL}\n`);
    expect(r.stderr).toContain(`Google then opens ${CALLBACK} with ?enterpriseToken=… appended.`);
    expect(r.stderr).toContain(`Next: emmctl server --android-enterprise ${E} --google-credentials ${keyFile}`);
    expect(r.stderr).not.toContain(ENTERPRISE_TOKEN);
    expect(amapiCalls().map((s) => [s.method, s.path, s.query, s.body])).toEqual([
      ['POST', '/v1/signupUrls', { projectId: 'emmctl-test', callbackUrl: CALLBACK, adminEmail: 'it@example.com' }, undefined],
      ['POST', '/v1/enterprises', { projectId: 'emmctl-test', signupUrlName: SIGNUP, enterpriseToken: ENTERPRISE_TOKEN }, { enterpriseDisplayName: 'Acme Corp' }],
    ]);
    if (specsAvailable()) expect(checkAmapi('Enterprise', amapiCalls()[1]!.body)).toEqual([]);
    expect(tokenRequests).toBe(1);
  });

  it('takes the whole callback URL pasted, GOOGLE_APPLICATION_CREDENTIALS, --project-id, and prints -o json exactly', async () => {
    const r = await signup(['--project-id', 'acme-emm', '--enterprise-token-stdin', '-o', 'json'], `${CALLBACK}?enterpriseToken=${ENTERPRISE_TOKEN}\n`, { GOOGLE_APPLICATION_CREDENTIALS: keyFile });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ enterprise: E, projectId: 'acme-emm', signupUrl: SIGNUP });
    expect(amapiCalls().map((s) => s.query.projectId)).toEqual(['acme-emm', 'acme-emm']);
    expect(amapiCalls()[1]!.query.enterpriseToken).toBe(ENTERPRISE_TOKEN);
  });

  it('without a terminal and without --enterprise-token-stdin, says so before asking Google anything (exit 2)', async () => {
    const r = await signup(['--google-credentials', keyFile]);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toContain('error: no terminal to paste the enterprise token on; nothing was done');
    expect(r.stderr).toContain('hint: pass --enterprise-token-stdin');
    expect(google.seen).toEqual([]);
  });

  it('without credentials, names the flag and the variable (exit 2)', async () => {
    const r = await signup(['--enterprise-token-stdin'], ENTERPRISE_TOKEN, { GOOGLE_APPLICATION_CREDENTIALS: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: no Google credentials: pass --google-credentials FILE');
    expect(r.stderr).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    expect(google.seen).toEqual([]);
  });

  it('warns about a key file others can read, and refuses what is not an enterprise token without creating anything', async () => {
    if (process.platform !== 'win32') chmodSync(keyFile, 0o644);
    const r = await signup(['--google-credentials', keyFile, '--enterprise-token-stdin'], 'not a token; rm -rf /\n');
    expect(r.code).toBe(2);
    if (process.platform !== 'win32') expect(r.stderr).toContain(`warning: ${keyFile} can be read by every user: a service account key is a secret (chmod 600 ${keyFile})`);
    expect(r.stderr).toContain('error: that is not an enterprise token (nor a URL with ?enterpriseToken=…); nothing was created');
    expect(amapiCalls().map((s) => s.path)).toEqual(['/v1/signupUrls']);
  });

  it('says what Google said when it refuses the enterprise token (exit 1)', async () => {
    const r = await signup(['--google-credentials', keyFile, '--enterprise-token-stdin'], 'EAexpiredtoken\n');
    expect([r.code, r.stdout]).toEqual([1, '']);
    expect(r.stderr).toContain('error: Android Management API enterprises.create failed: The enterprise token is invalid or has expired. (INVALID_ARGUMENT, HTTP 400)');
  });

  it('a lost answer to enterprises.create is said as unknown (exit 7) and never sent again', async () => {
    google.handlers.push((q, res) => json(res, 200, { access_token: 'ya29.signup', expires_in: 3599, token_type: 'Bearer' }));
    google.handlers.push((q, res) => json(res, 200, { name: SIGNUP, url: SIGNUP_URL }));
    google.handlers.push(drop);
    const r = await signup(['--google-credentials', keyFile, '--enterprise-token-stdin'], ENTERPRISE_TOKEN);
    expect([r.code, r.stdout]).toEqual([7, '']);
    expect(r.stderr).toContain('error: Google may or may not have created the enterprise: Android Management API enterprises.create failed: no answer from');
    expect(r.stderr).toContain('the request may have been carried out (its outcome is unknown)');
    expect(r.stderr).toContain('hint: the enterprise token is used once, so do not simply run this again');
    expect(amapiCalls().map((s) => s.path)).toEqual(['/v1/signupUrls', '/v1/enterprises']);
  });

  it('a key Google refuses: the OAuth error, plainly, and nothing of the key (exit 1)', async () => {
    google.handlers.push((_q, res) => json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }));
    const r = await signup(['--google-credentials', keyFile, '--enterprise-token-stdin'], ENTERPRISE_TOKEN);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: Google refused to issue an access token to the service account emmctl@emmctl-test.iam.gserviceaccount.com (${google.url}token): invalid_grant (Invalid JWT Signature.) (HTTP 400)`);
    expect(r.stderr).toMatch(/hint: the key may have been deleted or disabled/);
    expect(r.stderr).not.toContain(key.privateKeyPem.split('\n')[3]!.slice(0, 20));
    expect(amapiCalls()).toEqual([]);
  });

  it('a key file whose private key is no RSA key is for the admin to fix (exit 2), before any API call', async () => {
    writeFileSync(keyFile, keyFileJson(key, `${google.url}token`, { private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }), { mode: 0o600 });
    const r = await signup(['--google-credentials', keyFile, '--enterprise-token-stdin'], ENTERPRISE_TOKEN);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toContain('error: the private_key of the service account emmctl@emmctl-test.iam.gserviceaccount.com is not an RSA key jose can sign with');
    expect(google.seen).toEqual([]);
  });

  it('refuses a plain-http endpoint elsewhere than this machine, and a callback URL that is none (exit 2)', async () => {
    const a = await runCli(['android', 'signup', '--callback-url', CALLBACK, '--amapi-endpoint', 'http://amapi.example.com/', '--google-credentials', keyFile, '--enterprise-token-stdin'], { input: ENTERPRISE_TOKEN });
    expect([a.code, a.stderr]).toEqual([2, expect.stringContaining('error: --amapi-endpoint must be an https:// URL (http:// only to 127.0.0.1 or localhost)')]);
    const b = await signup(['--callback-url', 'emm.example.com', '--google-credentials', keyFile, '--enterprise-token-stdin'], ENTERPRISE_TOKEN);
    expect([b.code, b.stderr]).toEqual([2, expect.stringContaining('error: --callback-url is not a URL')]);
    expect(google.seen).toEqual([]);
  });
});

describe('emmctl android signup against the fake Google (fake-amapi.ts)', () => {
  let fake: FakeAmapi;
  beforeEach(async () => {
    fake = await startFakeAmapi({ seed: 5 });
  });
  afterEach(async () => {
    expect(fake.schemaErrors).toEqual([]);
    await fake.close();
  });

  it('the admin finishes the signup page shown, the token comes back on stdin, and the enterprise is Google\'s', async () => {
    // The CLI waits on stdin after showing the URL; the test plays the admin's browser in between.
    const child = spawn(process.execPath, [BIN, 'android', 'signup', '--callback-url', CALLBACK, '--amapi-endpoint', fake.url, '--google-credentials', fake.credentialsFile, '--enterprise-token-stdin', '-o', 'json'], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const m = /^ {2}(https:\/\/\S+)$/m.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on('close', () => reject(new Error(`exited before showing a URL: ${stderr}`)));
    });
    child.stdin.end(`${CALLBACK}?enterpriseToken=${fake.completeSignup(url)}\n`);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect([code, stderr]).toEqual([0, expect.stringContaining('Next: emmctl server --android-enterprise enterprises/')]);
    const out = JSON.parse(stdout) as { enterprise: string; projectId: string; signupUrl: string };
    expect(out.enterprise).toMatch(/^enterprises\/LC[A-Za-z0-9]+$/);
    const key = JSON.parse(readFileSync(fake.credentialsFile, 'utf8')) as { project_id: string };
    expect(out.projectId).toBe(key.project_id);
    expect(fake.requests.filter((r) => r.call !== 'token').map((r) => [r.call, r.status])).toEqual([['signupUrls.create', 200], ['enterprises.create', 200]]);
    expect(fake.tokensIssued()).toBe(1);
  });
});
