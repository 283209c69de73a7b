// Wake-ups between replicas: a transaction that leaves work for other replicas (an outbox event,
// a new reconcile pass) says so on a channel, and replicas LISTENing on it (PostgresEngine.listen)
// look at once instead of at their next poll. PostgreSQL delivers a NOTIFY only when its
// transaction commits, once per channel and payload however often it was sent in it, and never
// when it rolls back. Polling stays the guarantee: a wake-up lost (a listener reconnecting) only
// costs the wait for the next poll. Sent only by an engine whose LISTEN has worked: SQLite has a
// single server process, CockroachDB no LISTEN/NOTIFY, YugabyteDB has it only when enabled.
import type { Sql } from '../engine.js';

/** The notifier: an event is in the outbox. */
export const OUTBOX_CHANNEL = 'emmctl_outbox';
/** Reconcile: a pass has started, pages are there to take. */
export const RECONCILE_CHANNEL = 'emmctl_reconcile';

export async function wake(sql: Sql, channel: string): Promise<void> {
  // Only where LISTEN worked: on an engine without it pg_notify would fail the whole transaction.
  if (!sql.notifies) return;
  await sql.get("SELECT pg_notify(?, '')", [channel]);
}
