// Logging in to the fake Entra ID through MSAL, from the built CLI: a certificate (client
// assertion, over https with the fake's own CA), a wrong secret (Entra's AADSTS error, the secret
// never shown), the secret from EMMCTL_INTUNE_CLIENT_SECRET, and no credential at all.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startFakeGraph, type FakeGraph } from './fake-graph.js';

describe('intune: credentials', () => {
  let fake: FakeGraph;
  let dir: { path: string; cleanup: () => void };
  let env: Record<string, string>;
  const cli = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> => runCli(args, { env: { ...env, ...opts.env }, input: opts.input, cwd: dir.path });
  const base = () => ['--intune', '--tenant-id', fake.tenantId, '--client-id', fake.clientId, '--graph-endpoint', fake.graphUrl, '--login-endpoint', fake.loginUrl];

  beforeAll(async () => {
    fake = await startFakeGraph({ tls: true, certificate: true, devices: 3 });
    dir = tempDir('emmctl-intune-auth-');
    // The fake serves https with its own CA: Node trusts it only through this variable.
    env = { XDG_DATA_HOME: join(dir.path, 'data'), EMMCTL_CONFIG_DIR: join(dir.path, 'config'), NODE_EXTRA_CA_CERTS: fake.caFile! };
  });
  afterAll(async () => {
    await fake.close();
    dir.cleanup();
  });

  it('logs in with a certificate (a client assertion signed with its key)', async () => {
    expect((await cli(['context', 'add', 'cert', ...base(), '--client-certificate', fake.clientCertificate!.pemFile])).code).toBe(0);
    const list = await cli(['--context', 'cert', 'devices', 'list', '-o', 'json']);
    expect(list.stderr).toBe('');
    expect(JSON.parse(list.stdout)).toHaveLength(3);
    expect(fake.requests.some((r) => r.host === 'login' && r.path.endsWith('/oauth2/v2.0/token') && r.status === 200)).toBe(true);
  });

  it('refuses a certificate file without its key before storing anything', async () => {
    const r = await cli(['context', 'add', 'half', ...base(), '--client-certificate', fake.clientCertificate!.certFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must hold both the certificate and its private key in PEM form (missing: private key)');
    expect((await cli(['context', 'list', '-o', 'json'])).stdout).not.toContain('"half"');
  });

  it('reports a wrong secret as Entra ID says it, without the secret', async () => {
    const wrong = 'not-the-secret-0123456789';
    expect((await cli(['context', 'add', 'bad', ...base(), '--client-secret-stdin'], { input: wrong })).code).toBe(0);
    const r = await cli(['--context', 'bad', 'devices', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Entra ID refused to issue a token for app .* in tenant .*: AADSTS7000215/);
    expect(r.stderr).toContain('the client secret is wrong or expired');
    expect(r.stdout + r.stderr).not.toContain(wrong);
  });

  it('takes the secret from EMMCTL_INTUNE_CLIENT_SECRET, and says what to do without any credential', async () => {
    expect((await cli(['context', 'add', 'ci', ...base()])).code).toBe(0);
    const none = await cli(['--context', 'ci', 'devices', 'list']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`no credential for Intune tenant ${fake.tenantId}`);
    const ok = await cli(['--context', 'ci', 'devices', 'list', '-o', 'json'], { env: { EMMCTL_INTUNE_CLIENT_SECRET: fake.secret } });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toHaveLength(3);
  });
});
