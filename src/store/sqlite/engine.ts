// The SQLite engine (better-sqlite3): the embedded default. better-sqlite3 is synchronous and
// one connection serves every request of the process, so units of work run one after another
// (an in-process queue): a request awaiting inside its transaction never lets another request
// see, or add to, its uncommitted writes. Write transactions start with BEGIN IMMEDIATE, taking
// the file's write lock up front, so two processes on one data dir never both read and then
// fail to upgrade to a write. SQLite's own busy wait would block the event loop, so the lock is
// waited for here, asynchronously, with backoff; past the deadline the request gets
// StoreUnavailableError (503 + Retry-After from the server).
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { BackendError } from '../../errors.js';
import { ownerMatches } from '../../model/filter.js';
import { globMatch } from '../../model/filter.js';
import { globMatches } from '../device-query.js';
import { StoreUnavailableError, type Dialect, type RunResult, type Sql, type SqlEngine, type TransactionOptions } from '../engine.js';
import { DB_FILE, missingStore, noStoreError, prepareStoreFiles, tightenJournals, type IfMissing } from './files.js';
import { MIGRATIONS } from './migrations.js';
import { AUTO_CHECKPOINT_PAGES, BackgroundCheckpointer } from './checkpointer.js';

/** How long a unit of work waits for another process's write lock before the store counts as unavailable. */
const BUSY_DEADLINE_MS = 5_000;
/** At most this many shareCommit units in one COMMIT. */
const MAX_SHARED = 64;

/** shareCommit units waiting for one COMMIT (see SqliteEngine.shared). */
interface SharedUnit {
  fn: (sql: Sql) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export const SQLITE_DIALECT: Dialect = {
  name: 'sqlite',
  skipLocked: '',
  overlaps: false,
  glob: (expr) => `emm_glob_cs(${expr}, ?)`,
  foldedGlob: (expr) => `emm_glob(${expr}, ?)`,
  ownerMatches: (expr) => `emm_owner_matches(${expr}, ?)`,
  // The key is checked to hold no '"' (device-query.ts), so it can be spliced into the path.
  jsonText: (expr) => `json_extract(${expr}, '$."' || ? || '"')`,
  jsonRows: (values) => `json_group_array(json_array(${values.join(', ')}))`,
};

export interface SqliteOpenOptions {
  ifMissing?: IfMissing;
  /** Overrides BUSY_DEADLINE_MS (tests of the unavailable path). */
  busyDeadlineMs?: number;
  /**
   * `background`: WAL checkpoints run on a worker thread instead of in the COMMIT that crosses
   * SQLite's mark (./checkpointer.ts). For a long-running server; a one-shot command keeps
   * SQLite's own, which costs nothing to start.
   */
  checkpoint?: 'background';
  /** Operational lines (the checkpoint thread lost); never hold data. */
  onLog?: (line: string) => void;
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** better-sqlite3 binds neither undefined nor booleans; the portable subset says null and 0/1. */
function bindable(params: readonly unknown[]): unknown[] {
  const out = params as unknown[];
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    if (v === undefined || typeof v === 'boolean') {
      const copy = out.slice();
      for (let j = i; j < copy.length; j++) {
        if (copy[j] === undefined) copy[j] = null;
        else if (typeof copy[j] === 'boolean') copy[j] = copy[j] ? 1 : 0;
      }
      return copy;
    }
  }
  return out;
}

export class SqliteEngine implements SqlEngine {
  readonly name = 'sqlite' as const;
  readonly dialect = SQLITE_DIALECT;
  readonly location: string;
  /** True when opened with ifMissing 'empty' and there was no store: an empty stand-in in memory, nothing on disk. */
  readonly missing: boolean;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly busyDeadlineMs: number;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly sql: Sql;
  // Prepared once: db.exec would parse the text again on every unit of work (two per request).
  private readonly control: Record<'begin' | 'beginImmediate' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Database.Statement>;
  /** The group of shareCommit units still taking members: queued, not yet started. */
  private openGroup: SharedUnit[] | undefined;
  /** COMMITs of write units, shared ones counted once; for tests and diagnostics. */
  commits = 0;
  /** Set with `checkpoint: 'background'`; exposed for tests and diagnostics. */
  readonly checkpointer: BackgroundCheckpointer | undefined;

  private constructor(db: Database.Database, location: string, missing: boolean, busyDeadlineMs: number, options: SqliteOpenOptions = {}) {
    this.db = db;
    this.location = location;
    this.missing = missing;
    this.busyDeadlineMs = busyDeadlineMs;
    if (options.checkpoint === 'background' && !missing) {
      db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new BackgroundCheckpointer(location, {
        onFailure: (reason) => {
          if (db.open) db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
          options.onLog?.(`store: ${reason}; checkpointing on the serving connection again`);
        },
      });
    }
    this.control = {
      begin: db.prepare('BEGIN'), beginImmediate: db.prepare('BEGIN IMMEDIATE'), commit: db.prepare('COMMIT'), rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT emm_unit'), release: db.prepare('RELEASE emm_unit'), rollbackTo: db.prepare('ROLLBACK TO emm_unit'),
    };
    const stmt = (text: string) => this.stmt(text);
    this.sql = {
      dialect: SQLITE_DIALECT,
      all: async <T>(text: string, params: readonly unknown[] = []) => stmt(text).all(...bindable(params)) as T[],
      get: async <T>(text: string, params: readonly unknown[] = []) => stmt(text).get(...bindable(params)) as T | undefined,
      run: async (text: string, params: readonly unknown[] = []): Promise<RunResult> => ({ changes: stmt(text).run(...bindable(params)).changes }),
    };
  }

  /**
   * Opens the store in dataDir: dir 0700, files 0600, schema migrated. A missing store is created,
   * refused ("no emmctl store at DIR") or stood in for by an empty one in memory, per ifMissing.
   */
  static open(dataDir: string, options: SqliteOpenOptions = {}): SqliteEngine {
    const path = join(dataDir, DB_FILE);
    const ifMissing = options.ifMissing ?? 'create';
    const deadline = options.busyDeadlineMs ?? BUSY_DEADLINE_MS;
    if (ifMissing !== 'create') {
      const why = missingStore(dataDir, path);
      if (why && ifMissing === 'fail') throw noStoreError(dataDir, why);
      if (why) return SqliteEngine.prepare(new Database(':memory:'), path, true, deadline, options);
    }
    let db: Database.Database;
    try {
      prepareStoreFiles(dataDir, path, ifMissing === 'create');
      // fileMustExist: a store removed between the check above and here is not silently re-created.
      db = new Database(path, { fileMustExist: ifMissing !== 'create' });
    } catch (error) {
      throw new BackendError('unavailable', `cannot open the store at ${path}: ${(error as Error).message}`, {
        hint: 'check that the data dir (--data-dir or EMMCTL_DATA_DIR) is writable by you',
        cause: error,
      });
    }
    return SqliteEngine.prepare(db, path, false, deadline, options);
  }

  private static prepare(db: Database.Database, path: string, inMemory: boolean, busyDeadlineMs: number, options: SqliteOpenOptions): SqliteEngine {
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // Opening and migrating wait in SQLite (nothing else runs yet); units of work wait asynchronously (see transaction).
      db.pragma(`busy_timeout = ${BUSY_DEADLINE_MS}`);
      db.function('emm_owner_matches', { deterministic: true }, (owner: unknown, pattern: unknown) =>
        ownerMatches(typeof owner === 'string' ? owner : undefined, String(pattern)) ? 1 : 0);
      db.function('emm_glob', { deterministic: true }, (value: unknown, pattern: unknown) =>
        globMatches(typeof value === 'string' ? value : null, String(pattern)) ? 1 : 0);
      db.function('emm_glob_cs', { deterministic: true }, (value: unknown, pattern: unknown) =>
        typeof value === 'string' && globMatch(value, String(pattern)) ? 1 : 0);
      migrate(db, path);
      if (!inMemory) tightenJournals(path);
      db.pragma('busy_timeout = 0');
    } catch (error) {
      db.close();
      if (error instanceof BackendError) throw error;
      throw new BackendError('unavailable', `cannot open the store at ${path}: ${(error as Error).message}`, { cause: error });
    }
    return new SqliteEngine(db, path, inMemory, busyDeadlineMs, options);
  }

  private stmt(text: string): Database.Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.db.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  transaction<T>(fn: (sql: Sql) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (options.shareCommit && !options.readOnly) return this.shared(fn);
    return this.enqueue(() => this.runUnit(fn, options.readOnly ? 'read' : 'write'));
  }

  /**
   * Group commit. A COMMIT writes every page the transaction dirtied to the WAL; check-ins that
   * commit one by one write the same index pages again and again (measured in-process on the
   * check-in's statements: 58 µs per check-in one by one, 32 µs eight to a COMMIT). A shareCommit
   * unit joins the group queued last if it has not started yet, else queues a new one; the group
   * waits one turn of the event loop (setImmediate) so the requests that arrived meanwhile can
   * join, then runs as one transaction, each member inside a savepoint of its own.
   */
  private shared<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const unit: SharedUnit = { fn, resolve: resolve as (v: unknown) => void, reject };
      if (this.openGroup && this.openGroup.length < MAX_SHARED) {
        this.openGroup.push(unit);
        return;
      }
      const group = [unit];
      this.openGroup = group;
      void this.enqueue(async () => {
        await new Promise((r) => setImmediate(r));
        if (this.openGroup === group) this.openGroup = undefined;
        await this.runGroup(group);
      });
    });
  }

  /**
   * Runs a group in one transaction. A member that throws is rolled back to its savepoint and
   * gets its error, the others go on. A busy lock rolls everything back and runs the group again
   * (as runUnit does one unit), up to the deadline. Should a statement end the whole transaction
   * (SQLite does on a few errors, a full disk among them), its member gets the error and the
   * others run again. Members settle only after the COMMIT: before it, nothing is written.
   */
  private async runGroup(group: SharedUnit[]): Promise<void> {
    const started = Date.now();
    let members = group;
    for (let attempt = 0; members.length > 0; attempt++) {
      if (!this.db.open) {
        for (const m of members) m.reject(new StoreUnavailableError('the store is not open (it was closed)'));
        return;
      }
      const done: Array<{ member: SharedUnit; value: unknown }> = [];
      const refused = new Set<SharedUnit>();
      let current: SharedUnit | undefined;
      try {
        this.control.beginImmediate.run();
        for (const member of members) {
          current = member;
          this.control.savepoint.run();
          try {
            done.push({ member, value: await member.fn(this.sql) });
            this.control.release.run();
          } catch (error) {
            if (!this.db.inTransaction || isBusy(error)) throw error;
            this.control.rollbackTo.run();
            this.control.release.run();
            refused.add(member);
            member.reject(error);
          }
        }
        current = undefined;
        this.control.commit.run();
      } catch (error) {
        const lost = current !== undefined && !isBusy(error) && this.db.open && !this.db.inTransaction;
        if (this.db.open && this.db.inTransaction) this.control.rollback.run();
        // Nothing of this attempt is written; who has not had an answer yet runs again or fails.
        const open = members.filter((m) => !refused.has(m));
        if (lost) {
          // The member whose statement ended the transaction gets the error; the others run again.
          current!.reject(error);
          members = open.filter((m) => m !== current);
          continue;
        }
        if (!isBusy(error)) {
          for (const m of open) m.reject(error);
          return;
        }
        try {
          await this.waitOutBusy(started, attempt, error);
        } catch (unavailable) {
          for (const m of open) m.reject(unavailable);
          return;
        }
        members = open;
        continue;
      }
      this.commits++;
      this.checkpointer?.wrote();
      for (const d of done) d.member.resolve(d.value);
      return;
    }
  }

  private enqueue<T>(unit: () => Promise<T>): Promise<T> {
    const run = this.queue.then(unit);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * One unit of work, alone on the connection. A busy file (another process holds the write lock,
   * or a reader met a WAL recovery) rolls back and retries fn from the start, which the contract
   * allows, until the deadline. `single`: fn runs one statement, in SQLite's own implicit
   * transaction (atomic by itself; no BEGIN and COMMIT to step through).
   */
  private async runUnit<T>(fn: (sql: Sql) => Promise<T>, mode: 'read' | 'write' | 'single'): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (!this.db.open) throw new StoreUnavailableError('the store is not open (it was closed)');
      try {
        if (mode === 'single') return await fn(this.sql);
        (mode === 'read' ? this.control.begin : this.control.beginImmediate).run();
        const result = await fn(this.sql);
        this.control.commit.run();
        if (mode === 'write') {
          this.commits++;
          this.checkpointer?.wrote();
        }
        return result;
      } catch (error) {
        if (this.db.open && this.db.inTransaction) this.control.rollback.run();
        if (!isBusy(error)) throw error;
        await this.waitOutBusy(started, attempt, error);
      }
    }
  }

  /**
   * After a busy attempt: past the deadline (counted from the first attempt) the caller gets
   * StoreUnavailableError, thrown here; otherwise a jittered back-off that grows with the attempt,
   * capped at 50 ms, so waiting writers do not retry in step.
   */
  private async waitOutBusy(started: number, attempt: number, error: unknown): Promise<void> {
    if (Date.now() - started >= this.busyDeadlineMs) {
      throw new StoreUnavailableError(`the store at ${this.location} is busy (another process holds its write lock); nothing was changed`, { cause: error });
    }
    await sleep(Math.min(50, 1 + attempt * 2) * (0.5 + Math.random()));
  }

  query<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    // In the queue, so it never runs inside another unit's open transaction (and sees only what is committed).
    return this.enqueue(() => this.runUnit((s) => s.all<T>(sql, params), 'single'));
  }

  execute<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.enqueue(async () => {
      const rows = await this.runUnit((s) => s.all<T>(sql, params), 'single');
      this.checkpointer?.wrote();
      return rows;
    });
  }

  async ping(): Promise<void> {
    await this.transaction(async (sql) => { await sql.get('SELECT 1 AS ok'); }, { readOnly: true });
  }

  async close(): Promise<void> {
    // Units already queued finish first: closing under one would fail it half-way.
    await this.queue;
    // The thread's connection first, so this one is the last and SQLite checkpoints and removes the WAL.
    await this.checkpointer?.close();
    if (this.db.open) this.db.close();
  }

  /** Synchronous close, for process exit paths; a unit in flight fails with StoreUnavailableError. */
  closeNow(): void {
    this.checkpointer?.closeNow();
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Database.Database, path: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const current = (db.prepare('SELECT coalesce(max(version), 0) AS v FROM migrations').get() as { v: number }).v;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  if (current > latest) {
    throw new BackendError('unavailable', `the store at ${path} has schema version ${current}, newer than this emmctl understands (${latest})`, {
      hint: 'upgrade emmctl, or point --data-dir at another directory',
    });
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    // IMMEDIATE, and the version insert is keyed: two processes opening an old store at once apply each migration once.
    db.transaction(() => {
      const done = db.prepare('SELECT 1 FROM migrations WHERE version = ?').get(m.version);
      if (done) return;
      if (m.sql) db.exec(m.sql);
      m.run?.(db);
      db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }).immediate();
  }
}

/** The schema version of the store (the last migration applied). */
export async function schemaVersion(sql: Sql): Promise<number> {
  return (await sql.get<{ v: number }>('SELECT max(version) AS v FROM migrations'))!.v;
}
