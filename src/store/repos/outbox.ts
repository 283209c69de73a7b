// The notification outbox: events written in the unit of work that fired their step, delivered
// later by the server's notifier. The event id is derived from the step, so a step claimed once
// gives one event however often a delivery is retried.
import type { OutboxEvent } from '../../model/access.js';
import type { Sql } from '../engine.js';
import { OUTBOX_CHANNEL, wake } from './wake.js';

export async function enqueueNotification(sql: Sql, eventId: string, deviceId: string, body: string, at: string): Promise<void> {
  const added = await sql.run('INSERT INTO notify_outbox (event_id, device_id, event, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING', [eventId, deviceId, body, at]);
  if (added.changes) await wake(sql, OUTBOX_CHANNEL);
}

/** The oldest undelivered events after `afterSeq`. */
export async function pendingNotifications(sql: Sql, afterSeq: number, limit: number): Promise<OutboxEvent[]> {
  const rows = await sql.all<{ seq: number; event_id: string; device_id: string; event: string }>(
    'SELECT seq, event_id, device_id, event FROM notify_outbox WHERE seq > ? ORDER BY seq LIMIT ?', [afterSeq, limit]);
  return rows.map((r) => ({ seq: Number(r.seq), id: r.event_id, deviceId: r.device_id, body: r.event }));
}

/** Drops a delivered (or given-up) event; false when another deliverer dropped it first. */
export async function finishNotification(sql: Sql, seq: number): Promise<boolean> {
  return (await sql.run('DELETE FROM notify_outbox WHERE seq = ?', [seq])).changes === 1;
}
