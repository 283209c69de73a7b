// `emmctl server --trusted-proxy` and `--database-pool` with the built CLI: X-Forwarded-For names
// the client (enrollment rate-limit bucket, audit source, access log) only when the TCP peer is a
// trusted proxy, read from the right so that what a client wrote itself is never believed; and a
// PostgreSQL pool size that holds (the server never opens more connections than it was given).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dataDirs, runCli } from '../helpers/cli.js';
import { adminQuery, cliDatabase, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { call, createToken, killAll, startServerProcess, type ServerProcess } from './helpers.js';

afterEach(() => killAll());
const dir = dataDirs('emmctl-proxy-');

/** An enrollment attempt (a token nobody issued: refused, but it still spends from the client address's bucket) as the proxy would forward it. */
async function enroll(server: ServerProcess, forwardedFor?: string): Promise<number> {
  const r = await call(server.url, 'POST', '/v1/agent/enroll', {
    body: { token: 'emm_et_not-a-real-token', platform: 'android', serial: 'SN-PROXY', osVersion: '14' },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  });
  return r.status;
}

/** The `ip` of each access-log line for the enrollment route, in order. */
function loggedAddresses(server: ServerProcess): string[] {
  return server.stderr().split('\n').filter((l) => l.includes('"path":"/v1/agent/enroll"')).map((l) => (JSON.parse(l) as { ip: string }).ip);
}

// One enrollment per address, then 429: the bucket an attempt lands in is visible from outside.
const ONE_PER_ADDRESS = ['--enroll-rate-limit', '0.001/1'];

describe('emmctl server --trusted-proxy', () => {
  it('ignores X-Forwarded-For without the option: a stranger cannot pick its own rate-limit bucket', async () => {
    const server = await startServerProcess(dir(), ONE_PER_ADDRESS);
    try {
      expect(await enroll(server, '203.0.113.1')).not.toBe(429);
      expect(await enroll(server, '203.0.113.2')).toBe(429);
      expect(await enroll(server)).toBe(429);
    } finally {
      await server.stop();
    }
    expect(loggedAddresses(server)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });

  it('ignores X-Forwarded-For from a peer outside the trusted ranges', async () => {
    const server = await startServerProcess(dir(), [...ONE_PER_ADDRESS, '--trusted-proxy', '10.0.0.0/8,fd00::/8']);
    try {
      expect(await enroll(server, '203.0.113.1')).not.toBe(429);
      expect(await enroll(server, '203.0.113.2')).toBe(429);
    } finally {
      await server.stop();
    }
    expect(loggedAddresses(server)).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('takes the client from a trusted proxy, the first untrusted hop from the right, whatever the client wrote to its left', async () => {
    const store = dir();
    // The loopback stands for the balancer; 192.0.2.10 for a second trusted hop in front of it.
    const server = await startServerProcess(store, [...ONE_PER_ADDRESS, '--trusted-proxy', '127.0.0.1/32, 192.0.2.0/24']);
    try {
      expect(server.stderr()).toContain('client addresses taken from X-Forwarded-For from 127.0.0.1/32, 192.0.2.0/24');
      // Two clients behind the balancer: a bucket each.
      expect(await enroll(server, '203.0.113.1')).not.toBe(429);
      expect(await enroll(server, '203.0.113.2')).not.toBe(429);
      // The second again, now claiming another address to the left of what the balancer appended: the same bucket.
      expect(await enroll(server, '198.51.100.77, 203.0.113.2')).toBe(429);
      // Through two trusted hops: the client is the address the outer one appended.
      expect(await enroll(server, '198.51.100.78, 203.0.113.3, 192.0.2.10')).not.toBe(429);
      // Garbage where the client's address should be: the hop that appended it is all that is known.
      expect(await enroll(server, 'not-an-address, 192.0.2.11')).not.toBe(429);
      // An IPv4 address with a port, as some balancers write it.
      expect(await enroll(server, '203.0.113.1:51234')).toBe(429);
    } finally {
      await server.stop();
    }
    expect(loggedAddresses(server)).toEqual(['203.0.113.1', '203.0.113.2', '203.0.113.2', '203.0.113.3', '192.0.2.11', '203.0.113.1']);
  });

  it('refuses a range that is not one, before listening', async () => {
    for (const [value, message] of [
      ['10.0.0.0/33', 'invalid --trusted-proxy "10.0.0.0/33": the prefix length must be 0–32 for an IPv4 range'],
      ['proxy.example.com', 'invalid --trusted-proxy "proxy.example.com": expected an IP address or CIDR range'],
      [',', '--trusted-proxy needs at least one IP address or CIDR range'],
    ] as const) {
      const r = await runCli(['server', '--data-dir', dir(), '--listen', '127.0.0.1:0', '--trusted-proxy', value]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
    }
    const env = await runCli(['server', '--data-dir', dir(), '--listen', '127.0.0.1:0'], { env: { EMMCTL_TRUSTED_PROXY: '10.0.0.0/x' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('invalid EMMCTL_TRUSTED_PROXY "10.0.0.0/x"');
  });
});

describe('emmctl server --database-pool', () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** The server's pooled connections (its LISTEN connection, outside the pool, is not one). */
  async function connections(): Promise<number> {
    return (await adminQuery(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${db.name}' AND query NOT LIKE 'LISTEN %'`)).rows[0].n;
  }

  it('never opens more connections than the pool holds, however many requests are in flight', async () => {
    const store = cliDatabase(db);
    const admin = await createToken(store, 'admin', 'pool-admin');
    const server = await startServerProcess(store, ['--database-pool', '1', '--rate-limit', 'off']);
    try {
      // 40 requests at once, each needing the database: with one connection they take turns.
      const answers = await Promise.all(Array.from({ length: 40 }, () => call(server.url, 'GET', '/v1/devices', { token: admin })));
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
      expect(await connections()).toBe(1);
    } finally {
      await server.stop();
    }
  });

  it('takes EMMCTL_DATABASE_POOL, and refuses a size out of bounds or on the embedded store', async () => {
    const store = cliDatabase(db);
    const admin = await createToken(store, 'admin', 'pool-env');
    const server = await startServerProcess(store, ['--rate-limit', 'off'], { EMMCTL_DATABASE_POOL: '2' });
    try {
      const answers = await Promise.all(Array.from({ length: 40 }, () => call(server.url, 'GET', '/v1/devices', { token: admin })));
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
      expect(await connections()).toBeLessThanOrEqual(2);
    } finally {
      await server.stop();
    }
    for (const value of ['0', '201', 'ten', '2.5']) {
      const r = await runCli(['server', '--database', store.database, '--listen', '127.0.0.1:0', '--database-pool', value], { env: store.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`invalid --database-pool "${value}": expected a whole number of connections from 1 to 200`);
    }
    const env = await runCli(['server', '--database', store.database, '--listen', '127.0.0.1:0'], { env: { ...store.env, EMMCTL_DATABASE_POOL: '-1' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('invalid EMMCTL_DATABASE_POOL "-1"');
    const sqlite = await runCli(['server', '--data-dir', dir(), '--listen', '127.0.0.1:0', '--database-pool', '5']);
    expect(sqlite.code).toBe(2);
    expect(sqlite.stderr).toContain('--database-pool is for a PostgreSQL database');
  });
});
