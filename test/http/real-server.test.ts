// The HTTP driver and the CLI against a real `emmctl server`: auth failures as users see them,
// with the token kept out of every message.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHttpBackend } from '../../src/backends/http/index.js';
import { BackendError } from '../../src/errors.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { closedPort } from './fake-server.js';
import { createApiToken, startServerProcess, type ServerProcess } from '../helpers/server.js';

const dir = tempDir('emmctl-http-real-');
const dataDir = join(dir.path, 'store');
let server: ServerProcess;
let admin: string;
let viewer: string;

beforeAll(async () => {
  admin = await createApiToken(dataDir, 'admin', 'ci-admin');
  viewer = await createApiToken(dataDir, 'viewer', 'dashboard');
  server = await startServerProcess(dataDir, ['--no-access-log']);
});
afterAll(async () => {
  await server?.stop();
  dir.cleanup();
});

describe('against a real server', () => {
  it('answers whoami with the name and role of the token', async () => {
    const b = await openHttpBackend({ server: server.url, token: viewer });
    expect(await b.whoami()).toMatchObject({ name: 'dashboard', role: 'viewer' });
    await b.close();
  });

  it("names a viewer token's role when it tries to wipe", async () => {
    const b = await openHttpBackend({ server: server.url, token: viewer });
    const e = await b.enqueueCommands({ deviceIds: ['dev_x'], type: 'wipe', idempotencyKey: 'k1' }).catch((err: unknown) => err);
    await b.close();
    expect(e).toBeInstanceOf(BackendError);
    expect((e as BackendError).code).toBe('forbidden');
    expect((e as BackendError).message).toBe("your token's role viewer cannot send wipe commands");
  });

  it('CLI: a wrong token exits 1 with what to do, and the token is never printed', async () => {
    const wrong = `${admin.slice(0, -4)}XXXX`;
    const r = await runCli(['devices', 'list'], { env: { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: wrong } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/error: token rejected by http:\/\/127\.0\.0\.1:\d+/);
    expect(r.stderr).toMatch(/hint: create one with `emmctl server token create/);
    expect(r.stderr).not.toContain(wrong);
    expect(r.stderr).not.toContain(admin);
  });

  it('CLI: a good token lists devices through the server', async () => {
    const r = await runCli(['devices', 'list', '-o', 'json'], { env: { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: admin } });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('CLI: --debug shows each request line on stderr, never the token', async () => {
    const r = await runCli(['devices', 'list', '--debug', '-o', 'json'], { env: { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: admin } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^http: GET \/v1\/devices\?\S* → 200 \(\d+ ms\)$/m);
    expect(r.stderr).not.toContain(admin);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('CLI: an unreachable server exits 1 and says how to start one', async () => {
    const port = await closedPort();
    const r = await runCli(['devices', 'list'], { env: { EMMCTL_SERVER: `http://127.0.0.1:${port}`, EMMCTL_TOKEN: admin } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: cannot reach emmctl server at http://127.0.0.1:${port}: ECONNREFUSED — is it running?`);
    expect(r.stderr).toMatch(/hint: start one with `emmctl server/);
    expect(r.stderr).not.toContain(admin);
  });
});
