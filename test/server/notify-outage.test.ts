// The webhook notifier while its database is down: it polls the outbox every pollMs (here 50 ms),
// and each poll fails, but the server log says so once per outage, and once when the outbox can
// be read again, with how long the failures lasted. A private PostgreSQL server (the run's shared
// one must stay up) is stopped and started again, twice, under a running `emmctl server`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/http.js';
import { eachOutageLoggedOnce } from '../helpers/outage.js';
import { startCluster, type Cluster } from '../helpers/postgres-cluster.js';
import { adminQuery } from '../helpers/postgres.js';

const POLL_MS = 50;
let cluster: Cluster;
let server: RunningServer | undefined;
const lines: Array<{ level: string; message: string }> = [];

beforeAll(async () => {
  cluster = await startCluster();
  await adminQuery('CREATE DATABASE emmctl_notify_outage', cluster.adminUrl);
}, 60_000);
afterAll(async () => {
  await server?.close();
  await cluster?.stop();
});

const notifyLines = () => lines.filter((l) => l.message.startsWith('notify:'));
const downLines = () => notifyLines().filter((l) => l.message.startsWith('notify: cannot take the delivery lease or read the outbox'));
const upLines = () => notifyLines().filter((l) => l.message.startsWith('notify: the delivery lease and the outbox can be read again'));

describe('emmctl server --notify-webhook while PostgreSQL is down', () => {
  it('logs the failing outbox once per outage and once when it works again, however many polls fail in between', async () => {
    const url = new URL(cluster.adminUrl);
    url.pathname = '/emmctl_notify_outage';
    server = await startServer({
      databaseUrl: url.toString(),
      listen: '127.0.0.1:0',
      log: (line) => {
        const entry = JSON.parse(line) as { level?: string; message?: string };
        if (typeof entry.message === 'string') lines.push({ level: String(entry.level), message: entry.message });
      },
      tickSeconds: 3600,
      // Nothing is ever queued, so the receiver is never called.
      notify: { webhooks: ['http://127.0.0.1:9/never'], secret: 'outage-secret', pollMs: POLL_MS, leaseMs: 3_000 },
    });

    // Forty polls' worth of failures per outage: each would have been a line before.
    await eachOutageLoggedOnce(cluster, { down: downLines, up: upLines }, 40 * POLL_MS);

    expect(notifyLines().map((l) => l.level)).toEqual(['error', 'info', 'error', 'info']);
    for (const l of downLines()) expect(l.message).toMatch(new RegExp(`; trying again every ${POLL_MS} ms, logged again when it works$`));
    for (const l of upLines()) expect(l.message).toMatch(/^notify: the delivery lease and the outbox can be read again, after \d+\.\d s of failures$/);
  }, 120_000);
});
