// `emmctl server` on PostgreSQL with the built CLI: the database chosen by --database or
// EMMCTL_DATABASE_URL, API tokens made on the database with `server token … --database`, /readyz
// following the database (503 + Retry-After while it is down, /healthz staying 200), and the
// database password in no output, message or access-log line.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startCluster, type Cluster } from '../helpers/postgres-cluster.js';
import { cliDatabase, freshDatabase, passwordOf, withoutPassword, type FreshDatabase } from '../helpers/postgres.js';
import { createApiToken, killAll, startServerProcess } from '../helpers/server.js';

afterEach(() => killAll());

async function get(url: string, token?: string): Promise<{ status: number; headers: Headers; body: unknown }> {
  const r = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.status, headers: r.headers, body: await r.json() };
}

describe('emmctl server --database', () => {
  let db: FreshDatabase;
  let password: string;
  beforeAll(async () => {
    db = await freshDatabase();
    password = passwordOf(db.url);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('serves the database: tokens made on it work, /readyz and /healthz answer, and the password is in no output', async () => {
    const store = cliDatabase(db);
    const token = await createApiToken(store, 'admin', 'pg-admin');
    const server = await startServerProcess(store);
    try {
      expect(server.stderr()).toContain(`emmctl server: database ${withoutPassword(db.url)}\n`);
      expect(await get(`${server.url}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready' } });
      expect(await get(`${server.url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(await get(`${server.url}/v1/whoami`, token)).toMatchObject({ status: 200, body: { name: 'pg-admin', role: 'admin' } });
      // /readyz takes no parameters, as every route refuses what it does not take.
      expect((await get(`${server.url}/readyz?verbose=1`)).status).toBe(400);

      const listed = await runCli(['server', 'token', 'list', '--database', store.database, '-o', 'json'], { env: store.env });
      expect(listed.code).toBe(0);
      const tokens = JSON.parse(listed.stdout) as Array<{ id: string; name: string; revoked: boolean }>;
      expect(tokens.map((t) => t.name)).toEqual(['pg-admin']);
      const revoked = await runCli(['server', 'token', 'revoke', tokens[0]!.id, '--database', store.database], { env: store.env });
      expect(revoked.code).toBe(0);
      expect(revoked.stderr).toContain(`revoked API token ${tokens[0]!.id} "pg-admin"`);
      expect((await get(`${server.url}/v1/whoami`, token)).status).toBe(401);
      for (const r of [listed, revoked]) expect(r.stdout + r.stderr).not.toContain(password);
    } finally {
      await server.stop();
    }
    expect(server.stderr()).not.toContain(password);
    // The access log has one line per request, none with the password.
    expect(server.stderr()).toMatch(/"path":"\/readyz"/);
  });

  it('takes the whole URL, password included, from EMMCTL_DATABASE_URL, and shows it without', async () => {
    const server = await startServerProcess({ env: { EMMCTL_DATABASE_URL: db.url } });
    try {
      expect(server.stderr()).toContain(`emmctl server: database ${withoutPassword(db.url)}\n`);
      expect((await get(`${server.url}/readyz`)).status).toBe(200);
    } finally {
      await server.stop();
    }
    expect(server.stderr()).not.toContain(password);
  });

  it('refuses a password in the flag, and two stores at once (exit 2, nothing started)', async () => {
    const inFlag = await runCli(['server', '--listen', '127.0.0.1:0', '--database', db.url]);
    expect(inFlag.code).toBe(2);
    expect(inFlag.stderr).toContain(`error: --database ${withoutPassword(db.url)}: a password does not go in a flag`);
    expect(inFlag.stderr).not.toContain(password);
    const both = await runCli(['server', 'token', 'create', '--role', 'admin', '--database', withoutPassword(db.url), '--data-dir', '/nonexistent']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('error: --database and --data-dir name two different stores');
  });

  it('two servers starting at once on one database both serve it (migration under the lock)', async () => {
    const fresh = await freshDatabase();
    try {
      const store = cliDatabase(fresh);
      const [a, b] = await Promise.all([startServerProcess(store), startServerProcess(store)]);
      try {
        const token = await createApiToken(store, 'viewer', 'both');
        for (const s of [a, b]) expect(await get(`${s.url}/v1/whoami`, token)).toMatchObject({ status: 200, body: { name: 'both' } });
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
      const migrated = await runCli(['server', 'migrate', '--database', store.database, '-o', 'json'], { env: store.env });
      expect(JSON.parse(migrated.stdout)).toMatchObject({ engine: 'postgres', applied: [] });
    } finally {
      await fresh.drop();
    }
  });
});

describe('/readyz follows the database', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('503 with Retry-After while the database is down (naming nothing), 200 again once it is back; /healthz stays 200', async () => {
    const url = cluster.adminUrl;
    const server = await startServerProcess({ database: withoutPassword(url), env: { PGPASSWORD: cluster.password } });
    try {
      expect((await get(`${server.url}/readyz`)).status).toBe(200);
      await cluster.pause();
      const down = await get(`${server.url}/readyz`);
      expect(down.status).toBe(503);
      expect(Number(down.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(down.body).toEqual({ error: { code: 'unavailable', message: 'the database is not reachable; retry shortly' } });
      expect((await get(`${server.url}/healthz`)).status).toBe(200);
      // Any caller, an unenrolled device too, gets the 503 without where the database lives.
      const enroll = await fetch(`${server.url}/v1/agent/enroll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: 'emmctl-enroll-unknown', platform: 'android', serial: 'SER-DOWN-1', osVersion: '14' }),
      });
      const enrollText = await enroll.text();
      expect(enroll.status).toBe(503);
      expect(enroll.headers.get('retry-after')).toBeTruthy();
      expect(JSON.parse(enrollText)).toEqual({ error: { code: 'unavailable', message: 'the store is unavailable; nothing was changed, retry shortly' } });
      const where = new URL(url);
      for (const part of [where.hostname, String(where.port), where.username, where.pathname.slice(1)]) expect(enrollText).not.toContain(part);
      await cluster.start();
      // Back by itself once the engine's reconnect back-off (at most 10 s) has run out.
      const end = Date.now() + 30_000;
      let ready = await get(`${server.url}/readyz`);
      while (ready.status !== 200 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        ready = await get(`${server.url}/readyz`);
      }
      expect(ready.status).toBe(200);
    } finally {
      await server.stop();
    }
    expect(server.stderr()).not.toContain(cluster.password);
  });
});
