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
// On PostgreSQL the reads, and the writes, that arrive while others are in flight share one
// statement each (../batch.ts): a busy server sends a few multi-device statements instead of two
// per check-in, which is where most of the database's CPU per check-in went.
// A check-in with escalation work to do (an episode to open or end, a step due) instead runs its
// steps in one transaction (FleetService.checkIn), with the statements below that take a Sql.
import type { CommandRow } from './commands.js';
import { EVALUATION_FROM_RECORD, EVALUATION_RECORD, evaluationRecord, evaluationSet, type Evaluation, type StatementInputs, type StoredColumns } from './compliance.js';
import type { DeviceRow } from './rows.js';
import type { Dialect, Sql, SqlEngine } from '../engine.js';
import { InFlightBatcher } from '../batch.js';

/** What the check-in read returns beside the device's own columns. */
export interface CheckInExtras extends StoredColumns {
  /** meta.resource_generation when the row was read. */
  generation: string;
  /** JSON text of [policy, after_seconds, action] per step fired in the open episode; NULL when none. */
  fired: string | null;
}

/**
 * The device columns a check-in reads: what its rules and its response use. Not the posture,
 * applied configuration and OS key it replaces, nor the stored evaluation, which it only writes
 * (the text is the longest column of the row). The credential check reads the same.
 */
const CHECK_IN_COLUMNS = ['id', 'name', 'serial', 'platform', 'ownership', 'owner', 'labels', 'state', 'profile', 'model', 'os_version',
  'enrolled_at', 'last_check_in', 'noncompliant_since', 'credential_hash', 'released_until', 'compliance_status'] as const satisfies ReadonlyArray<keyof DeviceRow>;

/** A device as a check-in reads it. */
export type CheckInRow = Pick<DeviceRow, (typeof CHECK_IN_COLUMNS)[number]> & CheckInExtras;

function readText(dialect: Dialect, by: 'id' | 'credential' | 'credentials'): string {
  return `SELECT ${CHECK_IN_COLUMNS.map((c) => `d.${c}`).join(', ')}, (SELECT value FROM meta WHERE key = 'resource_generation') AS generation,
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
export async function readByCredential(engine: SqlEngine, credentialHash: string): Promise<CheckInRow | undefined> {
  if (engine.name !== 'postgres' || !HEX.test(credentialHash)) {
    return (await engine.query<CheckInRow>(cachedReadText(engine.dialect, 'credential'), [credentialHash]))[0];
  }
  const row = await credentialBatcher(engine).submit(credentialHash, credentialHash);
  // Two requests with one credential at once get one row: each its own copy to change.
  return row === undefined ? undefined : ({ ...row } as unknown as CheckInRow);
}

const HEX = /^[0-9a-f]+$/;
type CredentialRow = Record<string, unknown> & { credential_hash: string };
/** At most this many credentials in one lookup, and lookups at once (of the engine's pool of 10 by default). */
const CREDENTIALS_PER_READ = 64;
const CREDENTIAL_READS_IN_FLIGHT = 2;

const batchers = new WeakMap<SqlEngine, InFlightBatcher<string, string, CredentialRow>>();
/** The engine's credential lookups (exported for the tests, which count its loads). */
export function credentialBatcher(engine: SqlEngine): InFlightBatcher<string, string, CredentialRow> {
  let b = batchers.get(engine);
  if (b === undefined) {
    // The hashes travel as one comma-separated text parameter (hex digests hold no comma): one
    // statement text, and a parameter the engine binds as text like any other.
    const text = readText(engine.dialect, 'credentials');
    b = new InFlightBatcher(async (batch: Map<string, string>) => {
      const rows = await engine.query<CredentialRow>(text, [[...batch.keys()].join(',')]);
      return new Map(rows.map((r) => [r.credential_hash, r]));
    }, { maxKeys: CREDENTIALS_PER_READ, maxInFlight: CREDENTIAL_READS_IN_FLIGHT, join: true });
    batchers.set(engine, b);
  }
  return b;
}

/** The device as a check-in reads it; one statement on its own, or inside `sql`'s unit of work. */
export async function readById(from: SqlEngine | Sql, id: string): Promise<CheckInRow | undefined> {
  const text = cachedReadText(from.dialect, 'id');
  return 'transaction' in from ? (await from.query<CheckInRow>(text, [id]))[0] : from.get<CheckInRow>(text, [id]);
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
  inputs: StatementInputs;
  evaluation: Evaluation;
  statusRead: string | null | undefined;
}

/** What a device is sent: its pending commands. */
export type PendingRow = Pick<CommandRow, 'seq' | 'id' | 'type' | 'reason' | 'created_at'>;

/** The statement texts, built once per shape: per SET list of the evaluation (one string object per shape, see evaluationSet), without and with the OS columns. */
const WRITE_TEXT = new Map<string, string[]>();

function deviceUpdate(w: CheckInWrite): { text: string; params: unknown[] } {
  const stored = evaluationSet(w.inputs, w.evaluation, w.statusRead);
  let shape = WRITE_TEXT.get(stored.set);
  if (shape === undefined) WRITE_TEXT.set(stored.set, (shape = []));
  const text = (shape[w.os ? 1 : 0] ??= `UPDATE devices SET posture = ?, ${w.os ? 'os_version = ?, os_key = ?, ' : ''}model = coalesce(?, model), last_check_in = ?, applied_config_version = ?, updated_at = ?, ${stored.set}
      WHERE id = ? AND state = ? AND credential_hash = ?`);
  return {
    text,
    params: [w.posture, ...(w.os ? [w.os.version, w.os.key] : []), w.model, w.at, w.appliedConfigVersion, w.at, ...stored.params, w.id, w.state, w.credentialHash],
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
 * the state or credential it was read with (nothing written), else its pending commands. On
 * PostgreSQL the writes that arrive while others are in flight share one statement (../batch.ts),
 * one device at most once in it; each device's part is still all-or-nothing, and a statement that
 * fails fails every check-in it carried (the agent sends its check-in again).
 */
export async function writeCheckIn(engine: SqlEngine, w: CheckInWrite): Promise<PendingRow[] | undefined> {
  if (engine.name !== 'postgres') {
    // SQLite: check-ins arriving together share one COMMIT (SqliteEngine.shared), each still all-or-nothing.
    return engine.transaction(async (sql) => ((await updateCheckedIn(sql, w)) ? deliverCommands(sql, w.id, w.at) : undefined), { shareCommit: true });
  }
  return writeBatcher(engine).submit(w.id, w);
}

/**
 * Check-in writes in one statement at most, and such statements at once. The statement's LIMIT
 * says it too: without it PostgreSQL takes json_to_recordset for 100 rows, and a connection that
 * prepared the statement's generic plan while the devices table was a few thousand rows kept a
 * hash join over a scan of the whole table (seen in the benchmark: one replica's statements read
 * every device row per write, and PostgreSQL took twice the CPU per check-in); for 16 rows a
 * lookup per row by the primary key is the cheaper plan at any size that matters.
 */
const WRITES_PER_STATEMENT = 16;
const WRITES_IN_FLIGHT = 2;

const writers = new WeakMap<SqlEngine, InFlightBatcher<string, CheckInWrite, PendingRow[]>>();
/** The engine's check-in writes (exported for the tests, which count its loads). */
export function writeBatcher(engine: SqlEngine): InFlightBatcher<string, CheckInWrite, PendingRow[]> {
  let b = writers.get(engine);
  if (b === undefined) {
    b = new InFlightBatcher((batch: Map<string, CheckInWrite>) => writeCheckIns(engine, [...batch.values()]),
      { maxKeys: WRITES_PER_STATEMENT, maxInFlight: WRITES_IN_FLIGHT, join: false });
    writers.set(engine, b);
  }
  return b;
}

/** The columns of one check-in's row in WRITE_MANY's json_to_recordset (see checkInRecord). */
const RECORD = `id text, state text, credential_hash text, posture text, os boolean, os_version text, os_key text, model text, at text,
  applied_config_version text, ${EVALUATION_RECORD}`;

// PostgreSQL, one statement for several devices' check-ins (distinct devices), as one check-in's
// statement did for one: each device's row is updated only while it has the state and credential
// read, then its pending commands are expired or sent. The rows travel as one JSON text parameter.
// Every sub-statement sees the snapshot the statement started with: the last SELECT returns the
// commands sent before (not expired); `sent` returns those this statement sends, which the
// snapshot still has as queued, so none comes twice. Each UPDATE re-checks its WHERE on the row's
// latest version, so a command reported or cancelled meanwhile is left alone. Two such statements
// in flight may both hold a device (its next check-in queued behind the first): the device row's
// lock orders them, and a deadlock with another writer is retried whole, like any statement's
// (SqlEngine.execute). The LIMIT is there for the planner (see WRITES_PER_STATEMENT).
const WRITE_MANY = `WITH v AS (SELECT * FROM json_to_recordset(?::json) AS v(${RECORD}) ORDER BY v.id LIMIT ${WRITES_PER_STATEMENT}),
  d AS (UPDATE devices SET posture = v.posture,
      os_version = CASE WHEN v.os THEN v.os_version ELSE devices.os_version END, os_key = CASE WHEN v.os THEN v.os_key ELSE devices.os_key END,
      model = coalesce(v.model, devices.model), last_check_in = v.at, applied_config_version = v.applied_config_version, updated_at = v.at,
      ${EVALUATION_FROM_RECORD}
    FROM v WHERE devices.id = v.id AND devices.state = v.state AND devices.credential_hash = v.credential_hash RETURNING devices.id),
  w AS (SELECT v.id, v.at FROM v JOIN d ON d.id = v.id),
  expired AS (UPDATE commands SET status = 'expired', updated_at = w.at FROM w
    WHERE commands.device_id = w.id AND commands.status IN ('queued', 'sent') AND commands.expires_at <= w.at RETURNING commands.id),
  sent AS (UPDATE commands SET status = 'sent', updated_at = w.at FROM w
    WHERE commands.device_id = w.id AND commands.status = 'queued' AND (commands.expires_at IS NULL OR commands.expires_at > w.at)
    RETURNING commands.device_id, commands.seq, commands.id, commands.type, commands.reason, commands.created_at)
  SELECT w.id AS device_id, p.seq, p.id, p.type, p.reason, p.created_at
  FROM w LEFT JOIN (
    SELECT device_id, seq, id, type, reason, created_at FROM sent
    UNION ALL
    SELECT c.device_id, c.seq, c.id, c.type, c.reason, c.created_at FROM commands c JOIN w ON c.device_id = w.id
      WHERE c.status = 'sent' AND (c.expires_at IS NULL OR c.expires_at > w.at)
  ) p ON p.device_id = w.id ORDER BY w.id, p.seq`;

/** One check-in's row for WRITE_MANY. */
function checkInRecord(w: CheckInWrite): Record<string, unknown> {
  return {
    id: w.id, state: w.state, credential_hash: w.credentialHash, posture: w.posture, os: w.os !== undefined, os_version: w.os?.version ?? null,
    os_key: w.os?.key ?? null, model: w.model, at: w.at, applied_config_version: w.appliedConfigVersion,
    ...evaluationRecord(w.inputs, w.evaluation, w.statusRead),
  };
}

async function writeCheckIns(engine: SqlEngine, writes: CheckInWrite[]): Promise<Map<string, PendingRow[]>> {
  const rows = await engine.execute<{ device_id: string } & Partial<PendingRow>>(WRITE_MANY, [JSON.stringify(writes.map(checkInRecord))]);
  const written = new Map<string, PendingRow[]>();
  for (const r of rows) {
    let pending = written.get(r.device_id);
    if (pending === undefined) written.set(r.device_id, (pending = []));
    if (r.id != null) pending.push({ seq: r.seq!, id: r.id, type: r.type!, reason: r.reason ?? null, created_at: r.created_at! });
  }
  return written;
}
