// Enrollment tokens. The secret is stored as its hash only. maxUses holds with any number of
// concurrent enrollments because a use is taken by one conditional UPDATE (`uses < max_uses`),
// never by reading the count and writing it back; a revocation is conditional too, so it is
// recorded (and audited by the caller) once.
import type { Sql } from '../engine.js';
import type { TokenRow } from './rows.js';

export async function insertEnrollmentToken(sql: Sql, row: TokenRow): Promise<void> {
  await sql.run('INSERT INTO enrollment_tokens (id, profile, secret_hash, created_at, expires_at, max_uses, uses, revoked, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [row.id, row.profile, row.secret_hash, row.created_at, row.expires_at, row.max_uses, row.uses, row.revoked, row.created_by]);
}

/** Oldest first. */
export async function enrollmentTokenRows(sql: Sql): Promise<TokenRow[]> {
  return sql.all<TokenRow>('SELECT * FROM enrollment_tokens ORDER BY created_at, id', []);
}

export async function enrollmentTokenById(sql: Sql, id: string): Promise<TokenRow | undefined> {
  return sql.get<TokenRow>('SELECT * FROM enrollment_tokens WHERE id = ?', [id]);
}

export async function enrollmentTokenBySecretHash(sql: Sql, secretHash: string): Promise<TokenRow | undefined> {
  return sql.get<TokenRow>('SELECT * FROM enrollment_tokens WHERE secret_hash = ?', [secretHash]);
}

/** Revokes the token; false when it was revoked already (by this writer or another). */
export async function revokeEnrollmentToken(sql: Sql, id: string): Promise<boolean> {
  return (await sql.run('UPDATE enrollment_tokens SET revoked = 1 WHERE id = ? AND revoked = 0', [id])).changes === 1;
}

/** Takes one use of the token; false when its last use is gone (whoever took it). */
export async function takeEnrollmentTokenUse(sql: Sql, id: string): Promise<boolean> {
  return (await sql.run('UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ? AND (max_uses IS NULL OR uses < max_uses)', [id])).changes === 1;
}
