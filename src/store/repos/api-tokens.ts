// API tokens of the server's admin API. The secret is stored as its hash only. The check in front
// of every request is one statement outside any unit of work (SqlEngine.query: one round trip on
// PostgreSQL); last_used_at and revocation are conditional updates, so concurrent requests on
// any replica write the first at most once per interval and record (and audit) the second once.
import type { Sql, SqlEngine } from '../engine.js';
import type { ApiTokenRow } from './rows.js';

export async function insertApiToken(sql: Sql, row: ApiTokenRow): Promise<void> {
  await sql.run('INSERT INTO api_tokens (id, name, role, secret_hash, created_at, expires_at, last_used_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [row.id, row.name, row.role, row.secret_hash, row.created_at, row.expires_at, row.last_used_at, row.revoked]);
}

/** The token with this secret hash, read by one statement on its own. */
export async function apiTokenBySecretHash(engine: Pick<SqlEngine, 'query'>, secretHash: string): Promise<ApiTokenRow | undefined> {
  const [row] = await engine.query<ApiTokenRow>('SELECT * FROM api_tokens WHERE secret_hash = ?', [secretHash]);
  return row;
}

/** Sets last_used_at to `at` unless it is already later than `staleBefore` (another request wrote it). */
export async function touchApiToken(sql: Sql, id: string, at: string, staleBefore: string): Promise<void> {
  await sql.run('UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)', [at, id, staleBefore]);
}

/** Oldest first. */
export async function apiTokenRows(sql: Sql): Promise<ApiTokenRow[]> {
  return sql.all<ApiTokenRow>('SELECT * FROM api_tokens ORDER BY created_at, id', []);
}

export async function apiTokenById(sql: Sql, id: string): Promise<ApiTokenRow | undefined> {
  return sql.get<ApiTokenRow>('SELECT * FROM api_tokens WHERE id = ?', [id]);
}

/** Revokes the token; false when it was revoked already (by this writer or another). */
export async function revokeApiToken(sql: Sql, id: string): Promise<boolean> {
  return (await sql.run('UPDATE api_tokens SET revoked = 1 WHERE id = ? AND revoked = 0', [id])).changes === 1;
}
