// The store's own facts (the meta table and the migrations record): its random id, the key plan
// seals are made with, and the schema version. Written once by the first migration; only read here.
import type { Sql } from '../engine.js';

async function metaValue(sql: Sql, key: string): Promise<string> {
  const row = await sql.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', [key]);
  // Every migrated store has these rows; a missing one is a damaged store, not an empty answer.
  if (!row) throw new Error(`the store has no meta row "${key}"`);
  return row.value;
}

/** The random id the store was created with. */
export function storeId(sql: Sql): Promise<string> {
  return metaValue(sql, 'store_id');
}

/** The hex key of the plan seals (HMAC); it never leaves the store. */
export function planKey(sql: Sql): Promise<string> {
  return metaValue(sql, 'plan_key');
}

/** The last migration applied. */
export async function schemaVersion(sql: Sql): Promise<number> {
  return Number((await sql.get<{ v: number }>('SELECT max(version) AS v FROM migrations'))!.v);
}
