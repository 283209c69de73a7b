// `emmctl server migrate --from DATA_DIR --to URL`: copies an embedded (SQLite) store into an empty
// PostgreSQL database, for a fleet that outgrew one machine, and proves the copy complete.
//
// - One transaction on the target holds everything: the schema (when the database has none yet),
//   every row, and the check of what was written. A copy that fails at any point rolls back and
//   leaves the database as it was; nothing is ever half-copied, so there is nothing to resume.
//   The transaction is SERIALIZABLE, so a server writing to the target at the same moment makes one
//   side fail (the engine then runs the copy again, which now finds the target not empty).
// - The source is opened read-only and read inside one read transaction: a consistent snapshot,
//   whatever else has the file open. Writes another process commits meanwhile would not be in it,
//   so a source that changed while it was read (PRAGMA data_version) is refused and the copy rolled
//   back: the server on it must be stopped first. Writes made after the copy are not in PostgreSQL
//   either, which is why --help and the README say to stop it before, not during.
// - Rows keep their keys and sequence numbers (commands, audit, outbox), meta keeps the store id and
//   the plan-sealing key (saved plans stay valid), and each sequence continues after the highest
//   number the source ever issued.
// - Verified before commit: per table, the row count, a SHA-256 of the keys in key order (printed)
//   and of every column of every row (compared, never printed: rows hold credential hashes).
// - Every table of the schema is either copied or named in NOT_COPIED; a table that is neither
//   refuses the copy, so a later migration cannot silently leave data behind.
import Database from 'better-sqlite3';
import { createHash, type Hash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { EmmctlError, OutcomeUnknownError, UsageError } from '../errors.js';
import { StoreUnavailableError } from './engine.js';
import type { PgSql, PostgresEngine } from './postgres/engine.js';
import { migrateInTransaction, PG_LATEST_VERSION } from './postgres/migrations.js';
import { DB_FILE, missingStore, noStoreError } from './sqlite/files.js';
import { MIGRATIONS } from './sqlite/migrations.js';

interface CopiedTable {
  name: string;
  /** The primary key: the order rows are read in on both sides, and what the printed checksum covers. */
  key: readonly string[];
  /** An identity column whose sequence must continue after the copied rows. */
  sequence?: string;
}

/** In the order foreign keys need (devices before the rows that point at them). */
export const COPIED_TABLES: readonly CopiedTable[] = [
  { name: 'meta', key: ['key'] },
  { name: 'resources', key: ['kind', 'name'] },
  { name: 'devices', key: ['id'] },
  { name: 'escalations', key: ['device_id', 'episode_start', 'policy', 'after_seconds', 'action'] },
  { name: 'commands', key: ['seq'], sequence: 'seq' },
  { name: 'idempotency', key: ['key'] },
  { name: 'enrollment_tokens', key: ['id'] },
  { name: 'api_tokens', key: ['id'] },
  { name: 'audit', key: ['seq'], sequence: 'seq' },
  { name: 'notify_outbox', key: ['seq'], sequence: 'seq' },
  { name: 'channel_devices', key: ['device_id'] },
  { name: 'channel_tokens', key: ['token_id'] },
  { name: 'channel_policies', key: ['channel', 'name'] },
  { name: 'channel_operations', key: ['command_id'] },
];

/**
 * Left out on purpose: each engine's own bookkeeping (migrations, SQLite's AUTOINCREMENT counters,
 * which become the sequences' next values), and leases and reconcile pages, which name processes
 * of the old server that no longer run (a copied lease would only hold its job back until it
 * expired; the first replica starts a new reconcile pass).
 */
export const NOT_COPIED: Readonly<Record<'sqlite' | 'postgres', readonly string[]>> = {
  sqlite: ['migrations', 'sqlite_sequence', 'leases', 'reconcile_passes', 'reconcile_pages'],
  postgres: ['migrations', 'migration_lock', 'leases', 'reconcile_passes', 'reconcile_pages'],
};

export interface TableCount {
  table: string;
  source: number;
  target: number;
  /** SHA-256 (hex) of the table's keys in key order: the same on both sides when the copy is whole. */
  checksum: string;
  /** Counts, key checksums and the checksum of every column are equal. */
  equal: boolean;
}

export interface CopyReport {
  /** The source database file. */
  source: string;
  /** The database URL without its password. */
  target: string;
  storeId: string;
  schemaVersion: number;
  /** --dry-run: copied and checked, then rolled back. */
  dryRun: boolean;
  /** The target held this very store already (a re-run after a lost answer): checked, not copied again. */
  alreadyCopied: boolean;
  tables: TableCount[];
  /** The next number each sequence gives on the target. */
  sequences: Array<{ table: string; next: number }>;
}

export interface CopyOptions {
  dataDir: string;
  target: PostgresEngine;
  /** Copy and check inside the transaction, then roll it back. */
  dryRun?: boolean;
  /** What the copy is doing now, for a progress line: "copying devices", "checking the copy". */
  onProgress?: (what: string) => void;
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const PAGE = 1000;

interface Digest {
  rows: number;
  keys: Hash;
  content: Hash;
}

const newDigest = (): Digest => ({ rows: 0, keys: createHash('sha256'), content: createHash('sha256') });

function addRow(d: Digest, row: readonly unknown[], keyIndexes: readonly number[]): void {
  d.rows++;
  d.keys.update(`${JSON.stringify(keyIndexes.map((i) => row[i]))}\n`);
  d.content.update(`${JSON.stringify(row)}\n`);
}

class DryRun extends Error {
  constructor(readonly report: CopyReport) {
    super('dry run');
  }
}

export async function copyStoreToPostgres(options: CopyOptions): Promise<CopyReport> {
  const { target } = options;
  const source = openSource(options.dataDir);
  const path = resolve(join(options.dataDir, DB_FILE));
  // Set once the work inside the transaction is done: a connection lost after it was lost at
  // COMMIT, and the copy may or may not have been saved.
  let committing = false;
  try {
    const schemaVersion = sourceVersion(source, path);
    const columns = sourceColumns(source, path);
    return await target.transaction(async (s) => {
      committing = false;
      const sql = s as PgSql;
      // Must come first: PostgreSQL fixes the isolation level at the transaction's first statement.
      await sql.exec('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE');
      const migrated = await migrateInTransaction(sql, target.location);
      if (migrated.to !== schemaVersion) {
        throw new EmmctlError(`the store at ${path} has schema version ${schemaVersion} and database ${target.location} version ${migrated.to}; a copy needs one version on both`, {
          hint: 'run the copy with the emmctl that last served the store, after `emmctl server migrate --data-dir DIR`',
        });
      }
      await checkTargetColumns(sql, columns, target.location);
      const snapshot = beginSnapshot(source);
      try {
        const storeId = (source.prepare("SELECT value FROM meta WHERE key = 'store_id'").get() as { value: string } | undefined)?.value;
        if (!storeId) throw new EmmctlError(`the store at ${path} has no store id; it was not made by emmctl`);
        const held = await targetRows(sql);
        if (held.total > 0) {
          const targetId = (await sql.get<{ value: string }>("SELECT value FROM meta WHERE key = 'store_id'"))?.value;
          if (targetId !== storeId) {
            throw new UsageError(
              `database ${target.location} already holds an emmctl store (${describeRows(held.counts)}); the copy goes only into an empty database`,
              'create an empty database for it (CREATE DATABASE ...) and give its URL to --to; nothing was changed',
            );
          }
          const tables = await verify(sql, source, columns);
          const differ = tables.filter((t) => !t.equal);
          if (differ.length > 0) {
            throw new EmmctlError(`database ${target.location} holds a copy of store ${storeId} that differs from the store now (${differ.map((t) => `${t.table}: ${t.source} here, ${t.target} there`).join('; ')})`, {
              hint: 'a server may have run on either since the copy; nothing was changed',
            });
          }
          return { source: path, target: target.location, storeId, schemaVersion, dryRun: Boolean(options.dryRun), alreadyCopied: true, tables, sequences: [] };
        }
        const live = await sql.all<{ name: string; holder: string }>('SELECT name, holder FROM leases WHERE expires_at > ?', [new Date().toISOString()]);
        if (live.length > 0) {
          throw new UsageError(`database ${target.location} is being served: ${live.map((l) => `lease ${l.name} is held by ${l.holder}`).join(', ')}`, 'stop the servers on it first; nothing was changed');
        }
        // The migration just filled meta with a store id and keys of its own; the store's replace them.
        await sql.run('DELETE FROM meta');
        for (const table of COPIED_TABLES) {
          options.onProgress?.(`copying ${table.name}`);
          await copyTable(sql, source, table, columns.get(table.name)!);
        }
        options.onProgress?.('checking the copy');
        const tables = await verify(sql, source, columns);
        const differ = tables.filter((t) => !t.equal);
        if (differ.length > 0) {
          throw new EmmctlError(`the copy into database ${target.location} does not match the store (${differ.map((t) => t.table).join(', ')}); it was rolled back, nothing was changed`);
        }
        const sequences = nextSequenceValues(source);
        snapshot.end();
        if (snapshot.changed()) {
          throw new EmmctlError(`the store at ${path} changed while it was being copied: a server or another emmctl is writing to it; the copy was rolled back, nothing was changed`, {
            hint: 'stop `emmctl server` (and anything else using the data dir), then run the copy again',
          });
        }
        const report: CopyReport = { source: path, target: target.location, storeId, schemaVersion, dryRun: Boolean(options.dryRun), alreadyCopied: false, tables, sequences };
        if (options.dryRun) throw new DryRun(report);
        // Sequences are not transactional: set last, once nothing but COMMIT can fail.
        for (const { table, next } of sequences) {
          const spec = COPIED_TABLES.find((t) => t.name === table)!;
          await sql.get('SELECT setval(pg_get_serial_sequence(?, ?), ?, false)', [table, spec.sequence!, next]);
        }
        committing = true;
        return report;
      } finally {
        snapshot.end();
      }
    });
  } catch (e) {
    if (e instanceof DryRun) return e.report;
    if (e instanceof StoreUnavailableError) {
      if (committing) {
        throw new OutcomeUnknownError(`database ${target.location} went away while the copy was being committed: it may or may not have been saved`, {
          hint: 'run the same command again: it checks a saved copy against the store (exit 0), or copies into the still-empty database',
          cause: e,
        });
      }
      throw new EmmctlError(`${e.message.replace(/; nothing was changed$/, '')}; nothing was copied`, {
        hint: 'check that the database server is up and reachable from here, and the URL, user and password',
        cause: e,
      });
    }
    if (e instanceof EmmctlError) throw e;
    throw new EmmctlError(`copying the store at ${path} into database ${target.location} failed: ${target.scrub((e as Error).message ?? String(e))}; the copy was rolled back, nothing was changed`, { cause: e });
  } finally {
    source.close();
  }
}

function openSource(dataDir: string): Database.Database {
  const path = join(dataDir, DB_FILE);
  const why = missingStore(dataDir, path);
  if (why) throw new UsageError(noStoreError(dataDir, why).message, 'check --from: the data dir of the embedded store (as given to `emmctl server --data-dir`)');
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    // A reader waits only for a WAL recovery by another process, briefly; inside SQLite is fine here.
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (e) {
    throw new EmmctlError(`cannot open the store at ${resolve(path)} to read it: ${(e as Error).message}`, {
      hint: 'a store whose server was killed may need its journal recovered: run `emmctl server migrate --data-dir DIR` once, then the copy again',
      cause: e,
    });
  }
}

function sourceVersion(db: Database.Database, path: string): number {
  let version: number | null;
  try {
    version = (db.prepare('SELECT max(version) AS v FROM migrations').get() as { v: number | null }).v;
  } catch {
    version = null;
  }
  if (version === null) throw new EmmctlError(`${path} is not an emmctl store (it has no schema version)`);
  const sqliteLatest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  if (version > sqliteLatest) {
    throw new EmmctlError(`the store at ${path} has schema version ${version}, newer than this emmctl understands (${sqliteLatest})`, { hint: 'run the copy with the emmctl that last served the store' });
  }
  if (version < sqliteLatest) {
    // Opened read-only, the store is never migrated here.
    throw new EmmctlError(`the store at ${path} has schema version ${version}; this emmctl copies version ${sqliteLatest}`, { hint: 'bring it up to date first: emmctl server migrate --data-dir DIR' });
  }
  if (version !== PG_LATEST_VERSION) {
    throw new EmmctlError(`this emmctl's embedded store is at schema version ${version} and its PostgreSQL schema at ${PG_LATEST_VERSION}; it cannot copy between them`, { hint: 'use an emmctl release whose two schemas agree' });
  }
  return version;
}

/** Each copied table's columns in the store, after checking every table is accounted for. */
function sourceColumns(db: Database.Database, path: string): Map<string, string[]> {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
  const unknown = tables.filter((t) => !COPIED_TABLES.some((c) => c.name === t) && !NOT_COPIED.sqlite.includes(t));
  if (unknown.length > 0) throw new EmmctlError(`the store at ${path} has tables this emmctl does not know how to copy: ${unknown.join(', ')}`);
  const out = new Map<string, string[]>();
  for (const t of COPIED_TABLES) {
    const cols = (db.prepare(`PRAGMA table_info(${ident(t.name)})`).all() as Array<{ name: string }>).map((c) => c.name);
    if (cols.length === 0) throw new EmmctlError(`the store at ${path} has no table ${t.name}`);
    out.set(t.name, cols);
  }
  return out;
}

async function checkTargetColumns(sql: PgSql, columns: Map<string, string[]>, location: string): Promise<void> {
  for (const [table, cols] of columns) {
    const found = (await sql.all<{ c: string }>('SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?', [table])).map((r) => r.c);
    const missing = cols.filter((c) => !found.includes(c));
    const extra = found.filter((c) => !cols.includes(c));
    if (missing.length > 0 || extra.length > 0) {
      throw new EmmctlError(`table ${table} differs between the store and database ${location} (${[...missing.map((c) => `${c} only in the store`), ...extra.map((c) => `${c} only in the database`)].join(', ')})`);
    }
  }
}

/** One read transaction on the source, and whether anyone committed to it since it began. */
function beginSnapshot(db: Database.Database): { end(): void; changed(): boolean } {
  const version = () => db.pragma('data_version', { simple: true }) as number;
  const before = version();
  db.exec('BEGIN');
  return {
    end() {
      if (db.inTransaction) db.exec('COMMIT');
    },
    changed() {
      return version() !== before;
    },
  };
}

async function targetRows(sql: PgSql): Promise<{ total: number; counts: Array<[string, number]> }> {
  const counts: Array<[string, number]> = [];
  for (const t of COPIED_TABLES) {
    // meta always has the rows the migration writes; a store is told by its data.
    if (t.name === 'meta') continue;
    const n = (await sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${ident(t.name)}`))!.n;
    if (n > 0) counts.push([t.name, n]);
  }
  return { total: counts.reduce((a, [, n]) => a + n, 0), counts };
}

function describeRows(counts: Array<[string, number]>): string {
  return counts.map(([t, n]) => `${t}: ${n} row${n === 1 ? '' : 's'}`).join(', ');
}

async function copyTable(sql: PgSql, db: Database.Database, table: CopiedTable, cols: readonly string[]): Promise<void> {
  // Well under PostgreSQL's 65,535 parameters a statement; two statement texts per table at most.
  const batch = Math.max(1, Math.min(500, Math.floor(30_000 / cols.length)));
  const head = `INSERT INTO ${ident(table.name)} (${cols.map(ident).join(', ')}) VALUES `;
  const tuple = `(${cols.map(() => '?').join(', ')})`;
  const rows = db.prepare(`SELECT ${cols.map(ident).join(', ')} FROM ${ident(table.name)} ORDER BY ${table.key.map(ident).join(', ')}`).raw(true);
  let pending: unknown[][] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    await sql.run(head + Array.from({ length: pending.length }, () => tuple).join(', '), pending.flat());
    pending = [];
  };
  for (const row of rows.iterate() as IterableIterator<unknown[]>) {
    pending.push(row);
    if (pending.length === batch) await flush();
  }
  await flush();
}

/** Reads both sides in key order and compares counts, key checksums and content checksums. */
async function verify(sql: PgSql, db: Database.Database, columns: Map<string, string[]>): Promise<TableCount[]> {
  const out: TableCount[] = [];
  for (const table of COPIED_TABLES) {
    const cols = columns.get(table.name)!;
    const keyIndexes = table.key.map((k) => cols.indexOf(k));
    const list = cols.map(ident).join(', ');
    const order = table.key.map(ident).join(', ');
    const mine = newDigest();
    for (const row of db.prepare(`SELECT ${list} FROM ${ident(table.name)} ORDER BY ${order}`).raw(true).iterate() as IterableIterator<unknown[]>) addRow(mine, row, keyIndexes);
    const theirs = newDigest();
    // Keyset pages: a large table never sits in memory whole.
    const after = `(${table.key.map(ident).join(', ')}) > (${table.key.map(() => '?').join(', ')})`;
    let last: unknown[] | undefined;
    for (;;) {
      const page = await sql.all<Record<string, unknown>>(`SELECT ${list} FROM ${ident(table.name)}${last ? ` WHERE ${after}` : ''} ORDER BY ${order} LIMIT ${PAGE}`, last ?? []);
      for (const r of page) addRow(theirs, cols.map((c) => r[c] ?? null), keyIndexes);
      if (page.length < PAGE) break;
      const end = page[page.length - 1]!;
      last = table.key.map((k) => end[k]);
    }
    const checksum = mine.keys.digest('hex');
    const targetKeys = theirs.keys.digest('hex');
    out.push({
      table: table.name,
      source: mine.rows,
      target: theirs.rows,
      checksum,
      equal: mine.rows === theirs.rows && checksum === targetKeys && mine.content.digest('hex') === theirs.content.digest('hex'),
    });
  }
  return out;
}

/**
 * After the highest number ever issued, not only the highest still present: delivered outbox rows
 * are deleted, and a number must never be given twice (a reader's cursor may have passed it).
 */
function nextSequenceValues(db: Database.Database): Array<{ table: string; next: number }> {
  const issued = new Map((db.prepare('SELECT name, seq FROM sqlite_sequence').all() as Array<{ name: string; seq: number }>).map((r) => [r.name, r.seq]));
  return COPIED_TABLES.filter((t) => t.sequence).map((t) => {
    const max = (db.prepare(`SELECT coalesce(max(${ident(t.sequence!)}), 0) AS m FROM ${ident(t.name)}`).get() as { m: number }).m;
    return { table: t.name, next: Math.max(max, issued.get(t.name) ?? 0) + 1 };
  });
}
