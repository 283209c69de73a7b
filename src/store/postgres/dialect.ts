import type { Dialect } from '../engine.js';

/**
 * SQL turning the glob in `arg` into a LIKE pattern (use with LIKE_ESCAPE): LIKE's own wildcards
 * and its escape character are escaped first, then `*` and `?` become `%` and `_`. LIKE is
 * case-sensitive and `_` takes one character (one code point in a UTF-8 database), as
 * model/filter.ts's globMatch does; plain string functions, so CockroachDB runs it too.
 */
export function likeFromGlob(arg: string): string {
  return `replace(replace(replace(replace(replace(${arg}, '\\', '\\\\'), '%', '\\%'), '_', '\\_'), '*', '%'), '?', '_')`;
}

export const LIKE_ESCAPE = "ESCAPE '\\'";

export const postgresDialect: Dialect = {
  name: 'postgres',
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  overlaps: true,
  // The pattern is the next parameter. NULL never matches, and NOT of the test is then true, as
  // with the SQLite engine's function.
  glob: (expr: string) => `COALESCE((${expr}) LIKE ${likeFromGlob('?')} ${LIKE_ESCAPE}, FALSE)`,
  // SQL functions of the same meaning as the SQLite engine's (migration 7).
  foldedGlob: (expr: string) => `emm_glob(${expr}, ?)`,
  ownerMatches: (expr: string) => `emm_owner_matches(${expr}, ?)`,
  // ->> gives NULL for a missing key, as json_extract does; ?::text because ->> also takes an integer.
  jsonText: (expr: string) => `((${expr})::jsonb ->> ?::text)`,
  // As text: node-postgres would parse json itself, and the SQLite engine gives text.
  jsonRows: (values: readonly string[]) => `json_agg(json_build_array(${values.join(', ')}))::text`,
};
