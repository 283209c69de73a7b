// --tls-cert/--tls-key serve https with the given certificate; one without the other is a usage error.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { killAll, startServerProcess } from './helpers.js';

const dir = tempDir('emmctl-server-tls-');
afterAll(() => {
  killAll();
  dir.cleanup();
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function getJson(url: string, ca: Buffer): Promise<{ status: number; body: unknown; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      const authorized = (res.socket as import('node:tls').TLSSocket).authorized;
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), authorized }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('https', () => {
  it.skipIf(!hasOpenssl())('serves https with the given certificate', async () => {
    const cert = join(dir.path, 'cert.pem');
    const key = join(dir.path, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const server = await startServerProcess(join(dir.path, 'data'), ['--tls-cert', cert, '--tls-key', key]);
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const r = await getJson(`${server.url}/healthz`, readFileSync(cert));
      expect(r).toEqual({ status: 200, body: { status: 'ok' }, authorized: true });
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  });

  it('needs both --tls-cert and --tls-key, and readable files', async () => {
    const one = await runCli(['server', '--listen', '127.0.0.1:0', '--tls-cert', 'x.pem', '--data-dir', dir.path]);
    expect(one.code).toBe(2);
    expect(one.stderr).toContain('--tls-cert and --tls-key go together');
    const missing = await runCli(['server', '--listen', '127.0.0.1:0', '--tls-cert', join(dir.path, 'nope.pem'), '--tls-key', join(dir.path, 'nope.key'), '--data-dir', dir.path]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read --tls-cert');
  });
});
