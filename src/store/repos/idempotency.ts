// Idempotency keys: a retried request with the same key gets the first one's result, never a
// second execution. The key is claimed by inserting it inside the request's own unit of work:
// a concurrent request with the same key waits on the unique key (PostgreSQL) or the write lock
// (SQLite) and then finds the first one's committed result; a claim whose result is still empty
// belongs to a request that has not finished.
import { BackendError } from '../../errors.js';
import type { Sql } from '../engine.js';

export type IdempotencyClaim<T> = { claimed: true } | { claimed: false; result: T };

/**
 * Claims `key` for a request whose fingerprint is `requestHash`, or returns the stored result of
 * the request that claimed it first. A key used for a different request, or one still in flight,
 * is a conflict (`what` names the request in the message).
 */
export async function claimIdempotencyKey<T>(sql: Sql, key: string, requestHash: string, at: string, what: string): Promise<IdempotencyClaim<T>> {
  const inserted = await sql.run("INSERT INTO idempotency (key, request_hash, result, created_at) VALUES (?, ?, '', ?) ON CONFLICT (key) DO NOTHING", [key, requestHash, at]);
  if (inserted.changes === 1) return { claimed: true };
  const seen = await sql.get<{ request_hash: string; result: string }>('SELECT request_hash, result FROM idempotency WHERE key = ?', [key]);
  if (!seen) throw new BackendError('conflict', `idempotency key "${key}" was released while this request read it`, { hint: 'retry the request with the same key' });
  if (seen.request_hash !== requestHash) {
    throw new BackendError('conflict', `idempotency key "${key}" was already used for a different ${what}`, { hint: 'use a new key for a new request' });
  }
  if (seen.result === '') {
    throw new BackendError('conflict', `a ${what} with idempotency key "${key}" is still in progress`, { hint: 'retry with the same key shortly: it then gets that request\'s result' });
  }
  return { claimed: false, result: JSON.parse(seen.result) as T };
}

/** Records the result of the request that claimed `key` (same unit of work as the claim). */
export async function finishIdempotencyKey(sql: Sql, key: string, result: unknown): Promise<void> {
  await sql.run('UPDATE idempotency SET result = ? WHERE key = ?', [JSON.stringify(result), key]);
}

/** Forgets keys claimed before `before` (ISO instant). */
export async function forgetIdempotencyKeys(sql: Sql, before: string): Promise<number> {
  return (await sql.run('DELETE FROM idempotency WHERE created_at < ?', [before])).changes;
}
