// Keyset pages over the tables ordered by their seq column (commands, audit): a page is the rows
// after (or, descending, before) the last seq the previous page returned, so a page never skips
// or repeats a row however many are written meanwhile.
import type { Sql } from '../engine.js';

export interface SeqPageQuery {
  /** The seq of the last row of the previous page. */
  after?: number;
  desc?: boolean;
  /** Rows to return at most. */
  limit: number;
}

/** `where`: conditions with `?` placeholders for `params`, written by the repository of `table`. */
export async function seqPage<R extends { seq: number }>(sql: Sql, table: 'commands' | 'audit', where: readonly string[], params: readonly unknown[], page: SeqPageQuery): Promise<R[]> {
  const conds = page.after === undefined ? where : [...where, page.desc ? 'seq < ?' : 'seq > ?'];
  const args = page.after === undefined ? params : [...params, page.after];
  return sql.all<R>(`SELECT * FROM ${table} WHERE ${[...conds, '1 = 1'].join(' AND ')} ORDER BY seq ${page.desc ? 'DESC' : 'ASC'} LIMIT ?`, [...args, page.limit]);
}
