// Agent check-ins per second with 10,000 simulated devices: `emmctl server` (a child process, so
// it has a core of its own on a 2-core machine) against `emmctl simulate` as the load generator,
// as a ratio to a bare node:http JSON endpoint (also a child process) that answers the same
// routes with canned bodies, driven by the very same simulator in the same run.
// Each figure is the median of RUNS check-in passes over the whole fleet (--once), measured by
// the simulator over its check-in phase only (enrollment happens in a first pass, reported apart);
// server and baseline passes alternate.
// Env: BENCH_DEVICES (10000), BENCH_CONCURRENCY (64), BENCH_RUNS (5).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BARE_CHECKIN_SERVER, BIN, CHECKIN_POLICIES, ROOT, median, report, spawnListening } from './lib.mjs';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TARGET = 2000;

if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
  console.error('build first: npm run build');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'emmctl-bench-checkin-'));
const env = { ...process.env };
for (const k of Object.keys(env)) if (k.startsWith('EMMCTL_')) delete env[k];
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function emmctl(args, extraEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...env, ...extraEnv }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`emmctl ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** A listening child server, killed when the benchmark exits. */
async function startChild(args) {
  const started = await spawnListening(args, { env });
  children.add(started.child);
  started.child.on('exit', () => children.delete(started.child));
  return started;
}

function simulate(url, stateFile, extra = []) {
  const out = emmctl(['simulate', '--devices', String(DEVICES), '--once', '--seed', '42', '--concurrency', String(CONCURRENCY), '--server', url, '--state', stateFile, '-o', 'json', '-q', ...extra]);
  return JSON.parse(out);
}

function enroll(url, stateFile, enrollToken) {
  const first = simulate(url, stateFile, ['--enroll-token', enrollToken]);
  if (first.enrolled !== DEVICES || first.errors) throw new Error(`enrollment pass: ${JSON.stringify(first)}`);
  return DEVICES / (first.durationMs / 1000 - first.checkInSeconds);
}

function checkInPass(url, stateFile) {
  const s = simulate(url, stateFile);
  if (s.checkIns !== DEVICES || s.errors) throw new Error(`check-in pass: ${JSON.stringify(s)}`);
  return s.checkInsPerSecond;
}

// ---- the emmctl server ----
const dataDir = join(dir, 'store');
const admin = emmctl(['server', 'token', 'create', '--role', 'admin', '--name', 'bench', '--data-dir', dataDir]).trim();
// --tick 3600: no reconcile pass during the passes, so the figures are the check-ins' own (as in
// checkin-scale.bench.mjs; reconcile at scale is sized on its own in docs/deploy.md).
const server = await startChild([BIN, 'server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--no-access-log', '--device-rate-limit', 'off', '--enroll-rate-limit', 'off', '--tick', '3600']);
const policies = join(dir, 'policies.yaml');
writeFileSync(policies, CHECKIN_POLICIES);
const serverEnv = { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: admin };
emmctl(['apply', policies, '--yes', '-q'], serverEnv);
const { secret } = JSON.parse(emmctl(['enroll', 'token', 'create', '--profile', 'bench', '-o', 'json'], serverEnv));

const barePath = join(dir, 'bare.mjs');
writeFileSync(barePath, BARE_CHECKIN_SERVER);
const bare = await startChild([barePath]);
const serverState = join(dir, 'state-server.json');
const bareState = join(dir, 'state-bare.json');
const enrollRates = { server: enroll(server.url, serverState, secret), bare: enroll(bare.url, bareState, 'bare-token') };
// CPU time of a server process (all its threads) from /proc, in seconds: what load from elsewhere
// on the machine changes least, where a rate on a busy machine only says what the machine gave.
const hasProc = existsSync('/proc/self/stat');
function cpuSeconds(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ (1/100 s)
}
// Passes alternate between the two, so load from anything else on the machine hits both alike.
const rates = { server: [], bare: [] };
const cpuMs = { server: [], bare: [] };
function measuredPass(kind, child, url, stateFile) {
  const before = hasProc ? cpuSeconds(child.pid) : 0;
  rates[kind].push(checkInPass(url, stateFile));
  if (hasProc) cpuMs[kind].push(((cpuSeconds(child.pid) - before) * 1000) / DEVICES);
}
for (let i = 0; i < RUNS; i++) {
  measuredPass('server', server.child, server.url, serverState);
  measuredPass('bare', bare.child, bare.url, bareState);
}
server.child.kill('SIGTERM');
bare.child.kill('SIGTERM');
const real = { rate: median(rates.server), rates: rates.server, enrollRate: enrollRates.server };
const base = { rate: median(rates.bare), rates: rates.bare, enrollRate: enrollRates.bare };

console.log(`${DEVICES} simulated devices, concurrency ${CONCURRENCY}, median of ${RUNS} passes (server passes: ${real.rates.map((r) => r.toFixed(0)).join(', ')}; bare: ${base.rates.map((r) => r.toFixed(0)).join(', ')})`);
report({
  name: 'agent check-ins (emmctl server, SQLite)',
  value: real.rate,
  unit: 'check-ins/s',
  baseline: base.rate,
  baselineName: 'bare node:http JSON endpoint',
  target: { text: `≥ ${TARGET} check-ins/s`, ok: (_ratio, value) => value >= TARGET },
});
if (hasProc) {
  report({ name: 'server CPU per check-in (emmctl server, SQLite)', value: median(cpuMs.server), unit: 'ms', baseline: median(cpuMs.bare), baselineName: 'bare node:http JSON endpoint' });
}
report({ name: 'agent enrollments (emmctl server)', value: real.enrollRate, unit: 'enrollments/s', baseline: base.enrollRate, baselineName: 'bare node:http JSON endpoint' });
