// Microsoft's own client library logs in against the fake login endpoint: what @azure/msal-node
// fetches (the tenant's OpenID configuration, then the token endpoint) is what the fake serves,
// for a client secret and for a certificate assertion (SHA-256 thumbprint with x5c, PS256; SHA-1
// thumbprint, RS256). MSAL runs in a child process, as in the CLI, trusting the fake's https CA
// through NODE_EXTRA_CA_CERTS (MSAL accepts only https authorities). Skips until msal-node is installed.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { GRAPH_SCOPE, startFakeGraph, type FakeGraph } from './fake-graph.js';
import { graph } from './fake-client.js';

function msalEntry(): string | undefined {
  try {
    return createRequire(join(ROOT, 'package.json')).resolve('@azure/msal-node');
  } catch {
    return undefined;
  }
}

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

// The child acquires one token per credential and prints what happened, one JSON line each.
const CHILD = `
const [entry, authority, clientId, secret, pem, scope] = process.argv.slice(2);
const msal = await import(entry);
const { readFileSync } = await import('node:fs');
const { createHash, X509Certificate } = await import('node:crypto');
const text = readFileSync(pem, 'utf8');
const at = text.indexOf('-----BEGIN CERTIFICATE-----');
const privateKey = text.slice(0, at), certPem = text.slice(at);
const raw = new X509Certificate(certPem).raw;
const credentials = {
  secret: { clientSecret: secret },
  wrongSecret: { clientSecret: secret + 'x' },
  certSha256: { clientCertificate: { thumbprintSha256: createHash('sha256').update(raw).digest('hex'), privateKey, x5c: certPem } },
  certSha1: { clientCertificate: { thumbprint: createHash('sha1').update(raw).digest('hex'), privateKey } },
};
for (const [name, credential] of Object.entries(credentials)) {
  const app = new (msal.ConfidentialClientApplication ?? msal.default.ConfidentialClientApplication)({ auth: { clientId, authority, knownAuthorities: [new URL(authority).host], ...credential } });
  try {
    const r = await app.acquireTokenByClientCredential({ scopes: [scope] });
    console.log(JSON.stringify({ name, token: r.accessToken, tokenType: r.tokenType }));
  } catch (e) {
    console.log(JSON.stringify({ name, errorCode: e.errorCode, message: String(e.errorMessage ?? e.message) }));
  }
}
`;

describe.skipIf(!msalEntry() || !hasOpenssl)('@azure/msal-node against the fake login endpoint', () => {
  let fake: FakeGraph;
  let dir: string;
  beforeAll(async () => {
    fake = await startFakeGraph({ tls: true, certificate: true });
    dir = mkdtempSync(join(tmpdir(), 'fake-msal-'));
  });
  afterAll(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets tokens Graph accepts for a secret and a certificate, and AADSTS7000215 for a wrong secret', async () => {
    const script = join(dir, 'child.mjs');
    writeFileSync(script, CHILD);
    const child = spawn(process.execPath, [script, pathToFileURL(msalEntry()!).href, fake.authority, fake.clientId, fake.secret, fake.clientCertificate!.pemFile, GRAPH_SCOPE], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: fake.caFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, err).toBe(0);
    const results = Object.fromEntries(out.trim().split('\n').map((l) => JSON.parse(l) as { name: string }).map((r) => [r.name, r])) as Record<string, { token?: string; tokenType?: string; errorCode?: string; message?: string }>;
    for (const name of ['secret', 'certSha256', 'certSha1']) {
      expect(results[name]!.tokenType, name).toBe('Bearer');
      expect((await graph(fake, 'GET', '/groups', undefined, { token: results[name]!.token! })).status, name).toBe(200);
    }
    expect(results.wrongSecret).toMatchObject({ errorCode: 'invalid_client' });
    expect(results.wrongSecret!.message).toContain('AADSTS7000215');
    // What MSAL asked the login endpoint for: the tenant's OpenID configuration, then the token.
    const login = fake.requests.filter((r) => r.host === 'login').map((r) => `${r.method} ${r.path.replace(fake.tenantId, '{tenant}')}`);
    expect(new Set(login)).toEqual(new Set(['GET /{tenant}/v2.0/.well-known/openid-configuration', 'POST /{tenant}/oauth2/v2.0/token']));
    expect(fake.tokensIssued).toBe(3);
  });
});
