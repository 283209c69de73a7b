// `emmctl server`'s Android flags and the Pub/Sub push endpoint's guard, with the built CLI and
// real server processes: bad flag combinations are usage errors (exit 2, the flag named, nothing
// served), a server with the channel says so in whoami and refuses pushes without Google's OIDC
// token, and a server without it answers the push route 404.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { createApiToken, killAll, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { startFakeAmapi, type FakeAmapi } from './fake-amapi.js';
import { androidServerArgs } from './runtime-helpers.js';

describe('emmctl server with the Android channel', () => {
  let fake: FakeAmapi;
  let work: { path: string; cleanup: () => void };
  let data: string;
  let token: string;

  beforeAll(async () => {
    fake = await startFakeAmapi({ seed: 3 });
    work = tempDir('emmctl-android-server-');
    data = join(work.path, 'data');
    token = await createApiToken(data, 'admin', 'flags-admin');
  });
  afterAll(async () => {
    killAll();
    await fake?.close();
    work?.cleanup();
  });

  const serve = (args: string[], env: Record<string, string | undefined> = {}) =>
    runCli(['server', '--listen', '127.0.0.1:0', '--data-dir', data, ...args], { env: { GOOGLE_APPLICATION_CREDENTIALS: undefined, ...env }, timeoutMs: 20_000 });

  it.each([
    [['--google-credentials', 'key.json'], /--google-credentials goes with --android-enterprise/],
    [['--pubsub-audience', 'https://x.example/v1/android/pubsub'], /--pubsub-\* and --google-certs-url flags go with --android-enterprise/],
    [['--android-enterprise', 'LC0123'], /invalid --android-enterprise "LC0123": expected enterprises\/ID/],
    [['--android-enterprise', 'enterprises/LC0123'], /no Google credentials: pass --google-credentials FILE/],
    [['--android-enterprise', 'enterprises/LC0123', '--google-credentials', 'no-such-key.json'], /cannot read the Google credentials no-such-key\.json/],
  ])('refuses %j as a usage error', async (args, message) => {
    const r = await serve(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/listening on/);
  });

  it('refuses pub/sub and endpoint flags that do not fit, naming them', async () => {
    const base = ['--android-enterprise', fake.enterprise, '--google-credentials', fake.credentialsFile];
    const cases: Array<[string[], RegExp]> = [
      [['--pubsub-audience', 'https://x.example/p'], /--pubsub-audience and --pubsub-service-account go together/],
      [['--pubsub-audience', 'https://x.example/p', '--pubsub-service-account', 'not-an-email'], /invalid --pubsub-service-account "not-an-email"/],
      [['--pubsub-audience', 'https://x.example/p', '--pubsub-service-account', fake.push.email, '--pubsub-subscription', 'subs/x'], /invalid --pubsub-subscription "subs\/x": expected projects\/PROJECT\/subscriptions\/NAME/],
      [['--amapi-endpoint', 'http://androidmanagement.example.com/'], /--amapi-endpoint "http:\/\/androidmanagement\.example\.com\/" must be an https:\/\/ URL/],
      [['--android-lookup-delay', '0'], /invalid --android-lookup-delay "0"/],
    ];
    for (const [args, message] of cases) {
      const r = await serve([...base, ...args]);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('warns when the service account key can be read by others, and never prints the key', async () => {
    const loose = join(work.path, 'loose-key.json');
    const text = readFileSync(fake.credentialsFile, 'utf8');
    writeFileSync(loose, text);
    chmodSync(loose, 0o644);
    let server: ServerProcess | undefined;
    try {
      server = await startServerProcess(data, androidServerArgs(fake, { credentials: loose }));
      expect(server.stderr()).toMatch(/loose-key\.json can be read by every user: a service account key is a secret \(chmod 600/);
      const key = (JSON.parse(text) as { private_key: string }).private_key;
      expect(server.stderr()).not.toContain(key.split('\n')[1]!);
    } finally {
      await server?.stop();
    }
  });

  it('says so in whoami, refuses a push without Google\'s OIDC token, and stops cleanly', async () => {
    const server = await startServerProcess(data, [...androidServerArgs(fake), '--pubsub-audience', 'https://emmctl.example.com/v1/android/pubsub', '--pubsub-service-account', fake.push.email, '--google-certs-url', fake.certsUrl]);
    try {
      const who = await (await fetch(`${server.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })).json();
      expect(who).toMatchObject({ channels: ['android'] });
      const body = JSON.stringify({ message: { messageId: '1', attributes: { notificationType: 'TEST' } }, subscription: fake.push.subscription });
      const bare = await fetch(`${server.url}/v1/android/pubsub`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(bare.status).toBe(401);
      const forged = await fetch(`${server.url}/v1/android/pubsub`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
      expect(forged.status).toBe(401);
      expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      // SIGTERM stops the channel's jobs with the server: a clean exit.
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await server.stop();
    }
  });

  it('answers the push route 404 and no channels on a server without the channel', async () => {
    const server = await startServerProcess(data, ['--no-access-log']);
    try {
      const who = await (await fetch(`${server.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })).json();
      expect(who).toMatchObject({ channels: [] });
      const push = await fetch(`${server.url}/v1/android/pubsub`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(push.status).toBe(404);
      expect(((await push.json()) as { error: { message: string } }).error.message).toBe('this server takes no Pub/Sub pushes');
    } finally {
      await server.stop();
    }
  });
});
