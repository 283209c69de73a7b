// Device listings: keyset pages in a sort order (device-query.ts gives the sort key and the
// filters as SQL). A compliance listing that can use the stored evaluations reads only what a
// compliance record shows beside them (no posture, labels or other inputs), and the stored
// evaluation only where it answers (SQL tests its freshness): the rows without one are read
// again whole (fullRows), in the same unit of work, to be evaluated. At 100,000 devices the
// posture alone is most of the bytes a scan would move, and every column read is one more string
// per row for the driver to decode.
// The steps fired in each device's open episode come with its row, from the same statement: one
// index lookup per device in an episode. A separate `device_id IN (...)` read of the page's ids
// cost PostgreSQL more than the page itself (at 20,000 devices it scanned all of escalations).
import { PLAN_PER_RUN, type Dialect, type Sql } from '../engine.js';
import type { FiredRow } from './escalations.js';
import type { DeviceSort } from '../device-query.js';
import { freshEvaluation, STORED_COLUMNS } from './compliance.js';
import type { DeviceRow } from './rows.js';

/** What device listings read: everything but secrets and bookkeeping. */
const DEVICE_COLUMNS = 'id, name, serial, platform, ownership, owner, labels, state, profile, model, os_version, posture, enrolled_at, last_check_in, noncompliant_since, released_until';
/** What a compliance record shows beside the stored evaluation (FleetService toCompliance). */
const COMPLIANCE_COLUMNS = 'id, name, platform, owner, state, os_version, last_check_in, noncompliant_since';

/**
 * `device`: whole rows; `stored`: whole rows with the stored evaluation; `compliance`:
 * COMPLIANCE_COLUMNS and `compliance`, the stored evaluation only where it is fresh (see
 * freshEvaluation; NULL otherwise, and compliance_gen and the interval are not read).
 */
export type ListingColumns = 'device' | 'stored' | { compliance: { gens: readonly string[]; from: string; until: string } };

function columns(which: ListingColumns): { text: string; params: unknown[] } {
  if (which === 'device') return { text: DEVICE_COLUMNS, params: [] };
  if (which === 'stored') return { text: `${DEVICE_COLUMNS}, ${STORED_COLUMNS}`, params: [] };
  const fresh = freshEvaluation(which.compliance.gens, which.compliance.from, which.compliance.until);
  return { text: `${COMPLIANCE_COLUMNS}, ${fresh.column}`, params: fresh.params };
}

/** The sort key of a device now (a digest cursor is resolved against it); undefined when it is gone. */
export async function sortKeyOf(sql: Sql, sort: DeviceSort, id: string): Promise<string | undefined> {
  return (await sql.get<{ k: string }>(`SELECT ${sort.expr} AS k FROM devices WHERE id = ?`, [id]))?.k;
}

export interface PageQuery {
  sort: DeviceSort;
  /** SQL conditions (ANDed) and their parameters, in order. */
  where: readonly string[];
  params: readonly unknown[];
  /** Continue after this position (exclusive). */
  after?: { key: string; id: string };
  limit: number;
  columns: ListingColumns;
  /** Also read each row's `fired` (see ListingRow). */
  fired?: boolean;
}

/** A listed device; `fired` only when asked for. */
export interface ListingRow extends DeviceRow {
  /** JSON text of [policy, after_seconds, action, after, fired_at] per step fired in the open episode; NULL (or []) when none. */
  fired?: string | null;
}

/** The steps fired in the episode the row is in (noncompliant_since), every one of them. */
function firedColumn(dialect: Dialect): string {
  return `CASE WHEN noncompliant_since IS NULL THEN NULL ELSE (SELECT ${dialect.jsonRows(['e.policy', 'e.after_seconds', 'e.action', 'e.after', 'e.fired_at'])}
    FROM escalations e WHERE e.device_id = devices.id AND e.episode_start = devices.noncompliant_since) END AS fired`;
}

/** One batch of devices in sort order, each with its `sort_key`. */
export async function devicePage(sql: Sql, q: PageQuery): Promise<ListingRow[]> {
  const cmp = q.sort.desc ? '<' : '>';
  const dir = q.sort.desc ? 'DESC' : 'ASC';
  const where = [...q.where, ...(q.after ? [`(${q.sort.expr}, id) ${cmp} (?, ?)`] : []), '1 = 1'].join(' AND ');
  const fired = q.fired ? `, ${firedColumn(sql.dialect)}` : '';
  const select = columns(q.columns);
  return sql.all<ListingRow>(`${PLAN_PER_RUN}SELECT ${select.text}${fired}, ${q.sort.expr} AS sort_key FROM devices WHERE ${where} ORDER BY ${q.sort.expr} ${dir}, id ${dir} LIMIT ?`,
    [...select.params, ...q.params, ...(q.after ? [q.after.key, q.after.id] : []), q.limit]);
}

/** The fired steps a listed row came with (devicePage with `fired`). */
export function firedOfRow(row: ListingRow): FiredRow[] {
  if (row.fired == null || row.noncompliant_since === null) return [];
  return (JSON.parse(row.fired) as Array<[string, number, string, string, string]>).map(([policy, afterSeconds, action, after, firedAt]) => (
    { device_id: row.id, episode_start: row.noncompliant_since!, policy, after_seconds: afterSeconds, action, after, fired_at: firedAt }));
}

/** Whole rows (with the stored evaluation) of these devices, by id; one statement per 500. */
export async function fullRows(sql: Sql, ids: readonly string[]): Promise<Map<string, DeviceRow>> {
  const out = new Map<string, DeviceRow>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    for (const r of await sql.all<DeviceRow>(`SELECT ${DEVICE_COLUMNS}, ${STORED_COLUMNS} FROM devices WHERE id IN (${chunk.map(() => '?').join(', ')})`, chunk)) out.set(r.id, r);
  }
  return out;
}
