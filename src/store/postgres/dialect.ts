import type { Dialect } from '../engine.js';

// The glob pattern arrives as a parameter, so it is translated in SQL: LIKE's own wildcards
// and its escape character are escaped first, then `*` and `?` become `%` and `_`. LIKE is
// case-sensitive and `_` takes one character (one code point in a UTF-8 database), as
// model/filter.ts's globMatch does; plain string functions, so CockroachDB runs it too.
const LIKE_PATTERN = "replace(replace(replace(replace(replace(?, '\\', '\\\\'), '%', '\\%'), '_', '\\_'), '*', '%'), '?', '_')";

export const postgresDialect: Dialect = {
  name: 'postgres',
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  // NULL never matches, and NOT of the test is then true, as with the SQLite engine's function.
  glob: (expr: string) => `COALESCE((${expr}) LIKE ${LIKE_PATTERN} ESCAPE '\\', FALSE)`,
};
