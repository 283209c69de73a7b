// The audit log: append-only, one row per admin change, refusal or device event, written by the
// caller inside the unit of work of the change it records (so no change commits unaudited). seq
// orders it; pages are keyset pages on seq.
import type { Sql } from '../engine.js';
import { seqPage, type SeqPageQuery } from './paging.js';

export interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  source: string;
  action: string;
  target: string;
  /** JSON, or NULL. */
  detail: string | null;
}

export async function appendAudit(sql: Sql, entry: Omit<AuditRow, 'seq'>): Promise<void> {
  await sql.run('INSERT INTO audit (at, actor, source, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)',
    [entry.at, entry.actor, entry.source, entry.action, entry.target, entry.detail]);
}

/** Records at or after `since` (ISO) and by `actor`, when given, one page in seq order. */
export async function auditPage(sql: Sql, filter: { since?: string; actor?: string }, page: SeqPageQuery): Promise<AuditRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.since !== undefined) { where.push('at >= ?'); params.push(filter.since); }
  if (filter.actor !== undefined) { where.push('actor = ?'); params.push(filter.actor); }
  return seqPage<AuditRow>(sql, 'audit', where, params, page);
}
