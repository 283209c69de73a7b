// A write whose answer is lost is neither a failure nor a success (issue #7 item 14): lock, wipe,
// enroll token create and server token create through a proxy that lets the real server carry
// the request out and then drops the answer. The CLI says what may have happened, exits 7
// (outcome unknown), and a re-run of a device command queues nothing twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpBackend } from '../../src/backends/http/index.js';
import { ExitCode, OutcomeUnknownError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { createApiToken, killAll, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { seedStore, type SeededStore } from '../admin/devices.seed.js';
import { closedPort } from './fake-server.js';
import { startDroppingProxy, type DroppingProxy } from './dropping-proxy.js';

let fleet: SeededStore;
let server: ServerProcess;
let proxy: DroppingProxy;
let token: string;

/** The CLI through the proxy. */
const viaProxy = (...args: string[]) => runCli(args, { env: { HOME: fleet.env.HOME, EMMCTL_SERVER: proxy.url, EMMCTL_TOKEN: token } });
/** The CLI straight to the server: the truth about what landed. */
const direct = (...args: string[]) => runCli(args, { env: { HOME: fleet.env.HOME, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token } });

async function commandsOfType(type: string): Promise<Array<{ id: string; deviceId: string }>> {
  const r = await direct('commands', 'list', '--type', type, '-o', 'json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  fleet = await seedStore();
  token = await createApiToken(fleet.dataDir, 'admin', 'lost-answers');
  server = await startServerProcess(fleet.dataDir);
  proxy = await startDroppingProxy(server.url);
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  killAll();
  fleet?.cleanup();
});
beforeEach(() => {
  proxy.lose = () => false;
  proxy.lost = 0;
});

describe('device commands whose answer is lost', () => {
  it('lock: "3 lock commands may have been queued; running it again is safe", exit 7; exactly 3 landed; a re-run queues none twice', async () => {
    proxy.lose = (method, url) => (method === 'POST' && url.startsWith('/v1/commands') ? 'drop' : false);
    const r = await viaProxy('lock', '--filter', 'platform=android', '--reason', 'lost answer');
    expect(r.code, r.stderr).toBe(ExitCode.OUTCOME_UNKNOWN);
    expect(r.stderr).toContain('error: 3 lock commands may have been queued; running it again is safe');
    expect(r.stderr).toContain('was lost');
    expect(r.stderr).not.toMatch(/is it running\?|failed/);
    expect(r.stdout).toBe('');
    // Every retry carried the same idempotency key: however many attempts landed, one command per device.
    expect(proxy.lost).toBeGreaterThan(1);
    const landed = await commandsOfType('lock');
    expect(landed.map((c) => c.deviceId).sort()).toEqual(['ana-pixel', 'bo-galaxy', 'cy-pixel'].map((n) => fleet.ids[n]).sort());

    proxy.lose = () => false;
    const again = await viaProxy('lock', '--filter', 'platform=android', '-o', 'json');
    expect(again.code, again.stderr).toBe(0);
    const records = JSON.parse(again.stdout) as Array<{ outcome: string; commandId: string }>;
    expect(records.map((x) => x.outcome)).toEqual(['already-pending', 'already-pending', 'already-pending']);
    expect(records.map((x) => x.commandId).sort()).toEqual(landed.map((c) => c.id).sort());
    expect(await commandsOfType('lock')).toHaveLength(3);
  });

  it('wipe of one device: "1 wipe command may have been queued", exit 7, and it did land once', async () => {
    proxy.lose = (method, url) => (method === 'POST' && url.startsWith('/v1/commands') ? 'drop' : false);
    const id = fleet.ids['di-iphone']!;
    const r = await viaProxy('wipe', id, '--yes', '--reason', 'stolen');
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toContain('1 wipe command may have been queued; running it again is safe');
    expect(r.stderr).toContain('emmctl commands list --type wipe --status queued');
    expect((await commandsOfType('wipe')).map((c) => c.deviceId)).toEqual([id]);
  });

  it('a request that never reached a server is still a plain failure (exit 1)', async () => {
    const port = await closedPort();
    const r = await runCli(['lock', fleet.ids['ed-iphone']!], { env: { HOME: fleet.env.HOME, EMMCTL_SERVER: `http://127.0.0.1:${port}`, EMMCTL_TOKEN: token } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach emmctl server/);
  });

  it('a timed-out enqueue (the server took it, the answer never came) is OutcomeUnknownError, not a failure', async () => {
    proxy.lose = (method, url) => (method === 'POST' && url.startsWith('/v1/commands') ? 'hang' : false);
    const backend = new HttpBackend({ server: proxy.url, token, timeoutMs: 500 });
    try {
      const id = fleet.ids['ed-iphone']!;
      const error = await backend.enqueueCommands({ deviceIds: [id], type: 'reboot', idempotencyKey: 'timeout-case' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OutcomeUnknownError);
      expect((error as OutcomeUnknownError).exitCode).toBe(7);
      expect((error as Error).message).toMatch(/^1 reboot command may have been queued; running it again is safe \(the answer from .* was lost: no answer within 500 ms\)$/);
      expect((await commandsOfType('reboot')).map((c) => c.deviceId)).toEqual([id]);
    } finally {
      await backend.close();
    }
  });
});

describe('token creation whose answer is lost', () => {
  it('enroll token create: the token may exist, and how to list it; not "is it running?"', async () => {
    const before = JSON.parse((await direct('enroll', 'token', 'list', '-o', 'json')).stdout) as unknown[];
    proxy.lose = (method, url) => (method === 'POST' && url === '/v1/enrollment-tokens' ? 'drop' : false);
    const r = await viaProxy('enroll', 'token', 'create', '--profile', 'corp');
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toContain('an enrollment token for profile "corp" may have been created');
    expect(r.stderr).toContain('emmctl enroll token list');
    expect(r.stderr).not.toContain('is it running');
    expect(r.stdout).toBe('');
    // Not replay-safe, so sent once: exactly one token landed.
    expect(proxy.lost).toBe(1);
    const after = JSON.parse((await direct('enroll', 'token', 'list', '-o', 'json')).stdout) as unknown[];
    expect(after).toHaveLength(before.length + 1);
  });

  it('server token create through a server: the API token may exist, and how to list it', async () => {
    proxy.lose = (method, url) => (method === 'POST' && url === '/v1/tokens' ? 'drop' : false);
    const r = await viaProxy('server', 'token', 'create', '--role', 'viewer', '--name', 'lost-one');
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toContain('API token "lost-one" may have been created');
    expect(r.stderr).toContain('emmctl server token list');
    const list = await runCli(['server', 'token', 'list', '-o', 'json', '--data-dir', fleet.dataDir]);
    expect((JSON.parse(list.stdout) as Array<{ name: string }>).filter((t) => t.name === 'lost-one')).toHaveLength(1);
  });

  it('revoking whose answer is lost: may have been revoked, running it again is safe (and it is)', async () => {
    const created = JSON.parse((await direct('enroll', 'token', 'create', '--profile', 'corp', '-o', 'json')).stdout) as { id: string };
    proxy.lose = (method, url) => (method === 'POST' && url.endsWith('/revoke') ? 'drop' : false);
    const r = await viaProxy('enroll', 'token', 'revoke', created.id);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toContain(`enrollment token ${created.id} may have been revoked; running it again is safe`);
    proxy.lose = () => false;
    const again = await viaProxy('enroll', 'token', 'revoke', created.id);
    expect(again.code, again.stderr).toBe(0);
  });
});

