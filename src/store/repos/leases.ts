// Lease rows for singleton jobs (one notifier, one reconcile leader across replicas): a row per
// job name with its holder, an epoch that grows with every change of holder, and an expiry. Taken
// or renewed with conditional writes, never session advisory locks (which CockroachDB does not
// honour and a pooled connection would leak). A holder that stops renewing loses the lease when it
// expires; work done under it carries the epoch, so a stale holder's late writes can be told apart.
import type { Sql } from '../engine.js';

export interface Lease {
  name: string;
  holder: string;
  epoch: number;
  expiresAt: string;
}

/** Takes the lease for `holder` until `until` (ISO) when it is free, expired at `now`, or already held by it; undefined when another holds it. */
export async function takeLease(sql: Sql, name: string, holder: string, now: string, until: string): Promise<Lease | undefined> {
  const fresh = await sql.get<{ epoch: number }>('INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, 1, ?) ON CONFLICT (name) DO NOTHING RETURNING epoch', [name, holder, until]);
  if (fresh) return { name, holder, epoch: Number(fresh.epoch), expiresAt: until };
  const taken = await sql.get<{ epoch: number }>(
    'UPDATE leases SET epoch = CASE WHEN holder = ? THEN epoch ELSE epoch + 1 END, holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at <= ?) RETURNING epoch',
    [holder, holder, until, name, holder, now]);
  return taken ? { name, holder, epoch: Number(taken.epoch), expiresAt: until } : undefined;
}

/** Gives the lease up (only the holder of that epoch can), so another may take it at once. */
export async function releaseLease(sql: Sql, lease: Lease, now: string): Promise<boolean> {
  return (await sql.run('UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND epoch = ?', [now, lease.name, lease.holder, lease.epoch])).changes === 1;
}
