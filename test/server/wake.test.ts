// LISTEN/NOTIFY wake-ups between replicas (PostgreSQL only; src/store/repos/wake.ts): two servers
// on one database, whose notifier polls the outbox once an hour and whose reconcile runs once an
// hour, so an event can only go out soon because the transaction that queued it woke the replica
// holding the notifier lease. The event is queued by a check-in through the other replica. Then
// the listening connections are killed, and the next event is still delivered once they are back.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/http.js';
import { adminQuery, cliDatabase, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { createApiToken } from '../helpers/server.js';
import { call } from './helpers.js';

const HOUR_MS = 3_600_000;
const POSTURE = { osVersion: '14', patchLevel: '2026-10-05', model: 'Pixel 8', encrypted: false, passcodeSet: true, compromised: false, installedApps: [] as string[] };
const PROFILE = { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'wake-phones' }, spec: { platforms: ['android'], ownership: 'corporate' } };
const POLICY = {
  apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'wake-encrypted' },
  spec: { assign: ['all'], rules: { encryption: 'required' }, actions: [{ after: '0d', do: 'notify' }] },
};

let db: FreshDatabase;
let hook: Server;
const received: Array<{ id: string; deviceId: string }> = [];
let holder: RunningServer;
let other: RunningServer;
let admin: string;
let enrollSecret: string;
let serial = 0;

async function until(what: string, fn: () => Promise<boolean>, boundMs = 30_000): Promise<void> {
  const end = Date.now() + boundMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function server(hookUrl: string): Promise<RunningServer> {
  return startServer({
    databaseUrl: db.url,
    listen: '127.0.0.1:0',
    log: false,
    rateLimit: { token: false, device: false, enroll: false },
    tickSeconds: 3600,
    notify: { webhooks: [hookUrl], secret: 'wake-secret', pollMs: HOUR_MS, leaseMs: HOUR_MS },
  });
}

/** A device enrolled through the non-holder that checks in unencrypted there: its notify step queues one event. */
async function escalateThroughOther(): Promise<string> {
  serial += 1;
  const enrolled = await call(other.url, 'POST', '/v1/agent/enroll', { body: { token: enrollSecret, platform: 'android', serial: `WAKE-${process.pid}-${serial}`, osVersion: '14', model: 'Pixel 8' } });
  expect(enrolled.status).toBe(200);
  const checkIn = await call(other.url, 'POST', '/v1/agent/checkin', { device: enrolled.body.credential, body: { posture: POSTURE } });
  expect(checkIn.status).toBe(200);
  return enrolled.body.deviceId as string;
}

async function listeners(): Promise<number[]> {
  return (await adminQuery(`SELECT pid FROM pg_stat_activity WHERE datname = '${db.name}' AND query LIKE 'LISTEN %'`)).rows.map((r: { pid: number }) => r.pid);
}

beforeAll(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      const event = JSON.parse(body) as { id: string; device: { id: string } };
      received.push({ id: event.id, deviceId: event.device.id });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  db = await freshDatabase();
  admin = await createApiToken(cliDatabase(db), 'admin', 'wake-admin');
  holder = await server(hookUrl);
  // The first server takes the notifier lease for an hour at start; the second cannot take it.
  await until('the first server holds the notifier lease', async () => (await adminQuery("SELECT count(*)::int AS n FROM leases WHERE name = 'notifier'", db.url)).rows[0].n === 1);
  other = await server(hookUrl);
  const applied = await call(other.url, 'POST', '/v1/resources/apply', {
    token: admin,
    body: { changes: [PROFILE, POLICY].map((d) => ({ op: 'create', kind: d.kind, name: d.metadata.name, document: d })) },
  });
  expect(applied.status).toBe(200);
  const token = await call(other.url, 'POST', '/v1/enrollment-tokens', { token: admin, body: { profile: PROFILE.metadata.name } });
  enrollSecret = token.body.secret;
});

afterAll(async () => {
  await other?.close();
  await holder?.close();
  await db?.drop();
  await new Promise((resolve) => hook?.close(resolve));
});

describe('LISTEN/NOTIFY wakes the replicas (PostgreSQL)', () => {
  it('delivers an event queued through another replica although the notifier polls once an hour', async () => {
    for (let round = 1; round <= 2; round++) {
      const deviceId = await escalateThroughOther();
      await until(`event of round ${round} delivered`, async () => received.some((r) => r.deviceId === deviceId));
    }
    const lease = (await adminQuery("SELECT holder FROM leases WHERE name = 'notifier'", db.url)).rows;
    expect(lease.length).toBe(1);
    expect(received.length).toBe(2);
  });

  it('listens again after its connection is killed, and the next event is still delivered', async () => {
    const before = await listeners();
    expect(before.length).toBe(2);
    await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${before.join(',')})`);
    await until('both servers listen again on new connections', async () => {
      const now = await listeners();
      return now.length === 2 && now.every((pid) => !before.includes(pid));
    });
    const deviceId = await escalateThroughOther();
    await until('the event after the reconnection delivered', async () => received.some((r) => r.deviceId === deviceId));
    expect(received.length).toBe(3);
    expect(new Set(received.map((r) => r.id)).size).toBe(3);
  });
});
