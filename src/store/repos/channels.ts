// Device channels (migration 10): the devices a channel reaches, the channel's enrollment tokens and
// published policies, and the command ledger. Every rule several replicas could race on is a key
// or a conditional write:
//   - UNIQUE (channel, ref): one emmctl device per channel device, whoever takes it in first;
//   - reported_at only moves forward (a conditional UPDATE), so an older report never wins;
//   - the ledger row of a command is inserted before it is sent (ON CONFLICT DO NOTHING): the one
//     caller whose insert lands sends it; a resend needs the row in state unknown with the
//     attempts the caller looked up (another caller's retry moved them on).
import type { CommandRow } from './commands.js';
import type { ChannelMode, ChannelName } from '../../model/channels.js';
import type { Sql } from '../engine.js';
import { INVALIDATE } from './compliance.js';

export interface ChannelDeviceRow {
  device_id: string;
  channel: ChannelName;
  ref: string;
  mode: ChannelMode;
  token_ref: string | null;
  policy: string | null;
  policy_at: string | null;
  reported_at: string | null;
  created_at: string;
}

export interface ChannelOperationRow {
  command_id: string;
  channel: ChannelName;
  ref: string;
  request: string;
  state: 'sending' | 'sent' | 'unknown' | 'done';
  operation: string | null;
  attempts: number;
  sent_at: string;
  checked_at: string | null;
}

// ---- devices --------------------------------------------------------------------------------

export async function channelDeviceByRef(sql: Sql, channel: ChannelName, ref: string): Promise<ChannelDeviceRow | undefined> {
  return sql.get<ChannelDeviceRow>('SELECT * FROM channel_devices WHERE channel = ? AND ref = ?', [channel, ref]);
}

/** False when (channel, ref) or the device already has a row: another intake took this device in first. */
export async function insertChannelDevice(sql: Sql, row: ChannelDeviceRow): Promise<boolean> {
  const r = await sql.run(`INSERT INTO channel_devices (device_id, channel, ref, mode, token_ref, policy, policy_at, reported_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  [row.device_id, row.channel, row.ref, row.mode, row.token_ref, row.policy, row.policy_at, row.reported_at, row.created_at]);
  return r.changes === 1;
}

/** A device record claimed by a new enrollment is no longer the channel device it was. */
export async function forgetChannelDevice(sql: Sql, deviceId: string): Promise<void> {
  await sql.run('DELETE FROM channel_devices WHERE device_id = ?', [deviceId]);
}

/**
 * Takes a report made at `reportedAt` unless one as new or newer was taken already; false: stale.
 * PostgreSQL re-checks the condition on the row version a concurrent intake committed.
 */
export async function advanceReport(sql: Sql, deviceId: string, mode: ChannelMode, reportedAt: string): Promise<boolean> {
  const r = await sql.run('UPDATE channel_devices SET reported_at = ?, mode = ? WHERE device_id = ? AND (reported_at IS NULL OR reported_at < ?)', [reportedAt, mode, deviceId, reportedAt]);
  return r.changes === 1;
}

export async function setChannelMode(sql: Sql, deviceId: string, mode: ChannelMode): Promise<void> {
  await sql.run('UPDATE channel_devices SET mode = ? WHERE device_id = ? AND mode != ?', [mode, deviceId, mode]);
}

/** Enrolled channel devices after `after` (device id order). */
export async function enrolledChannelDevices<D>(sql: Sql, channel: ChannelName, after: string, limit: number): Promise<Array<ChannelDeviceRow & D>> {
  return sql.all<ChannelDeviceRow & D>(`SELECT d.*, cd.* FROM channel_devices cd JOIN devices d ON d.id = cd.device_id
    WHERE cd.channel = ? AND d.state = 'enrolled' AND cd.device_id > ? ORDER BY cd.device_id LIMIT ?`, [channel, after, limit]);
}

export async function setChannelPolicy(sql: Sql, deviceId: string, policy: string, previous: string | null, at: string): Promise<boolean> {
  const r = await sql.run('UPDATE channel_devices SET policy = ?, policy_at = ? WHERE device_id = ? AND policy IS NOT DISTINCT FROM ?', [policy, at, deviceId, previous]);
  return r.changes === 1;
}

// ---- published policies ---------------------------------------------------------------------

export async function publishedDigest(sql: Sql, channel: ChannelName, name: string): Promise<string | undefined> {
  return (await sql.get<{ digest: string }>('SELECT digest FROM channel_policies WHERE channel = ? AND name = ?', [channel, name]))?.digest;
}

export async function upsertPublished(sql: Sql, channel: ChannelName, name: string, digest: string, at: string): Promise<void> {
  await sql.run(`INSERT INTO channel_policies (channel, name, digest, published_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (channel, name) DO UPDATE SET digest = excluded.digest, published_at = excluded.published_at`, [channel, name, digest, at]);
}

/**
 * Published policies no enrolled device and no live channel token names, last published before
 * `publishedBefore`: a policy published for a token being made is named by no token until the
 * token is recorded, after Google made it.
 */
export async function unreferenced(sql: Sql, channel: ChannelName, publishedBefore: string): Promise<string[]> {
  const rows = await sql.all<{ name: string }>(`SELECT p.name FROM channel_policies p WHERE p.channel = ? AND p.published_at < ?
    AND NOT EXISTS (SELECT 1 FROM channel_devices cd JOIN devices d ON d.id = cd.device_id WHERE cd.channel = p.channel AND cd.policy = p.name AND d.state = 'enrolled')
    AND NOT EXISTS (SELECT 1 FROM channel_tokens t WHERE t.channel = p.channel AND t.policy = p.name AND t.deleted_at IS NULL)
    ORDER BY p.name`, [channel, publishedBefore]);
  return rows.map((r) => r.name);
}

export async function deletePublished(sql: Sql, channel: ChannelName, name: string): Promise<void> {
  await sql.run('DELETE FROM channel_policies WHERE channel = ? AND name = ?', [channel, name]);
}

// ---- enrollment tokens ----------------------------------------------------------------------

export async function insertChannelToken(sql: Sql, tokenId: string, channel: ChannelName, ref: string, policy: string, at: string): Promise<void> {
  await sql.run('INSERT INTO channel_tokens (token_id, channel, ref, policy, created_at) VALUES (?, ?, ?, ?, ?)', [tokenId, channel, ref, policy, at]);
}

export async function channelTokenByRef(sql: Sql, channel: ChannelName, ref: string): Promise<{ token_id: string } | undefined> {
  return sql.get<{ token_id: string }>('SELECT token_id FROM channel_tokens WHERE channel = ? AND ref = ?', [channel, ref]);
}

export async function channelTokenOf(sql: Sql, tokenId: string): Promise<{ ref: string } | undefined> {
  return sql.get<{ ref: string }>('SELECT ref FROM channel_tokens WHERE token_id = ?', [tokenId]);
}

/** Tokens that can enroll nothing more (used up, revoked or expired at `now`) and are still at the channel. */
export async function tokensToDelete(sql: Sql, channel: ChannelName, now: string): Promise<Array<{ tokenId: string; ref: string }>> {
  const rows = await sql.all<{ token_id: string; ref: string }>(`SELECT ct.token_id, ct.ref FROM channel_tokens ct JOIN enrollment_tokens t ON t.id = ct.token_id
    WHERE ct.channel = ? AND ct.deleted_at IS NULL AND (t.revoked = 1 OR t.expires_at <= ? OR (t.max_uses IS NOT NULL AND t.uses >= t.max_uses))
    ORDER BY ct.created_at, ct.token_id`, [channel, now]);
  return rows.map((r) => ({ tokenId: r.token_id, ref: r.ref }));
}

export async function markTokenDeleted(sql: Sql, tokenId: string, at: string): Promise<void> {
  await sql.run('UPDATE channel_tokens SET deleted_at = ? WHERE token_id = ? AND deleted_at IS NULL', [at, tokenId]);
}

// ---- the command ledger ---------------------------------------------------------------------

/** Queued commands of the channel's devices that have no ledger row yet, oldest first. */
export async function commandsToSend(sql: Sql, channel: ChannelName, limit: number): Promise<Array<CommandRow & { ref: string; mode: ChannelMode }>> {
  return sql.all<CommandRow & { ref: string; mode: ChannelMode }>(`SELECT c.*, cd.ref, cd.mode FROM commands c JOIN channel_devices cd ON cd.device_id = c.device_id
    WHERE cd.channel = ? AND c.status = 'queued' AND NOT EXISTS (SELECT 1 FROM channel_operations o WHERE o.command_id = c.id)
    ORDER BY c.seq LIMIT ?`, [channel, limit]);
}

/** The ledger row for a command still queued, in state sending; true for the one caller whose insert landed. */
export async function beginSend(sql: Sql, commandId: string, request: string, at: string): Promise<boolean> {
  const r = await sql.run(`INSERT INTO channel_operations (command_id, channel, ref, request, state, operation, attempts, sent_at, checked_at)
    SELECT c.id, cd.channel, cd.ref, ?, 'sending', NULL, 1, ?, NULL FROM commands c JOIN channel_devices cd ON cd.device_id = c.device_id
    WHERE c.id = ? AND c.status = 'queued' ON CONFLICT DO NOTHING`, [request, at, commandId]);
  return r.changes === 1;
}

export async function operationRow(sql: Sql, commandId: string): Promise<ChannelOperationRow | undefined> {
  return sql.get<ChannelOperationRow>('SELECT * FROM channel_operations WHERE command_id = ?', [commandId]);
}

export async function markSent(sql: Sql, commandId: string, operation: string | null, at: string): Promise<boolean> {
  const r = await sql.run("UPDATE channel_operations SET state = 'sent', operation = ?, checked_at = ? WHERE command_id = ? AND state IN ('sending', 'unknown')", [operation, at, commandId]);
  return r.changes === 1;
}

export async function markUnknown(sql: Sql, commandId: string, at: string): Promise<boolean> {
  const r = await sql.run("UPDATE channel_operations SET state = 'unknown', checked_at = ? WHERE command_id = ? AND state = 'sending'", [at, commandId]);
  return r.changes === 1;
}

/** Back to sending for one more attempt, only from unknown and only if nobody retried since `attempts` was read. */
export async function retrySend(sql: Sql, commandId: string, attempts: number, at: string): Promise<boolean> {
  const r = await sql.run("UPDATE channel_operations SET state = 'sending', attempts = attempts + 1, operation = NULL, sent_at = ?, checked_at = NULL WHERE command_id = ? AND state = 'unknown' AND attempts = ?", [at, commandId, attempts]);
  return r.changes === 1;
}

/** A send that began before `staleBefore` and never recorded its answer (the sender died or hangs): its outcome is unknown. */
export async function staleSendsUnknown(sql: Sql, channel: ChannelName, staleBefore: string): Promise<number> {
  return (await sql.run("UPDATE channel_operations SET state = 'unknown' WHERE channel = ? AND state = 'sending' AND sent_at <= ?", [channel, staleBefore])).changes;
}

/** Ledger rows to follow, least recently checked first, marked checked at `at` so the next call moves on. */
export async function operationsToCheck(sql: Sql, channel: ChannelName, limit: number, at: string): Promise<Array<ChannelOperationRow & { device_id: string; expires_at: string | null }>> {
  const rows = await sql.all<ChannelOperationRow & { device_id: string; expires_at: string | null }>(`SELECT o.*, c.device_id, c.expires_at FROM channel_operations o JOIN commands c ON c.id = o.command_id
    WHERE o.channel = ? AND o.state IN ('sent', 'unknown') ORDER BY coalesce(o.checked_at, ''), o.command_id LIMIT ?`, [channel, limit]);
  for (const r of rows) await sql.run('UPDATE channel_operations SET checked_at = ? WHERE command_id = ?', [at, r.command_id]);
  return rows;
}

export async function markDone(sql: Sql, commandId: string, at: string): Promise<boolean> {
  const r = await sql.run("UPDATE channel_operations SET state = 'done', checked_at = ? WHERE command_id = ? AND state != 'done'", [at, commandId]);
  return r.changes === 1;
}

/** The command moved from queued to sent (handed to the channel); `detail` says what is known of it. */
export async function commandHandedOver(sql: Sql, commandId: string, at: string, detail: string | null = null): Promise<void> {
  await sql.run("UPDATE commands SET status = 'sent', detail = coalesce(?, detail), updated_at = ? WHERE id = ? AND status = 'queued'", [detail, at, commandId]);
}

/** Moves a still pending command to its final status; undefined when it was final already. */
export async function finishPending(sql: Sql, commandId: string, status: string, detail: string | null, at: string): Promise<CommandRow | undefined> {
  return sql.get<CommandRow>("UPDATE commands SET status = ?, detail = ?, updated_at = ? WHERE id = ? AND status IN ('queued', 'sent') RETURNING *", [status, detail, at, commandId]);
}

/** The pending wipe or retire of a device, if any (the one a device gone at the channel carried out). */
export async function pendingRemoval(sql: Sql, deviceId: string): Promise<CommandRow | undefined> {
  return sql.get<CommandRow>("SELECT * FROM commands WHERE device_id = ? AND type IN ('wipe', 'retire') AND status IN ('queued', 'sent') ORDER BY seq LIMIT 1", [deviceId]);
}

/** A device the channel no longer has: wiped or retired there, its pending commands cancelled. */
export async function removeChannelDevice(sql: Sql, deviceId: string, state: 'wiped' | 'retired', at: string): Promise<boolean> {
  const r = await sql.run(`UPDATE devices SET state = ?, noncompliant_since = NULL, credential_hash = NULL, updated_at = ?, ${INVALIDATE} WHERE id = ? AND state = 'enrolled'`, [state, at, deviceId]);
  if (r.changes !== 1) return false;
  await sql.run("UPDATE commands SET status = 'cancelled', detail = ?, updated_at = ? WHERE device_id = ? AND status IN ('queued', 'sent')", [`device ${state} at its channel`, at, deviceId]);
  return true;
}
