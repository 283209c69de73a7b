// The PostgreSQL engine: the SqlEngine contract (../engine.ts) over a node-postgres Pool.
// `pg` is imported when an engine is opened, never when this module loads, so nothing that only
// mentions the engine (the CLI's option parsing, `emmctl --help`) pays for it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, ClientBase, Pool, PoolClient } from 'pg';
import { PLAN_PER_RUN, StoreUnavailableError, type Dialect, type RunResult, type Sql, type SqlEngine, type TransactionOptions } from '../engine.js';
import { parseDatabaseUrl, type PostgresSettings } from './config.js';
import { postgresDialect } from './dialect.js';
import { isRetryable, isUnavailable, sqlState } from './errors.js';
import { numberPlaceholders } from './placeholders.js';
import { plainParams, runPrepared } from './prepared.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Backoff before attempt n+1 is a random time in [0, min(maxMs, baseMs·2ⁿ)] ("full jitter"). */
  baseMs: number;
  maxMs: number;
}

/**
 * After a failed connection, nobody tries again until a random time in [d/2, d] has passed,
 * d = min(maxMs, baseMs·2^(failures−1)); meanwhile requests fail at once with
 * StoreUnavailableError. Then one request tries (the others still fail fast) and either brings
 * the engine back or doubles d.
 */
export interface ReconnectPolicy {
  baseMs: number;
  maxMs: number;
}

export interface PostgresEngineOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
  retry?: Partial<RetryPolicy>;
  reconnect?: Partial<ReconnectPolicy>;
  /** Receives operational lines (an idle connection dropped); they never hold the password. */
  onLog?: (line: string) => void;
  /** Environment the password is looked up in (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_POOL_SIZE = 10;
const DEFAULT_RETRY: RetryPolicy = { attempts: 10, baseMs: 4, maxMs: 250 };
const DEFAULT_RECONNECT: ReconnectPolicy = { baseMs: 250, maxMs: 10_000 };
// Prepared statements live per connection; past this many distinct texts (filter combinations
// are open-ended) statements run unnamed instead of growing every connection's cache forever.
const MAX_NAMED_STATEMENTS = 1000;
/** How long a connection stays parked unused before it goes back to pg-pool (see release()). */
const PARKED_IDLE_MS = 10_000;
const INT8_OID = 20;
const NUMERIC_OID = 1700;

interface Statement {
  text: string;
  count: number;
  name?: string;
}

export class PostgresEngine implements SqlEngine {
  readonly name = 'postgres' as const;
  readonly dialect: Dialect = postgresDialect;
  readonly location: string;
  private readonly statements = new Map<string, Statement>();
  private readonly retry: RetryPolicy;
  private readonly reconnect: ReconnectPolicy;
  private readonly log: (line: string) => void;
  /** Set while the database cannot be reached: when the next connection may be tried, and whether one is being tried. */
  private down?: { failures: number; until: number; probing: boolean; error: StoreUnavailableError };
  /** Pool slots taken, and the requests waiting for one (see slot()). */
  private inUse = 0;
  private readonly waiting: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private closed = false;

  private constructor(
    private readonly pool: Pool,
    private readonly settings: PostgresSettings,
    options: PostgresEngineOptions,
  ) {
    this.location = settings.location;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.reconnect = { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.log = options.onLog ?? (() => {});
    this.poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  }

  private readonly poolSize: number;

  /** Opens a pool (no connection is made until the first query: call ping() to check). */
  static async open(target: string | PostgresSettings, options: PostgresEngineOptions = {}): Promise<PostgresEngine> {
    if (options.poolSize !== undefined && !(Number.isInteger(options.poolSize) && options.poolSize >= 1)) throw new RangeError(`a connection pool holds at least one connection, not ${options.poolSize}`);
    const settings = typeof target === 'string' ? parseDatabaseUrl(target, options.env) : target;
    const { default: pg } = await import('pg');
    const parseNumber = (oid: number) => (text: string): number => {
      const n = Number(text);
      // A count or a sequence value past 2^53 would be silently rounded as a JS number.
      if (oid === INT8_OID && !Number.isSafeInteger(n)) throw new RangeError(`integer ${text} from ${settings.location} is beyond JavaScript's safe range`);
      return n;
    };
    const int8 = parseNumber(INT8_OID);
    const numeric = parseNumber(NUMERIC_OID);
    const config = {
      host: settings.host,
      port: settings.port,
      user: settings.user,
      database: settings.database,
      // A function is asked only when the server wants a password, so a trust or certificate
      // login needs none, and a missing one is said plainly (pg would otherwise try ~/.pgpass
      // itself, with a deprecation warning, and then fail on a null password).
      password: settings.password ?? async function (this: { connection?: { stream?: { destroy(): void } } }) {
        // pg-pool leaves a client that failed to connect open: the server would hold the
        // half-authenticated session until its authentication_timeout. pg calls this as a method
        // of the client; close its socket once the error below has been delivered.
        const stream = this.connection?.stream;
        setImmediate(() => stream?.destroy());
        throw new NoPasswordError(`the server asks for a password and none was given for user "${settings.user}" (in the URL, EMMCTL_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass)`);
      },
      ssl: settings.ssl,
      application_name: settings.applicationName,
      connectionTimeoutMillis: settings.connectTimeoutSeconds * 1000,
      keepAlive: true,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? int8 : oid === NUMERIC_OID ? numeric : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    };
    const pool = new pg.Pool({ ...config, max: options.poolSize ?? DEFAULT_POOL_SIZE, idleTimeoutMillis: 30_000 });
    const engine = new PostgresEngine(pool, settings, options);
    engine.newClient = () => new pg.Client(config);
    const log = options.onLog ?? (() => {});
    // An idle connection that the server closes (restart, failover) emits 'error' on the pool;
    // unheard, that would end the process. The pool replaces it on the next checkout.
    pool.on('error', (e) => log(`database ${settings.location}: idle connection lost: ${engine.scrub(e.message)}`));
    // A checked-out connection can fail between two statements: the statement in flight (or the
    // next) rejects with it, so the event itself only needs a listener.
    pool.on('connect', (client) => client.on('error', () => {}));
    return engine;
  }

  async transaction<T>(fn: (sql: Sql) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      const sql = new PgSql(client, this);
      let phase: 'begin' | 'work' | 'commit' = 'begin';
      let destroy = false;
      try {
        // Read-only work sees one snapshot for all its statements (REPEATABLE READ never fails
        // to serialize a read-only transaction); writes run READ COMMITTED, their rules held by
        // unique keys and conditional updates.
        await client.query(options.readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
        phase = 'work';
        const value = await fn(sql);
        // A statement failed and fn went on: PostgreSQL has aborted the transaction, and COMMIT
        // would quietly roll it back.
        if (sql.failure !== undefined) throw sql.failure;
        phase = 'commit';
        const done = await client.query('COMMIT');
        if (done.command === 'ROLLBACK') throw new Error(`database ${this.location} rolled the transaction back at COMMIT`);
        return value;
      } catch (e) {
        const cause = sql.failure !== undefined && (isRetryable(sql.failure) || isUnavailable(sql.failure)) ? sql.failure : e;
        if (isUnavailable(cause)) {
          destroy = true;
          throw this.unavailable(cause, phase === 'commit' ? 'commit' : 'request');
        }
        if (phase !== 'begin') {
          try {
            await client.query('ROLLBACK');
          } catch {
            destroy = true;
          }
        }
        if (!isRetryable(cause)) throw e;
        if (attempt >= this.retry.attempts) {
          throw new StoreUnavailableError(`database ${this.location} is busy: the transaction still conflicted with others after ${attempt} attempts (${sqlState(cause) === '40P01' ? 'deadlock' : 'serialization failure'}); nothing was changed`, { cause });
        }
        await sleep(Math.random() * Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** attempt));
      } finally {
        sql.end();
        this.release(client, destroy);
      }
    }
  }

  async query<T = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.once<T>(text, params, 'request');
  }

  async execute<T = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(text, params, 'commit');
      } catch (e) {
        // An autocommitted statement that failed has rolled back by itself, all of it.
        if (!isRetryable(e)) throw e;
        if (attempt >= this.retry.attempts) {
          throw new StoreUnavailableError(`database ${this.location} is busy: the statement still conflicted with others after ${attempt} attempts (${sqlState(e) === '40P01' ? 'deadlock' : 'serialization failure'}); nothing was changed`, { cause: e });
        }
      }
      await sleep(Math.random() * Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** attempt));
    }
  }

  /**
   * One statement on a pooled connection outside any transaction. The slot always goes back (a
   * connection that failed is destroyed): query and execute share this so neither can leak one.
   */
  private async once<T>(text: string, params: readonly unknown[], lost: 'request' | 'commit'): Promise<T[]> {
    const client = await this.connect();
    let destroy = false;
    try {
      // One statement on a connection of its own: nothing to queue behind (PgSql's serial()).
      return (await this.run(client, text, params)).rows as T[];
    } catch (e) {
      if (!isUnavailable(e)) throw e;
      destroy = true;
      throw this.unavailable(e, lost);
    } finally {
      this.release(client, destroy);
    }
  }

  /** `sql` (with ? placeholders) on `client`, as a named prepared statement when it has a name. */
  run(client: ClientBase, sql: string, params: readonly unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }> {
    const stmt = this.statement(sql);
    if (params.length !== stmt.count) {
      return Promise.reject(new Error(`statement takes ${stmt.count} parameter${stmt.count === 1 ? '' : 's'}, ${params.length} given: ${sql.slice(0, 120)}`));
    }
    const values = bindable(params);
    const name = stmt.name;
    if (name && plainParams(values)) return runPrepared(client, name, stmt.text, values);
    return client.query(name ? { name, text: stmt.text, values } : { text: stmt.text, values });
  }

  async ping(): Promise<void> {
    const client = await this.connect();
    let destroy = false;
    try {
      await client.query('SELECT 1');
    } catch (e) {
      destroy = true;
      throw this.unavailable(e, 'request');
    } finally {
      this.release(client, destroy);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sweep(Infinity);
    await Promise.all([...this.listeners].map((l) => l.close()));
    await this.pool.end();
  }

  /** Makes a connection outside the pool, with the pool's settings (set by open()). */
  private newClient!: () => Client;
  private readonly listeners = new Set<{ close(): Promise<void> }>();
  /** LISTEN has worked on this database, so transactions may NOTIFY (see Sql.notifies). */
  notifies = false;

  /**
   * LISTEN on `channels` over a connection of its own (outside the pool: a pooled connection
   * goes back to others between statements), calling onWake(channel) for each notification.
   * The connection is made again when it is lost, backing off like the pool; after each
   * (re)connection onWake is called for every channel, since notifications sent while it was
   * away are lost. A wake-up is a hint: whoever is woken reads the database to see what changed.
   */
  async listen(channels: readonly string[], onWake: (channel: string) => void): Promise<{ close(): Promise<void> }> {
    if (this.closed) throw new StoreUnavailableError(`database ${this.location} is closed`);
    for (const c of channels) if (!/^[a-z_][a-z0-9_]*$/.test(c)) throw new Error(`not a channel name: ${c}`);
    let stopped = false;
    let current: Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    let failures = 0;
    const retry = () => {
      if (stopped) return;
      failures += 1;
      const ceiling = Math.min(this.reconnect.maxMs, this.reconnect.baseMs * 2 ** (failures - 1));
      timer = setTimeout(() => void open(), ceiling / 2 + Math.random() * (ceiling / 2));
      timer.unref();
    };
    const open = async () => {
      if (stopped) return;
      const client = this.newClient();
      let lost = false;
      const onLost = () => {
        if (lost) return;
        lost = true;
        if (current === client) current = undefined;
        client.end().catch(() => {});
        retry();
      };
      client.on('error', onLost);
      client.on('end', onLost);
      client.on('notification', (n) => {
        if (!stopped) onWake(n.channel);
      });
      try {
        await client.connect();
        for (const c of channels) await client.query(`LISTEN ${c}`);
      } catch (e) {
        if (failures === 0) this.log(`database ${this.location}: cannot listen for wake-ups (${this.scrub(e instanceof Error ? e.message : String(e))}); polling meanwhile, trying again`);
        onLost();
        return;
      }
      if (stopped || lost) {
        client.end().catch(() => {});
        return;
      }
      current = client;
      this.notifies = true;
      const missed = failures > 0;
      failures = 0;
      if (missed) {
        this.log(`database ${this.location}: listening for wake-ups again`);
        for (const c of channels) onWake(c);
      }
    };
    const handle = {
      close: async () => {
        stopped = true;
        clearTimeout(timer);
        this.listeners.delete(handle);
        const c = current;
        current = undefined;
        await c?.end().catch(() => {});
      },
    };
    this.listeners.add(handle);
    await open();
    return handle;
  }

  /** The converted text and prepared-statement name of a repository's SQL, computed once per text. */
  statement(sql: string): Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      const numbered = numberPlaceholders(sql);
      s = { text: numbered.text, count: numbered.count };
      if (this.statements.size < MAX_NAMED_STATEMENTS) {
        if (!sql.startsWith(PLAN_PER_RUN)) s.name = `emm_${this.statements.size + 1}`;
        this.statements.set(sql, s);
      }
    }
    return s;
  }

  /** Removes the password from text that might echo it (a driver message, a server notice). */
  scrub(text: string): string {
    const p = this.settings.password;
    return p && p.length > 0 ? text.split(p).join('(redacted)') : text;
  }

  /**
   * A slot of the pool, taken before a connection is asked of it and given back with it. Waiting
   * here rather than in pg-pool's own queue is what lets the waiters fail fast when the database
   * turns out to be down: a waiter in pg-pool's queue would try a connection of its own.
   */
  private async slot(): Promise<void> {
    if (this.inUse < this.poolSize) {
      this.inUse++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      // Every connection busy for the whole wait is load, not an unreachable server: say which.
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new StoreUnavailableError(`database ${this.location} is busy: no free connection within ${this.settings.connectTimeoutSeconds} s (all ${this.poolSize} in use); nothing was changed`));
      }, this.settings.connectTimeoutSeconds * 1000);
      const waiter = {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (e: unknown) => { clearTimeout(timer); reject(e); },
      };
      this.waiting.push(waiter);
    });
  }

  private freeSlot(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.inUse--;
  }

  /**
   * Connections given back are kept here, most recent last, and taken again before pg-pool is
   * asked: a check-in's two statements would otherwise each pay pg-pool's checkout and release
   * (its promise, its idle timer). One idle here longer than PARKED_IDLE_MS goes back to pg-pool,
   * whose idle timeout then closes it; one the server closes leaves at once (watch()).
   */
  private readonly parked: Array<{ client: PoolClient; at: number }> = [];
  private readonly watched = new WeakSet<PoolClient>();
  private sweeper?: NodeJS.Timeout;

  private release(client: PoolClient, destroy: boolean): void {
    if (destroy || this.closed || this.down) client.release(destroy);
    else {
      this.watch(client);
      this.parked.push({ client, at: Date.now() });
      this.sweeper ??= setInterval(() => this.sweep(Date.now() - PARKED_IDLE_MS), PARKED_IDLE_MS).unref();
    }
    this.freeSlot();
  }

  /** A parked connection that fails or ends is given back to pg-pool as broken, so it is never handed out. */
  private watch(client: PoolClient): void {
    if (this.watched.has(client)) return;
    this.watched.add(client);
    const lost = (error?: unknown) => {
      const i = this.parked.findIndex((p) => p.client === client);
      if (i < 0) return;
      this.parked.splice(i, 1);
      client.release(error instanceof Error ? error : new Error('connection ended'));
    };
    client.on('error', lost);
    client.on('end', () => lost());
  }

  /** Gives the connections parked since before `before` (all with -Infinity… Infinity) back to pg-pool. */
  private sweep(before: number, destroy = false): void {
    let n = 0;
    while (n < this.parked.length && this.parked[n]!.at < before) n++;
    for (const p of this.parked.splice(0, n)) p.client.release(destroy);
    if (this.parked.length === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private async connect(): Promise<PoolClient> {
    if (this.closed) throw new StoreUnavailableError(`database ${this.location} is closed`);
    if (this.down) this.failFast();
    await this.slot();
    try {
      return await this.connectInSlot();
    } catch (e) {
      this.freeSlot();
      throw e;
    }
  }

  private failFast(): void {
    const down = this.down!;
    const now = Date.now();
    if (down.probing || now < down.until) throw this.stillDown(down, now);
  }

  private async connectInSlot(): Promise<PoolClient> {
    // While the database is unreachable, requests do not each try a connection of their own
    // (every replica's every request would hammer a database that is restarting): they fail
    // at once, and one of them tries when the back-off has run out. Checked before the first
    // await, so of the requests arriving together exactly one is the probe.
    const down = this.down;
    if (down) {
      const now = Date.now();
      if (down.probing || now < down.until) throw this.stillDown(down, now);
      down.probing = true;
    }
    if (!down) {
      const p = this.parked.pop();
      if (p) return p.client;
    }
    try {
      const client = await this.pool.connect();
      if (this.down) {
        this.log(`database ${this.location}: reachable again after ${this.down.failures} failed connection attempt${this.down.failures === 1 ? '' : 's'}`);
        this.down = undefined;
      }
      return client;
    } catch (e) {
      // (pg-pool never queues here: slot() keeps the checkouts within its size, so a timeout is
      // a connection that could not be made in time, an unreachable server.)
      const error = this.unavailable(e, 'connect');
      this.markDown(error, down !== undefined);
      // Connections made before the database went away are not worth handing out after it.
      this.sweep(Infinity, true);
      // Those waiting for a slot would each try next: they are told now instead.
      for (const w of this.waiting.splice(0)) w.reject(this.stillDown(this.down!, Date.now()));
      throw error;
    }
  }

  /** A connection failed: back off (bounded, jittered) before the next one is tried. */
  private markDown(error: StoreUnavailableError, wasProbe: boolean): void {
    const now = Date.now();
    // Several requests of one moment that fail together count as one failure.
    if (this.down && !wasProbe && !this.down.probing && now < this.down.until) return;
    const failures = (this.down?.failures ?? 0) + 1;
    const ceiling = Math.min(this.reconnect.maxMs, this.reconnect.baseMs * 2 ** (failures - 1));
    const wait = ceiling / 2 + Math.random() * (ceiling / 2);
    if (!this.down) this.log(`database ${this.location}: unreachable (${error.message}); trying again in ${Math.round(wait)} ms, backing off up to ${this.reconnect.maxMs} ms`);
    this.down = { failures, until: now + wait, probing: false, error };
  }

  private stillDown(down: NonNullable<PostgresEngine['down']>, now: number): StoreUnavailableError {
    const waitMs = Math.max(0, down.until - now);
    return new StoreUnavailableError(`${down.error.message} (not tried again for ${Math.ceil(waitMs)} ms; nothing was changed)`, {
      cause: down.error,
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
    });
  }

  private unavailable(e: unknown, phase: 'connect' | 'request' | 'commit'): StoreUnavailableError {
    if (e instanceof StoreUnavailableError) return e;
    const what = e instanceof Error ? this.scrub(e.message) || (e as { code?: string }).code || e.name : String(e);
    const message =
      phase === 'connect'
        ? `cannot connect to database ${this.location}: ${what}`
        : phase === 'commit'
          ? `database ${this.location} went away while committing (${what}): the change may or may not have been saved; retrying the request is safe where it carries an idempotency key`
          : `database ${this.location} is unavailable: ${what}; nothing was changed`;
    return new StoreUnavailableError(message, { cause: e, outcome: phase === 'commit' ? 'unknown' : 'unchanged' });
  }
}

class NoPasswordError extends Error {}

/** The portable subset writes flags as 0/1 (INTEGER columns): a boolean is bound as one, as the SQLite engine does. */
function bindable(params: readonly unknown[]): unknown[] {
  return params.some((p) => typeof p === 'boolean') ? params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p)) : (params as unknown[]);
}

/** One connection inside one transaction attempt. */
export class PgSql implements Sql {
  readonly dialect: Dialect = postgresDialect;
  get notifies(): boolean {
    return this.engine.notifies;
  }
  /** The first statement error of this attempt, kept even when fn catches it. */
  failure: unknown;
  private ended = false;
  // node-postgres runs one query at a time per connection; statements fn issues in parallel
  // wait their turn here instead of relying on pg's deprecated internal queue.
  private tail: Promise<unknown> = Promise.resolve();
  /** Statements issued and not settled yet: with none, the next goes to the connection at once. */
  private inFlight = 0;

  constructor(
    private readonly client: ClientBase,
    private readonly engine: PostgresEngine,
  ) {}

  async all<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async get<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<RunResult> {
    return { changes: (await this.query(sql, params)).rowCount ?? 0 };
  }

  /**
   * Several statements without parameters in one round trip (the simple query protocol), for
   * migrations. Not part of the Sql contract: SQLite's engine has its own.
   */
  async exec(script: string): Promise<void> {
    await this.serial(() => this.client.query(script));
  }

  end(): void {
    this.ended = true;
  }

  private query(sql: string, params: readonly unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }> {
    return this.serial(() => this.engine.run(this.client, sql, params));
  }

  private serial<R>(run: () => Promise<R>): Promise<R> {
    if (this.ended) return Promise.reject(new Error('a statement was run after its transaction ended (an un-awaited promise inside the unit of work)'));
    // On an idle connection the statement is written now, not a microtask later: a caller that
    // starts a statement and then works synchronously (a listing turning one batch into records
    // while PostgreSQL reads the next) has PostgreSQL working meanwhile, not waiting for it.
    const started = this.inFlight === 0 ? startNow(run) : this.tail.then(run, run);
    this.inFlight++;
    const next = started.then(
      (value) => {
        this.inFlight--;
        return value;
      },
      (e: unknown) => {
        this.inFlight--;
        this.failure ??= e;
        throw e;
      },
    );
    this.tail = next.catch(() => {});
    return next;
  }
}

/** run(), with a synchronous throw turned into a rejection like any other failure of it. */
function startNow<R>(run: () => Promise<R>): Promise<R> {
  try {
    return run();
  } catch (e) {
    return Promise.reject(e);
  }
}
