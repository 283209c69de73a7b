// The reconcile loop while its database is down: `emmctl server --tick 0.1` tries a reconcile
// pass every 100 ms, and each one fails, but the server log says so once per outage, and once when
// a pass works again, with how long the failures lasted; --no-access-log leaves those lines in. A
// private PostgreSQL server (the run's shared one must stay up) is stopped and started again,
// twice, under a running server process.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eachOutageLoggedOnce } from '../helpers/outage.js';
import { startCluster, type Cluster } from '../helpers/postgres-cluster.js';
import { adminQuery, withoutPassword } from '../helpers/postgres.js';
import { killAll, startServerProcess, type ServerProcess } from './helpers.js';

const TICK_MS = 100;
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
  await adminQuery('CREATE DATABASE emmctl_reconcile_outage', cluster.adminUrl);
}, 60_000);
afterEach(() => killAll());
afterAll(async () => {
  await cluster?.stop();
});

function reconcileLines(server: ServerProcess): Array<{ level: string; message: string }> {
  const lines = [];
  for (const line of server.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { level?: unknown; message?: unknown };
    if (typeof entry.message === 'string' && entry.message.startsWith('reconcile ')) lines.push({ level: String(entry.level), message: entry.message });
  }
  return lines;
}

describe('emmctl server reconcile while PostgreSQL is down', () => {
  it('logs the failing passes once per outage and once when a pass works again, however many ticks fail in between', async () => {
    const url = new URL(cluster.adminUrl);
    url.pathname = '/emmctl_reconcile_outage';
    const server = await startServerProcess(
      { database: withoutPassword(url.toString()), env: { PGPASSWORD: cluster.password } },
      // Without the access log: its other lines are not the access log's to turn off.
      ['--tick', String(TICK_MS / 1000), '--no-access-log'],
    );
    const down = () => reconcileLines(server).filter((l) => l.message.startsWith('reconcile failed: '));
    const up = () => reconcileLines(server).filter((l) => l.message.startsWith('reconcile works again'));

    // Forty ticks' worth of failed passes per outage: each was a line before.
    await eachOutageLoggedOnce(cluster, { down, up }, 40 * TICK_MS);

    // Requests still get no access-log line.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await server.stop();
    expect(server.stderr().split('\n').filter((line) => line.startsWith('{') && 'status' in (JSON.parse(line) as object))).toEqual([]);
    expect(reconcileLines(server).map((l) => l.level)).toEqual(['error', 'info', 'error', 'info']);
    for (const l of down()) expect(l.message).toMatch(/; trying again every 0\.1 s, logged again when it works$/);
    for (const l of up()) expect(l.message).toMatch(/^reconcile works again, after \d+\.\d s of failures$/);
    expect(server.stderr()).not.toContain(cluster.password);
  }, 120_000);
});
