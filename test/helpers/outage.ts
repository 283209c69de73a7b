// Database outages under a running server, for the tests that check a loop which fails on every
// attempt while the database is down (the notifier's polls, reconcile's ticks) logs each outage
// once and its recovery once.
import { expect } from 'vitest';
import type { Cluster } from './postgres-cluster.js';

export interface OutageLines {
  /** The log lines that say the loop is failing, so far. */
  down(): unknown[];
  /** The log lines that say it works again, so far. */
  up(): unknown[];
}

async function until(what: string, fn: () => boolean, boundMs = 60_000): Promise<void> {
  const end = Date.now() + boundMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Stops and starts the cluster `times` times. Each outage must be logged (one more down line),
 * stay at that one line through `failingMs` of failed attempts, and end in one more up line (it
 * comes once the engine's reconnect back-off, at most 10 s, has run out).
 */
export async function eachOutageLoggedOnce(cluster: Cluster, lines: OutageLines, failingMs: number, times = 2): Promise<void> {
  for (let outage = 1; outage <= times; outage++) {
    await cluster.pause();
    await until(`outage ${outage} logged`, () => lines.down().length >= outage);
    await new Promise((r) => setTimeout(r, failingMs));
    expect(lines.down()).toHaveLength(outage);
    expect(lines.up()).toHaveLength(outage - 1);
    await cluster.start();
    await until(`recovery ${outage} logged`, () => lines.up().length >= outage);
  }
}
