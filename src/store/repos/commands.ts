// Device commands. At most one pending (queued or sent) command of each type per device is a
// unique key (partial index commands_one_pending), so two writers queueing a wipe for one device
// queue one: the loser's insert does nothing and it returns the winner's command. The device
// must still be enrolled when the row is written, not just when it was read.
import type { CommandStatus, CommandType } from '../../model/fleet.js';
import type { Sql } from '../engine.js';

export interface CommandRow {
  seq: number;
  id: string;
  device_id: string;
  type: CommandType;
  status: CommandStatus;
  reason: string | null;
  requested_by: string;
  idempotency_key: string | null;
  created_at: string;
  updated_at: string;
  detail: string | null;
  expires_at: string | null;
}

export type QueueOutcome = { queued: CommandRow } | { pending: CommandRow } | { notEnrolled: true };

/** Queues `cmd` unless its device has a pending command of the type (returned instead) or is no longer enrolled. */
export async function insertPendingCommand(sql: Sql, cmd: Omit<CommandRow, 'seq'>): Promise<QueueOutcome> {
  const inserted = await sql.get<CommandRow>(
    `INSERT INTO commands (id, device_id, type, status, reason, requested_by, idempotency_key, created_at, updated_at, detail, expires_at)
     SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM devices WHERE id = ? AND state = 'enrolled')
     ON CONFLICT (device_id, type) WHERE status IN ('queued', 'sent') DO NOTHING RETURNING *`,
    [cmd.id, cmd.device_id, cmd.type, cmd.status, cmd.reason, cmd.requested_by, cmd.idempotency_key, cmd.created_at, cmd.updated_at, cmd.detail, cmd.expires_at, cmd.device_id]);
  if (inserted) return { queued: inserted };
  const pending = await sql.get<CommandRow>("SELECT * FROM commands WHERE device_id = ? AND type = ? AND status IN ('queued', 'sent') ORDER BY seq LIMIT 1", [cmd.device_id, cmd.type]);
  return pending ? { pending } : { notEnrolled: true };
}

export async function commandById(sql: Sql, id: string): Promise<CommandRow | undefined> {
  return sql.get<CommandRow>('SELECT * FROM commands WHERE id = ?', [id]);
}

/** Cancels a command still in status `was`; undefined when another writer changed it first. */
export async function cancelPending(sql: Sql, id: string, was: CommandStatus, at: string): Promise<CommandRow | undefined> {
  return sql.get<CommandRow>("UPDATE commands SET status = 'cancelled', updated_at = ? WHERE id = ? AND status = ? RETURNING *", [at, id, was]);
}
