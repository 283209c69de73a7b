// Devices. The serial is a unique key: of two enrollments of one new serial, the insert decides,
// not a read before it. Every change to an existing record is a compare-and-set on what the rule
// was decided on (its state, and for a claim its credential and release window), so a writer
// that lost a race changes nothing and is told so (false). Every statement that changes an input
// of the stored compliance evaluation clears it in the same statement (INVALIDATE, repos/compliance.ts).
import type { Platform } from '../../model/policy.generated.js';
import type { Sql } from '../engine.js';
import { INVALIDATE } from './compliance.js';
import type { DeviceRow } from './rows.js';

export async function deviceById(sql: Sql, id: string): Promise<DeviceRow | undefined> {
  return sql.get<DeviceRow>('SELECT * FROM devices WHERE id = ?', [id]);
}

export async function deviceBySerial(sql: Sql, serial: string): Promise<DeviceRow | undefined> {
  return sql.get<DeviceRow>('SELECT * FROM devices WHERE serial = ?', [serial]);
}

// The credential check reads the whole row a check-in starts from: repos/checkin.ts readByCredential.

/** What pre-registration writes. `labels`: JSON. */
export interface PreregisteredFields {
  name: string;
  platform: Platform;
  ownership: DeviceRow['ownership'];
  owner: string | null;
  labels: string;
}

export async function insertPreregistered(sql: Sql, id: string, serial: string, f: PreregisteredFields, at: string): Promise<void> {
  await sql.run(`INSERT INTO devices (id, name, serial, platform, ownership, owner, labels, state, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'preregistered', ?, ?)`, [id, f.name, serial, f.platform, f.ownership, f.owner, f.labels, at, at]);
}

/** Rewrites a pre-registered record; false when it is no longer pre-registered (an enrollment claimed it). */
export async function updatePreregistered(sql: Sql, id: string, f: PreregisteredFields, at: string): Promise<boolean> {
  return (await sql.run(`UPDATE devices SET name = ?, platform = ?, owner = ?, ownership = ?, labels = ?, updated_at = ?, ${INVALIDATE} WHERE id = ? AND state = 'preregistered'`,
    [f.name, f.platform, f.owner, f.ownership, f.labels, at, id])).changes === 1;
}

/** What an enrollment writes on the record it creates or claims. `labels`: JSON. */
export interface EnrollmentFields {
  name: string;
  platform: Platform;
  ownership: DeviceRow['ownership'];
  owner: string | null;
  labels: string;
  profile: string;
  model: string | null;
  osVersion: string;
  osKey: string | null;
  /** null: a device that never speaks emmctl's agent protocol (a device channel's), so no credential of its own. */
  credentialHash: string | null;
}

/** Creates the enrolled record of a new serial; false when the serial exists (another enrollment or record has it). */
export async function insertEnrolled(sql: Sql, id: string, serial: string, f: EnrollmentFields, at: string): Promise<boolean> {
  return (await sql.run(`INSERT INTO devices (id, name, serial, platform, ownership, owner, labels, state, profile, model, os_version, os_key, enrolled_at, credential_hash, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'enrolled', ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (serial) DO NOTHING`,
  [id, f.name, serial, f.platform, f.ownership, f.owner, f.labels, f.profile, f.model, f.osVersion, f.osKey, at, f.credentialHash, at, at])).changes === 1;
}

/**
 * An enrollment takes an existing record over, starting a new enrollment of it (no episode, no
 * release window); only if the record is still as `was` (state, credential, release window) —
 * false when another writer changed it since it was read.
 */
export async function claimForEnrollment(sql: Sql, was: Pick<DeviceRow, 'id' | 'state' | 'credential_hash' | 'released_until'>, f: EnrollmentFields, at: string): Promise<boolean> {
  return (await sql.run(`UPDATE devices SET name = ?, platform = ?, ownership = ?, owner = ?, labels = ?, state = 'enrolled', profile = ?, model = ?,
      os_version = ?, os_key = ?, enrolled_at = ?, credential_hash = ?, noncompliant_since = NULL, released_until = NULL, updated_at = ?, ${INVALIDATE}
      WHERE id = ? AND state = ? AND credential_hash IS NOT DISTINCT FROM ? AND released_until IS NOT DISTINCT FROM ?`,
  [f.name, f.platform, f.ownership, f.owner, f.labels, f.profile, f.model, f.osVersion, f.osKey, at, f.credentialHash, at,
    was.id, was.state, was.credential_hash, was.released_until])).changes === 1;
}

/** Opens a release window until `until` on an enrolled device; false when it is no longer enrolled. */
export async function releaseEnrolled(sql: Sql, id: string, until: string, at: string): Promise<boolean> {
  return (await sql.run("UPDATE devices SET released_until = ?, updated_at = ? WHERE id = ? AND state = 'enrolled'", [until, at, id])).changes === 1;
}

/** Ends the device's enrollment as `state` (its episode with it); `dropCredential`: its credential goes too. */
export async function endEnrollment(sql: Sql, id: string, state: 'wiped' | 'retired', dropCredential: boolean, at: string): Promise<void> {
  await sql.run(`UPDATE devices SET state = ?, noncompliant_since = NULL, updated_at = ?, ${INVALIDATE}${dropCredential ? ', credential_hash = NULL' : ''} WHERE id = ?`, [state, at, id]);
}

/**
 * A device channel's report with its evaluation (`stored`: evaluationSet's SET list) in one
 * statement, only while the device is enrolled (a wipe recorded meanwhile wins; PostgreSQL
 * re-checks on the row version it waited for). `osKey` null: the OS is the stored one, so
 * os_version and os_key stay out of the SET (sparing the OS index a write on the usual report).
 */
export async function writeReport(sql: Sql, id: string, f: { posture: string | null; osVersion: string; osKey: string | null; model: string | null; checkedInAt: string; appliedConfigVersion: string | null }, stored: { set: string; params: unknown[] }, at: string): Promise<boolean> {
  const r = f.osKey === null
    ? await sql.run(`UPDATE devices SET posture = ?, model = coalesce(?, model), last_check_in = ?, applied_config_version = ?, updated_at = ?, ${stored.set} WHERE id = ? AND state = 'enrolled'`, [f.posture, f.model, f.checkedInAt, f.appliedConfigVersion, at, ...stored.params, id])
    : await sql.run(`UPDATE devices SET posture = ?, os_version = ?, os_key = ?, model = coalesce(?, model), last_check_in = ?, applied_config_version = ?, updated_at = ?, ${stored.set} WHERE id = ? AND state = 'enrolled'`, [f.posture, f.osVersion, f.osKey, f.model, f.checkedInAt, f.appliedConfigVersion, at, ...stored.params, id]);
  return r.changes === 1;
}
