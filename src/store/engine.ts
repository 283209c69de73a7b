// The one seam between the fleet's repositories (src/store/repos/) and a database engine
// (src/store/sqlite/, src/store/postgres/). Everything above this file is engine-neutral and
// async; the SQL that repositories write is the portable subset both engines accept:
//   - `?` placeholders (the PostgreSQL engine numbers them $1, $2, … before preparing);
//   - INSERT … ON CONFLICT (…) DO NOTHING / DO UPDATE, … RETURNING;
//   - TEXT for ids, ISO-8601 UTC timestamps (they sort as strings) and JSON; INTEGER 0/1 for
//     flags; BIGINT sequences read back as JS numbers;
//   - no engine-only functions: where one engine needs its own expression (glob filters, row
//     locking) a repository asks the Dialect for it.
// A rule that must hold with several server replicas on one database is written as a unique key
// or a conditional UPDATE (`… WHERE uses < max_uses`, `… WHERE version = ?`), never as a read
// followed by a write: the engines give READ COMMITTED-or-better transactions, not a global lock.

export type EngineName = 'sqlite' | 'postgres';

export interface RunResult {
  /** Rows inserted, updated or deleted by the statement. */
  changes: number;
}

/** One connection's view, inside a unit of work. Statements are prepared once per connection and reused. */
export interface Sql {
  readonly dialect: Dialect;
  /**
   * True when this database has been seen to take LISTEN (PostgreSQL; not CockroachDB, nor
   * YugabyteDB unless enabled there), so a wake-up may be sent (src/store/repos/wake.ts).
   */
  readonly notifies?: boolean;
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  run(sql: string, params?: readonly unknown[]): Promise<RunResult>;
}

/**
 * Begins a statement whose best plan depends on its parameter values (a listing page: its filters
 * and its LIMIT). PostgreSQL then plans it for the values each time instead of preparing it under
 * a name, where after five runs it may keep a generic plan: for `state IS DISTINCT FROM ?` over a
 * fleet of enrolled devices that plan expects one row and sorts a scan of the whole table for
 * every page. A comment, so SQLite and the text stay the same otherwise.
 */
export const PLAN_PER_RUN = '/* planned per run */ ';

/** The few places the two engines spell differently. */
export interface Dialect {
  readonly name: EngineName;
  /**
   * Appended to a SELECT that claims rows for work several replicas share (reconcile paging):
   * PostgreSQL ` FOR UPDATE SKIP LOCKED`; SQLite '' (one writer at a time already).
   */
  readonly skipLocked: string;
  /**
   * Statements run in another process while the caller goes on (PostgreSQL): a long read split
   * into batches, each asked for before the one before it is worked on, then costs about the
   * larger of the two sides instead of their sum. SQLite runs a statement inside the call.
   */
  readonly overlaps: boolean;
  /** A case-sensitive glob test (`*` any run, `?` one character) of `expr` against the next `?` parameter. */
  glob(expr: string): string;
  /** The device filters' case-insensitive glob (model/filter.ts via device-query.ts globMatches) of `expr` against the next `?`; false for NULL. */
  foldedGlob(expr: string): string;
  /** model/filter.ts ownerMatches of `expr` against the next `?` (a bare domain, an address or a glob); false for NULL. */
  ownerMatches(expr: string): string;
  /** The string at a key (the next `?` parameter) of the JSON object text in `expr`, or NULL. */
  jsonText(expr: string): string;
  /** An aggregate: the JSON text of an array holding, per row, the array of `values`; NULL for no rows. */
  jsonRows(values: readonly string[]): string;
}

export interface TransactionOptions {
  /**
   * Read-only work: SQLite may serve it without the write lock; PostgreSQL runs it
   * READ ONLY. Either way it sees one consistent snapshot.
   */
  readOnly?: boolean;
  /**
   * A short write that may share its COMMIT with other such units queued at the same moment (the
   * agent check-in's write): each still runs alone and all-or-nothing (a savepoint of its own),
   * and its promise settles only once the shared COMMIT is done, so no caller hears "written" of
   * something that was not. SQLite only (one connection, where a COMMIT's WAL write is the cost);
   * PostgreSQL ignores it. fn must not wait on anything but its own statements.
   */
  shareCommit?: boolean;
}

export interface SqlEngine {
  readonly name: EngineName;
  readonly dialect: Dialect;
  /** Where the data lives, for messages (a file path, or a URL with the password removed). */
  readonly location: string;
  /**
   * Runs fn as one transaction and commits it, or rolls back on a throw. On a serialization
   * failure (40001) or a deadlock (40P01) the engine rolls back and runs fn again from the start
   * (bounded, with jittered backoff), so fn must have no effect outside the database (no
   * notifications, no network) and must not keep state from a previous attempt.
   * When the database cannot be reached, rejects with StoreUnavailableError.
   */
  transaction<T>(fn: (sql: Sql) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * One read-only statement on its own, outside any unit of work: a single statement is atomic
   * and sees one snapshot by itself, so PostgreSQL needs one round trip instead of three (BEGIN,
   * the statement, COMMIT). For the credential checks in front of every request.
   */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * One statement that writes (an UPDATE … RETURNING, or PostgreSQL's data-modifying WITH), on its
   * own, outside any unit of work: a single statement is atomic, so PostgreSQL needs one round
   * trip for it. Retried from the start on a serialization failure or a deadlock. A connection
   * lost while it ran rejects with StoreUnavailableError of outcome 'unknown' (it may have committed).
   */
  execute<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Resolves when the database answers a trivial query (for /readyz); rejects with StoreUnavailableError. */
  ping(): Promise<void>;
  /**
   * PostgreSQL only: wake-ups sent by other replicas' transactions (src/store/repos/wake.ts),
   * a shortcut next to polling, never instead of it. Absent on engines without LISTEN.
   */
  listen?(channels: readonly string[], onWake: (channel: string) => void): Promise<{ close(): Promise<void> }>;
  close(): Promise<void>;
}

/**
 * The database could not be reached or went away mid-request (connection refused, reset, PostgreSQL
 * shutting down, SQLite busy past its timeout). The request had no effect (its transaction did not
 * commit, or the engine cannot know it did and says so in the message): the server answers 503 with
 * Retry-After, and the CLI retries.
 */
export class StoreUnavailableError extends Error {
  readonly retryAfterSeconds: number;
  /**
   * 'unchanged': the transaction certainly did not commit. 'unknown': the connection went away
   * during COMMIT, so the change may have been saved (a retry is safe only with an idempotency key).
   */
  readonly outcome: 'unchanged' | 'unknown';
  constructor(message: string, opts: { cause?: unknown; retryAfterSeconds?: number; outcome?: 'unchanged' | 'unknown' } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'StoreUnavailableError';
    this.retryAfterSeconds = opts.retryAfterSeconds ?? 1;
    this.outcome = opts.outcome ?? 'unchanged';
  }
}
