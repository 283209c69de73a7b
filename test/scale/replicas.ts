// Several real `emmctl server` replicas (the built CLI, child processes) on one PostgreSQL
// database, and a client that spreads requests across them the way a load balancer without
// sticky sessions does: each request goes to the next live replica in turn.
//
//   const fleet = await startReplicas({ databaseUrl: db.url, count: 3 });
//   await fleet.call('POST', '/v1/commands', { token: fleet.admin, body, headers });
//   await fleet.kill(1);        // kill -9
//   await fleet.restart(1);     // a new process in its place (a new port)
//   await fleet.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, cliEnv, runCli, type CliResult } from '../helpers/cli.js';

export interface Replica {
  index: number;
  url: string;
  child: ChildProcess;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive: boolean;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
  /** Which replica answered (its index). */
  replica: number;
}

/** A request that got no HTTP answer (the replica died under it, the connection was refused). */
export interface Lost {
  lost: true;
  replica: number;
  error: string;
}

export interface CallOptions {
  token?: string;
  device?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send it to this replica instead of the next in turn. */
  replica?: number;
}

export interface ReplicaSetOptions {
  /** postgres://user:password@host:port/db (the test cluster's; the password is split off below). */
  databaseUrl: string;
  count: number;
  /** Extra `emmctl server` flags for every replica. */
  args?: string[];
}

export interface ReplicaSet {
  replicas: Replica[];
  /** An admin API token made with `emmctl server token create --database`. */
  admin: string;
  /** The URL without its password, as given to --database, and the environment holding the password. */
  database: { url: string; env: Record<string, string> };
  /** The next live replica in turn. */
  next(): Replica;
  /** One request through the next live replica (or opts.replica); throws when no answer came. */
  call(method: string, path: string, opts?: CallOptions): Promise<Answer>;
  /** Like call, but a request that got no answer resolves as Lost instead of throwing. */
  attempt(method: string, path: string, opts?: CallOptions): Promise<Answer | Lost>;
  /** Every item of a paged list (`items` + `nextCursor`), read through the replicas in turn. */
  all(path: string, query?: Record<string, string>): Promise<any[]>;
  /** The built CLI against one replica (EMMCTL_SERVER + EMMCTL_TOKEN). */
  cli(args: string[], replica: number, opts?: { input?: string; env?: Record<string, string> }): Promise<CliResult>;
  /** kill -9: no shutdown, connections cut, transactions in flight die with it. */
  kill(index: number): Promise<void>;
  /** Starts a new process in a killed or stopped replica's place (it gets a new port). */
  restart(index: number): Promise<Replica>;
  /** SIGTERM to every live replica, waiting for each to exit. */
  stop(): Promise<void>;
}

/** Splits the password off a URL: the flag must not carry it (the server refuses that), PGPASSWORD does. */
function splitPassword(url: string): { url: string; env: Record<string, string> } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), env: password ? { PGPASSWORD: password } : {} };
}

async function spawnReplica(index: number, database: { url: string; env: Record<string, string> }, args: string[]): Promise<Replica> {
  const child = spawn(process.execPath, [BIN, 'server', '--database', database.url, '--listen', '127.0.0.1:0', '--no-access-log', ...args], {
    env: cliEnv(database.env),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let onData: (() => void) | undefined;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    onData?.();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    onData = () => {
      const m = /listening on (\S+)\n/.exec(stderr);
      if (m) resolve(m[1]!);
    };
    void exited.then(({ code, signal }) => reject(new Error(`replica ${index} exited (${code ?? signal}) before listening:\n${stderr}`)));
  });
  onData = undefined;
  const replica: Replica = { index, url, child, stderr: () => stderr, exited, alive: true };
  void exited.then(() => { replica.alive = false; });
  return replica;
}

/** Runs fn over items with at most `limit` in flight; results in item order. */
export async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let nextIndex = 0;
  const worker = async () => {
    while (nextIndex < items.length) {
      const i = nextIndex++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function startReplicas(options: ReplicaSetOptions): Promise<ReplicaSet> {
  const database = splitPassword(options.databaseUrl);
  const args = options.args ?? [];
  // The first replica migrates the empty database; the others start together against it.
  const replicas: Replica[] = [await spawnReplica(0, database, args)];
  replicas.push(...await Promise.all(Array.from({ length: options.count - 1 }, (_, i) => spawnReplica(i + 1, database, args))));
  const token = await runCli(['server', 'token', 'create', '--role', 'admin', '--name', 'scale-admin', '--database', database.url], { env: database.env });
  if (token.code !== 0) throw new Error(`emmctl server token create --database failed (${token.code}):\n${token.stderr}`);
  const admin = token.stdout.trim();

  let turn = 0;
  const next = (): Replica => {
    for (let i = 0; i < replicas.length; i++) {
      const r = replicas[turn++ % replicas.length]!;
      if (r.alive) return r;
    }
    throw new Error('no replica is alive');
  };

  const attempt = async (method: string, path: string, opts: CallOptions = {}): Promise<Answer | Lost> => {
    const replica = opts.replica !== undefined ? replicas[opts.replica]! : next();
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.device) headers.authorization = `Device ${opts.device}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(replica.url + path, { method, headers, body });
      text = await res.text();
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { lost: true, replica: replica.index, error: cause?.code ?? cause?.message ?? String(error) };
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed, replica: replica.index };
  };

  const set: ReplicaSet = {
    replicas,
    admin,
    database,
    next,
    attempt,
    async call(method, path, opts) {
      const r = await attempt(method, path, opts);
      if ('lost' in r) throw new Error(`${method} ${path} via replica ${r.replica}: no answer (${r.error})`);
      return r;
    },
    async all(path, query = {}) {
      const items: any[] = [];
      let cursor: string | undefined;
      do {
        const q = new URLSearchParams({ ...query, limit: '1000', ...(cursor ? { cursor } : {}) });
        const r = await set.call('GET', `${path}?${q}`, { token: admin });
        if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
        items.push(...r.body.items);
        cursor = r.body.nextCursor;
      } while (cursor);
      return items;
    },
    cli(cliArgs, replica, opts = {}) {
      return runCli(cliArgs, { input: opts.input, env: { EMMCTL_SERVER: replicas[replica]!.url, EMMCTL_TOKEN: admin, ...opts.env } });
    },
    async kill(index) {
      const r = replicas[index]!;
      r.child.kill('SIGKILL');
      await r.exited;
    },
    async restart(index) {
      const old = replicas[index]!;
      if (old.alive) throw new Error(`replica ${index} is still running`);
      const fresh = await spawnReplica(index, database, args);
      replicas[index] = fresh;
      return fresh;
    },
    async stop() {
      await Promise.all(replicas.filter((r) => r.alive).map(async (r) => {
        r.child.kill('SIGTERM');
        const t = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
        await r.exited;
        clearTimeout(t);
      }));
    },
  };
  return set;
}

/** Polls until fn() holds: a state, not a time (the bound only turns a hang into a failure). */
export async function until(what: string, fn: () => Promise<boolean>, boundMs = 30_000): Promise<void> {
  const end = Date.now() + boundMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
