// Device commands. At most one pending (queued or sent) command of each type per device is a
// unique key (partial index commands_one_pending), so two writers queueing a wipe for one device
// queue one: the loser's insert does nothing and it returns the winner's command. The device
// must still be enrolled when the row is written, not just when it was read.
import type { CommandStatus, CommandType } from '../../model/fleet.js';
import type { Sql } from '../engine.js';
import { seqPage, type SeqPageQuery } from './paging.js';

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

/** The command `id` if it is the device's. */
export async function commandOfDevice(sql: Sql, id: string, deviceId: string): Promise<CommandRow | undefined> {
  return sql.get<CommandRow>('SELECT * FROM commands WHERE id = ? AND device_id = ?', [id, deviceId]);
}

/** The device's latest `limit` commands, newest first. */
export async function recentCommands(sql: Sql, deviceId: string, limit: number): Promise<CommandRow[]> {
  return sql.all<CommandRow>('SELECT * FROM commands WHERE device_id = ? ORDER BY seq DESC LIMIT ?', [deviceId, limit]);
}

/**
 * Records a device's result of a command still pending (queued or sent); undefined when it is not
 * pending (any more), so of two reports racing one records it.
 */
export async function recordResult(sql: Sql, id: string, deviceId: string, status: 'acknowledged' | 'failed', detail: string | null, at: string): Promise<CommandRow | undefined> {
  return sql.get<CommandRow>("UPDATE commands SET status = ?, detail = ?, updated_at = ? WHERE id = ? AND device_id = ? AND status IN ('queued', 'sent') RETURNING *",
    [status, detail, at, id, deviceId]);
}

/** Cancels every pending command of the device (but `exceptId`), saying why in `detail`. */
export async function cancelPendingOfDevice(sql: Sql, deviceId: string, detail: string, at: string, exceptId?: string): Promise<void> {
  if (exceptId === undefined) {
    await sql.run("UPDATE commands SET status = 'cancelled', detail = ?, updated_at = ? WHERE device_id = ? AND status IN ('queued', 'sent')", [detail, at, deviceId]);
  } else {
    await sql.run("UPDATE commands SET status = 'cancelled', detail = ?, updated_at = ? WHERE device_id = ? AND status IN ('queued', 'sent') AND id != ?", [detail, at, deviceId, exceptId]);
  }
}

/** One page of commands, narrowed by whichever of device, status and type are given. */
export async function commandPage(sql: Sql, filter: { deviceId?: string; status?: CommandStatus; type?: CommandType }, page: SeqPageQuery): Promise<CommandRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.deviceId) { where.push('device_id = ?'); params.push(filter.deviceId); }
  if (filter.status) { where.push('status = ?'); params.push(filter.status); }
  if (filter.type) { where.push('type = ?'); params.push(filter.type); }
  return seqPage<CommandRow>(sql, 'commands', where, params, page);
}
