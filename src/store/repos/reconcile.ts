// Reconcile passes shared by the replicas. A pass walks the enrolled devices in id order, in
// pages; each page is handed out once per pass, to whichever replica asks first, so the replicas
// split a pass between them instead of each walking the whole fleet.
//
// - A pass is a row of reconcile_passes. The next one is started by inserting its row (the
//   primary key lets one replica win) once the previous pass is wholly handed out, every page of
//   it is done, and its interval has run since it started. The winner expires commands and
//   forgets old idempotency keys in the same transaction, so that happens once per pass too.
// - A page is the key range (after_id, last_id]. It is claimed by inserting its row keyed by
//   (pass, after_id), after_id being the end of the page handed out before it: the key is the
//   compare-and-set, so two replicas that read the same end cannot both claim the next page.
// - The claim is a lease: its holder evaluates the page in one transaction that also marks the
//   page done. A holder that dies (or loses its database) before that commit leaves the page
//   undone; once the lease expires, another replica takes it over with a conditional UPDATE.
//   Escalation step claims stay the guarantee against firing twice when a slow holder and its
//   successor both evaluate a page.
import type { Sql } from '../engine.js';
import { RECONCILE_CHANNEL, wake } from './wake.js';

export interface ReconcilePage {
  pass: number;
  /** The page covers enrolled devices with after < id <= last. */
  after: string;
  last: string;
  /** Nothing after it: the pass is wholly handed out once this page is. */
  final: boolean;
}

export interface PassState {
  pass: number;
  startedAt: string;
  /** Every page handed out (the final one among them). */
  handedOut: boolean;
  /** Pages handed out and not done yet. */
  unfinished: number;
  /** The earliest lease expiry among those, when any. */
  firstExpiry?: string;
}

interface PageRow {
  pass: number;
  after_id: string;
  last_id: string;
  final: number;
}

const toPage = (r: PageRow): ReconcilePage => ({ pass: Number(r.pass), after: r.after_id, last: r.last_id, final: Boolean(Number(r.final)) });

/** The latest pass and how far it has got; undefined before the first. */
export async function currentPass(sql: Sql): Promise<PassState | undefined> {
  const pass = await sql.get<{ pass: number; started_at: string }>('SELECT pass, started_at FROM reconcile_passes ORDER BY pass DESC LIMIT 1');
  if (!pass) return undefined;
  const n = Number(pass.pass);
  const pages = await sql.get<{ finals: number; unfinished: number; first_expiry: string | null }>(
    'SELECT COALESCE(SUM(final), 0) AS finals, COALESCE(SUM(CASE WHEN done_at IS NULL THEN 1 ELSE 0 END), 0) AS unfinished, MIN(CASE WHEN done_at IS NULL THEN expires_at END) AS first_expiry FROM reconcile_pages WHERE pass = ?',
    [n]);
  return {
    pass: n,
    startedAt: pass.started_at,
    handedOut: Number(pages?.finals ?? 0) > 0,
    unfinished: Number(pages?.unfinished ?? 0),
    ...(pages?.first_expiry ? { firstExpiry: pages.first_expiry } : {}),
  };
}

/** Starts pass `pass` for `holder`; false when another replica started it first. Old passes' rows go (the last few stay, to be looked at). */
export async function startPass(sql: Sql, pass: number, holder: string, at: string): Promise<boolean> {
  const won = await sql.get('INSERT INTO reconcile_passes (pass, started_at, started_by) VALUES (?, ?, ?) ON CONFLICT (pass) DO NOTHING RETURNING pass', [pass, at, holder]);
  if (!won) return false;
  // The other replicas join at once (PostgreSQL), rather than when their own timers say the pass is due.
  await wake(sql, RECONCILE_CHANNEL);
  await sql.run('DELETE FROM reconcile_pages WHERE pass < ?', [pass - KEPT_PASSES]);
  await sql.run('DELETE FROM reconcile_passes WHERE pass < ?', [pass - KEPT_PASSES]);
  return true;
}

const KEPT_PASSES = 3;

/** An unfinished page of `pass` whose lease ran out at `now`, taken over by `holder` until `until`. */
export async function takeOverPage(sql: Sql, pass: number, holder: string, now: string, until: string): Promise<ReconcilePage | undefined> {
  const stale = await sql.get<PageRow & { holder: string }>(
    'SELECT pass, after_id, last_id, final, holder FROM reconcile_pages WHERE pass = ? AND done_at IS NULL AND expires_at <= ? ORDER BY after_id LIMIT 1', [pass, now]);
  if (!stale) return undefined;
  // Conditional on the lease still being the expired one: of two replicas taking it over, one does.
  const taken = await sql.run('UPDATE reconcile_pages SET holder = ?, expires_at = ? WHERE pass = ? AND after_id = ? AND holder = ? AND done_at IS NULL AND expires_at <= ?',
    [holder, until, pass, stale.after_id, stale.holder, now]);
  return taken.changes === 1 ? toPage(stale) : undefined;
}

/**
 * Claims the next page of `pass` (up to `size` enrolled devices after the last page handed out)
 * for `holder` until `until`. Undefined when the pass is wholly handed out, or when another
 * replica claimed the same page first (the caller asks again).
 */
export async function claimNextPage(sql: Sql, pass: number, size: number, holder: string, until: string): Promise<ReconcilePage | 'handed-out' | undefined> {
  const tail = await sql.get<{ last_id: string; final: number }>('SELECT last_id, final FROM reconcile_pages WHERE pass = ? ORDER BY last_id DESC, final DESC LIMIT 1', [pass]);
  if (tail && Number(tail.final)) return 'handed-out';
  const after = tail?.last_id ?? '';
  const ids = await sql.all<{ id: string }>("SELECT id FROM devices WHERE state = 'enrolled' AND id > ? ORDER BY id LIMIT ?", [after, size]);
  const last = ids.length ? ids[ids.length - 1]!.id : after;
  const final = ids.length < size;
  const won = await sql.get('INSERT INTO reconcile_pages (pass, after_id, last_id, final, holder, expires_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pass, after_id) DO NOTHING RETURNING pass',
    [pass, after, last, final ? 1 : 0, holder, until]);
  return won ? { pass, after, last, final } : undefined;
}

/**
 * A claimed page's enrolled devices, locked for its evaluating transaction. Rows a check-in holds
 * are skipped (PostgreSQL): that check-in evaluates its device itself.
 */
export async function pageDevices<Row>(sql: Sql, page: ReconcilePage): Promise<Row[]> {
  return sql.all<Row>(`SELECT * FROM devices WHERE state = 'enrolled' AND id > ? AND id <= ? ORDER BY id${sql.dialect.skipLocked}`, [page.after, page.last]);
}

/**
 * Up to `limit` enrolled devices after `after` in id order, locked for the caller's transaction
 * (a whole pass by one caller, FleetService.reconcile); rows another transaction holds are skipped.
 */
export async function enrolledDevicesAfter<Row>(sql: Sql, after: string, limit: number): Promise<Row[]> {
  return sql.all<Row>(`SELECT * FROM devices WHERE state = 'enrolled' AND id > ? ORDER BY id LIMIT ?${sql.dialect.skipLocked}`, [after, limit]);
}

/**
 * Marks the page done by `holder` in the transaction that evaluated it, counting its `evaluated`
 * devices (added up when a taken-over page was evaluated twice, so the sum is what was done).
 */
export async function finishPage(sql: Sql, page: ReconcilePage, holder: string, evaluated: number, at: string): Promise<void> {
  await sql.run('UPDATE reconcile_pages SET done_at = COALESCE(done_at, ?), done_by = COALESCE(done_by, ?), evaluated = evaluated + ? WHERE pass = ? AND after_id = ?',
    [at, holder, evaluated, page.pass, page.after]);
}

/** Commands nobody picked up before expires_at: expired once per pass (the starter's transaction). */
export async function expireCommands(sql: Sql, at: string): Promise<number> {
  return (await sql.run("UPDATE commands SET status = 'expired', updated_at = ? WHERE status IN ('queued', 'sent') AND expires_at <= ?", [at, at])).changes;
}
