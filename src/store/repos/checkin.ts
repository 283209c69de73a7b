// The agent check-in, the hot path: one read and one write per check-in.
//   - The read is one statement outside any unit of work: the device row (found by its id, or by
//     its credential, which makes it the credential check itself), the resource generation and,
//     for a device in an episode, the steps fired in it.
//   - The write is one statement that holds only if the row still has the state and credential
//     it was read with (a wipe or a retire in between makes it write nothing, and the caller reads
//     again): the posture, the check-in time and the stored evaluation (its compliance_gen set only
//     if the evaluated inputs are still the row's, see ./compliance.ts evaluationSet), then the
//     device's pending commands, queued ones marked sent, expired ones expired. On PostgreSQL that
//     is one data-modifying WITH statement (one round trip, no BEGIN and COMMIT); SQLite, in
//     process, runs the same steps as a few statements in one unit of work.
// A check-in with escalation work to do (an episode to open or end, a step due) instead runs its
// steps in one transaction (FleetService.checkIn), with the statements below that take a Sql.
import type { CommandRow } from './commands.js';
import { evaluationSet, type Evaluation, type EvaluationInputs, type StoredColumns } from './compliance.js';
import type { Dialect, Sql, SqlEngine } from '../engine.js';
import { InFlightBatcher } from '../batch.js';

/** What the check-in read returns beside the device's own columns. */
export interface CheckInExtras extends StoredColumns {
  /** meta.resource_generation when the row was read. */
  generation: string;
  /** JSON text of [policy, after_seconds, action] per step fired in the open episode; NULL when none. */
  fired: string | null;
}

function readText(dialect: Dialect, by: 'id' | 'credential' | 'credentials'): string {
  return `SELECT d.*, (SELECT value FROM meta WHERE key = 'resource_generation') AS generation,
    CASE WHEN d.noncompliant_since IS NULL THEN NULL ELSE (SELECT ${dialect.jsonRows(['e.policy', 'e.after_seconds', 'e.action'])}
      FROM escalations e WHERE e.device_id = d.id AND e.episode_start = d.noncompliant_since) END AS fired
    FROM devices d WHERE ${by === 'id' ? 'd.id = ?' : by === 'credential' ? "d.credential_hash = ? AND d.state IN ('enrolled', 'retired')"
      : "d.credential_hash = ANY (string_to_array(?, ',')) AND d.state IN ('enrolled', 'retired')"}`;
}

const READ_TEXT = new Map<string, string>();
function cachedReadText(dialect: Dialect, by: 'id' | 'credential'): string {
  const key = `${dialect.name}:${by}`;
  let text = READ_TEXT.get(key);
  if (text === undefined) READ_TEXT.set(key, (text = readText(dialect, by)));
  return text;
}

/**
 * The device a credential belongs to (enrolled or retired), as a check-in reads it; one statement.
 * On PostgreSQL the lookups that arrive while others are in flight share one statement (see
 * ../batch.ts): every agent request makes one, so their fixed cost is what a busy server saves.
 * `credentialHash` is hashSecret's hex digest.
 */
export async function readByCredential<R>(engine: SqlEngine, credentialHash: string): Promise<(R & CheckInExtras) | undefined> {
  if (engine.name !== 'postgres' || !HEX.test(credentialHash)) {
    return (await engine.query<R & CheckInExtras>(cachedReadText(engine.dialect, 'credential'), [credentialHash]))[0];
  }
  const row = await credentialBatcher(engine).get(credentialHash);
  // Two requests with one credential at once get one row: each its own copy to change.
  return row === undefined ? undefined : ({ ...row } as unknown as R & CheckInExtras);
}

const HEX = /^[0-9a-f]+$/;
type CredentialRow = Record<string, unknown> & { credential_hash: string };
/** At most this many credentials in one lookup, and lookups at once (of the engine's pool of 10 by default). */
const CREDENTIALS_PER_READ = 64;
const CREDENTIAL_READS_IN_FLIGHT = 2;

const batchers = new WeakMap<SqlEngine, InFlightBatcher<string, CredentialRow>>();
/** The engine's credential lookups (exported for the tests, which count its loads). */
export function credentialBatcher(engine: SqlEngine): InFlightBatcher<string, CredentialRow> {
  let b = batchers.get(engine);
  if (b === undefined) {
    // The hashes travel as one comma-separated text parameter (hex digests hold no comma): one
    // statement text, and a parameter the engine binds as text like any other.
    const text = readText(engine.dialect, 'credentials');
    b = new InFlightBatcher(async (keys) => {
      const rows = await engine.query<CredentialRow>(text, [keys.join(',')]);
      return new Map(rows.map((r) => [r.credential_hash, r]));
    }, { maxKeys: CREDENTIALS_PER_READ, maxInFlight: CREDENTIAL_READS_IN_FLIGHT });
    batchers.set(engine, b);
  }
  return b;
}

/** The device as a check-in reads it; one statement on its own, or inside `sql`'s unit of work. */
export async function readById<R>(from: SqlEngine | Sql, id: string): Promise<(R & CheckInExtras) | undefined> {
  const text = cachedReadText(from.dialect, 'id');
  return 'transaction' in from ? (await from.query<R & CheckInExtras>(text, [id]))[0] : from.get<R & CheckInExtras>(text, [id]);
}

/** The fired steps of a check-in read, as [policy, afterSeconds, action]. */
export function firedSteps(extras: CheckInExtras): Array<[string, number, string]> {
  return extras.fired === null ? [] : (JSON.parse(extras.fired) as Array<[string, number, string]>);
}

export interface CheckInWrite {
  id: string;
  /** The row as read: the write applies only while the device still has this state and credential. */
  state: string;
  credentialHash: string;
  at: string;
  posture: string;
  /** Set when the OS version changed (left out otherwise, sparing the OS index a write). */
  os?: { version: string; key: string | null };
  model: string | null;
  appliedConfigVersion: string | null;
  /** The evaluated inputs as read, the evaluation, and the stored status as read (see evaluationSet). */
  inputs: EvaluationInputs;
  evaluation: Evaluation;
  statusRead: string | null | undefined;
}

/** What a device is sent: its pending commands. */
export type PendingRow = Pick<CommandRow, 'seq' | 'id' | 'type' | 'reason' | 'created_at'>;

/**
 * The statement texts, built once per shape: per SET list of the evaluation (one string object
 * per shape, see evaluationSet) and with or without the OS columns.
 */
const WRITE_TEXT = new Map<string, { update: string[]; with: string[] }>();
function texts(set: string): { update: string[]; with: string[] } {
  let t = WRITE_TEXT.get(set);
  if (t === undefined) WRITE_TEXT.set(set, (t = { update: [], with: [] }));
  return t;
}

function deviceUpdate(w: CheckInWrite): { text: string; params: unknown[]; shape: { update: string[]; with: string[] }; os: number } {
  const stored = evaluationSet(w.inputs, w.evaluation, w.statusRead);
  const shape = texts(stored.set);
  const os = w.os ? 1 : 0;
  const text = (shape.update[os] ??= `UPDATE devices SET posture = ?, ${w.os ? 'os_version = ?, os_key = ?, ' : ''}model = coalesce(?, model), last_check_in = ?, applied_config_version = ?, updated_at = ?, ${stored.set}
      WHERE id = ? AND state = ? AND credential_hash = ?`);
  return {
    text,
    params: [w.posture, ...(w.os ? [w.os.version, w.os.key] : []), w.model, w.at, w.appliedConfigVersion, w.at, ...stored.params, w.id, w.state, w.credentialHash],
    shape,
    os,
  };
}

/** The device update of a check-in inside a unit of work; false when the row no longer has the state or credential read. */
export async function updateCheckedIn(sql: Sql, w: CheckInWrite): Promise<boolean> {
  const u = deviceUpdate(w);
  return (await sql.run(u.text, u.params)).changes === 1;
}

/**
 * The device's pending commands, in order, inside a unit of work: expired ones are marked
 * expired and left out, queued ones marked sent. Sent but unreported ones go out again (a device
 * that lost the last response must still get them).
 */
export async function deliverCommands(sql: Sql, deviceId: string, at: string): Promise<PendingRow[]> {
  const pending: PendingRow[] = [];
  let queued = false;
  for (const c of await sql.all<PendingRow & { status: string; expires_at: string | null }>(
    "SELECT seq, id, type, reason, created_at, status, expires_at FROM commands WHERE device_id = ? AND status IN ('queued', 'sent') ORDER BY seq", [deviceId])) {
    if (c.expires_at !== null && c.expires_at <= at) await sql.run("UPDATE commands SET status = 'expired', updated_at = ? WHERE id = ? AND status IN ('queued', 'sent')", [at, c.id]);
    else {
      pending.push({ seq: c.seq, id: c.id, type: c.type, reason: c.reason, created_at: c.created_at });
      if (c.status === 'queued') queued = true;
    }
  }
  if (queued) await sql.run("UPDATE commands SET status = 'sent', updated_at = ? WHERE device_id = ? AND status = 'queued' AND (expires_at IS NULL OR expires_at > ?)", [at, deviceId, at]);
  return pending;
}

/**
 * The whole write of a check-in with no escalation work: undefined when the device no longer has
 * the state or credential it was read with (nothing written), else its pending commands.
 */
export async function writeCheckIn(engine: SqlEngine, w: CheckInWrite): Promise<PendingRow[] | undefined> {
  if (engine.name !== 'postgres') {
    // SQLite: check-ins arriving together share one COMMIT (SqliteEngine.shared), each still all-or-nothing.
    return engine.transaction(async (sql) => ((await updateCheckedIn(sql, w)) ? deliverCommands(sql, w.id, w.at) : undefined), { shareCommit: true });
  }
  const u = deviceUpdate(w);
  // Every sub-statement sees the snapshot the statement started with: the last SELECT returns the
  // commands sent before (not expired); `sent` returns those this statement sends, which the
  // snapshot still has as queued, so none comes twice. Each UPDATE re-checks its WHERE on the
  // row's latest version, so a command reported or cancelled meanwhile is left alone.
  const rows = await engine.execute<{ written: number } & Partial<PendingRow>>(u.shape.with[u.os] ??=
    `WITH d AS (${u.text} RETURNING id),
    expired AS (UPDATE commands SET status = 'expired', updated_at = ? WHERE device_id = ? AND status IN ('queued', 'sent') AND expires_at <= ? AND EXISTS (SELECT 1 FROM d) RETURNING id),
    sent AS (UPDATE commands SET status = 'sent', updated_at = ? WHERE device_id = ? AND status = 'queued' AND (expires_at IS NULL OR expires_at > ?) AND EXISTS (SELECT 1 FROM d)
      RETURNING seq, id, type, reason, created_at)
    SELECT n.written, p.seq, p.id, p.type, p.reason, p.created_at
    FROM (SELECT count(*) AS written FROM d) n LEFT JOIN (
      SELECT seq, id, type, reason, created_at FROM sent
      UNION ALL
      SELECT seq, id, type, reason, created_at FROM commands WHERE device_id = ? AND status = 'sent' AND (expires_at IS NULL OR expires_at > ?) AND EXISTS (SELECT 1 FROM d)
    ) p ON TRUE ORDER BY p.seq`,
    [...u.params, w.at, w.id, w.at, w.at, w.id, w.at, w.id, w.at]);
  if (Number(rows[0]?.written) !== 1) return undefined;
  return rows.filter((r) => r.id != null).map((r) => ({ seq: r.seq!, id: r.id!, type: r.type!, reason: r.reason ?? null, created_at: r.created_at! }));
}
