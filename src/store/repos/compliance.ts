// Stored compliance: each device's evaluated compliance kept on its row (migration 8), so a
// listing reads it instead of evaluating every device. A stored evaluation says what it was
// evaluated against (compliance_gen: the resource generation and the evaluator, see
// FleetService.resources) and the interval the clock alone cannot change it in
// ([compliance_from, compliance_until), see compliance/evaluate.ts resultHoldsUntil).
//
// Two rules keep a stored evaluation true to the row it sits on, with any number of writers:
//   - every statement that changes an input of the evaluation (posture, last check-in, labels,
//     owner, platform, ownership, serial, profile, the episode start) sets compliance_gen to NULL
//     in the same statement (INVALIDATE);
//   - an evaluation is written only if the row still holds the inputs it was computed from (a
//     conditional UPDATE on those columns, re-checked by PostgreSQL on the latest row version),
//     so an evaluation of a posture another writer has replaced meanwhile is never stored.
// So a row with compliance_gen set holds the evaluation of its own current inputs.
import type { Sql } from '../engine.js';

/** Appended to the SET list of any UPDATE that changes an input of the device's evaluation. */
export const INVALIDATE = 'compliance_gen = NULL';

/** The columns a listing reads to use the stored evaluation. */
export const STORED_COLUMNS = 'compliance, compliance_status, compliance_gen, compliance_from, compliance_until';

/** compliance_until of an evaluation the clock alone never changes (ISO text sorts after any instant we write). */
export const FOREVER = '9999-12-31T23:59:59.999Z';

/** The row columns an evaluation is computed from, as read. */
export interface EvaluationInputs {
  id: string;
  platform: string;
  ownership: string;
  owner: string | null;
  labels: string;
  serial: string | null;
  profile: string | null;
  posture: string | null;
  last_check_in: string | null;
  noncompliant_since: string | null;
}

/** The inputs a statement that writes the posture and check-in time does not set itself (see evaluationSet, evaluationRecord). */
export type StatementInputs = Omit<EvaluationInputs, 'id' | 'posture' | 'last_check_in'>;

export interface StoredColumns {
  compliance?: string | null;
  compliance_status?: string | null;
  compliance_gen?: string | null;
  compliance_from?: string | null;
  compliance_until?: string | null;
}

export interface Evaluation {
  /** JSON of the result and the failing policies' escalation steps (FleetService's StoredResult). */
  body: string;
  status: string;
  gen: string;
  from: string;
  until: string;
}

/**
 * Stores `e` if the row still has `inputs`; false when another writer changed them first.
 * `statusRead`: the row's compliance_status as read with the inputs; when it equals the new one
 * the column is left out of the SET (SQLite then leaves its index alone, as on most check-ins)
 * and made a condition instead, so a status another writer stored meanwhile is never kept.
 */
export async function storeEvaluation(sql: Sql, inputs: EvaluationInputs, e: Evaluation, statusRead?: string | null): Promise<boolean> {
  const same = statusRead === e.status;
  const r = await sql.run(
    `UPDATE devices SET compliance = ?, ${same ? '' : 'compliance_status = ?, '}compliance_gen = ?, compliance_from = ?, compliance_until = ?
     WHERE id = ? AND platform = ? AND ownership = ? AND owner IS NOT DISTINCT FROM ? AND labels = ? AND serial IS NOT DISTINCT FROM ?
       AND profile IS NOT DISTINCT FROM ? AND posture IS NOT DISTINCT FROM ? AND last_check_in IS NOT DISTINCT FROM ? AND noncompliant_since IS NOT DISTINCT FROM ?${same ? ' AND compliance_status = ?' : ''}`,
    [e.body, ...(same ? [] : [e.status]), e.gen, e.from, e.until, inputs.id, inputs.platform, inputs.ownership, inputs.owner, inputs.labels, inputs.serial,
      inputs.profile, inputs.posture, inputs.last_check_in, inputs.noncompliant_since, ...(same ? [e.status] : [])]);
  return r.changes === 1;
}

/**
 * The SET list that stores `e` within the UPDATE that writes the posture and check-in time it was
 * evaluated with (a check-in: one statement, not two). The other inputs are not that statement's
 * to set, so compliance_gen is set only if the row still holds them (PostgreSQL evaluates the CASE
 * on the row version it updates), else NULL: not stored. `statusRead` as for storeEvaluation.
 */
export function evaluationSet(inputs: StatementInputs, e: Evaluation, statusRead?: string | null): { set: string; params: unknown[] } {
  const same = statusRead === e.status;
  return {
    set: same ? SET_SAME_STATUS : SET_NEW_STATUS,
    params: same
      ? [e.body, e.from, e.until, inputs.platform, inputs.ownership, inputs.owner, inputs.labels, inputs.serial, inputs.profile, inputs.noncompliant_since, e.status, e.gen]
      : [e.body, e.status, e.from, e.until, inputs.platform, inputs.ownership, inputs.owner, inputs.labels, inputs.serial, inputs.profile, inputs.noncompliant_since, e.gen],
  };
}

/**
 * evaluationSet's rule for a statement that writes several devices' check-ins from a JSON record
 * per device (repos/checkin.ts WRITE_MANY, PostgreSQL): the record's columns (EVALUATION_RECORD,
 * filled by evaluationRecord) and the SET list that reads them as `v`. The same conditions:
 * compliance_gen only while the row still has the other inputs (and, when the status read is the
 * new one, still that status), else NULL.
 */
export const EVALUATION_RECORD = `compliance text, compliance_status text, status_changed boolean, compliance_from text, compliance_until text, compliance_gen text,
  in_platform text, in_ownership text, in_owner text, in_labels text, in_serial text, in_profile text, in_noncompliant_since text`;
export const EVALUATION_FROM_RECORD = `compliance = v.compliance,
      compliance_status = CASE WHEN v.status_changed THEN v.compliance_status ELSE devices.compliance_status END,
      compliance_from = v.compliance_from, compliance_until = v.compliance_until,
      compliance_gen = CASE WHEN devices.platform = v.in_platform AND devices.ownership = v.in_ownership AND devices.owner IS NOT DISTINCT FROM v.in_owner
        AND devices.labels = v.in_labels AND devices.serial IS NOT DISTINCT FROM v.in_serial AND devices.profile IS NOT DISTINCT FROM v.in_profile
        AND devices.noncompliant_since IS NOT DISTINCT FROM v.in_noncompliant_since AND (v.status_changed OR devices.compliance_status = v.compliance_status)
        THEN v.compliance_gen ELSE NULL END`;
export function evaluationRecord(inputs: StatementInputs, e: Evaluation, statusRead?: string | null): Record<string, unknown> {
  return {
    compliance: e.body, compliance_status: e.status, status_changed: statusRead !== e.status, compliance_from: e.from, compliance_until: e.until,
    compliance_gen: e.gen, in_platform: inputs.platform, in_ownership: inputs.ownership, in_owner: inputs.owner, in_labels: inputs.labels,
    in_serial: inputs.serial, in_profile: inputs.profile, in_noncompliant_since: inputs.noncompliant_since,
  };
}

// Built once: a check-in's statement is looked up by its text (the PostgreSQL engine's prepared
// statements), and one string object hashes once, a new one on every lookup.
function setText(same: boolean): string {
  return `compliance = ?, ${same ? '' : 'compliance_status = ?, '}compliance_from = ?, compliance_until = ?,
      compliance_gen = CASE WHEN platform = ? AND ownership = ? AND owner IS NOT DISTINCT FROM ? AND labels = ? AND serial IS NOT DISTINCT FROM ?
        AND profile IS NOT DISTINCT FROM ? AND noncompliant_since IS NOT DISTINCT FROM ?${same ? ' AND compliance_status = ?' : ''} THEN ? ELSE NULL END`;
}
const SET_SAME_STATUS = setText(true);
const SET_NEW_STATUS = setText(false);

/** True when the stored evaluation answers for instant `at` under one of the evaluator keys `gens`. */
export function isFresh(row: StoredColumns, gens: readonly string[], at: string): boolean {
  return row.compliance_gen != null && gens.includes(row.compliance_gen) && row.compliance_from! <= at && at < row.compliance_until!;
}

/**
 * The stored evaluation as a column that is NULL unless it answers for every instant of
 * [from, until] under one of `gens`: isFresh at `until` with compliance_from <= `from` (a listing
 * at `now` passes now twice; a what-if passes now and its instant). The listing then reads only
 * the text, not the four columns isFresh looks at.
 */
export function freshEvaluation(gens: readonly string[], from: string, until: string): { column: string; params: unknown[] } {
  return {
    column: `CASE WHEN compliance_gen IN (${gens.map(() => '?').join(', ')}) AND compliance_from <= ? AND ? < compliance_until THEN compliance END AS compliance`,
    params: [...gens, from, until],
  };
}

/**
 * SQL for a compliance-status filter over the stored column: the rows whose fresh stored status
 * passes, plus every row without a fresh evaluation (the caller evaluates those and filters them
 * itself). The same freshness as isFresh, so SQL never drops a row the caller would keep.
 */
export function statusFilter(op: '=' | '!=', status: string, gens: readonly string[], at: string): { where: string; params: unknown[] } {
  const stale = `compliance_gen IS NULL OR compliance_gen NOT IN (${gens.map(() => '?').join(', ')}) OR compliance_from > ? OR compliance_until <= ?`;
  return {
    where: `(compliance_status ${op === '=' ? '=' : 'IS DISTINCT FROM'} ? OR ${stale})`,
    params: [status, ...gens, at, at],
  };
}
