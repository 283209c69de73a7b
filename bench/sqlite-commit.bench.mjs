// What a check-in's write costs the embedded store by how it commits, in one process on a real
// store file (5,000 devices enrolled by `emmctl simulate --data-dir`), the three kinds of pass
// alternating over fresh copies of the one file:
//   - one COMMIT per check-in with SQLite's automatic checkpoint (the store before the server's
//     checkpoint thread: the COMMIT that crosses 1,000 WAL pages copies them back and fsyncs);
//   - one COMMIT per check-in, no checkpoint on this connection (the server's connection since
//     src/store/sqlite/checkpointer.ts; the thread's work is not on the event loop);
//   - GROUP check-ins to a COMMIT, each in its own savepoint (group commit, SqliteEngine.shared).
// Each check-in runs the statements of the check-in's write (src/store/repos/checkin.ts): the
// device update, conditional on state and credential, and the read of its pending commands.
// Env: BENCH_DEVICES (5000), BENCH_WRITES (20000), BENCH_RUNS (5), BENCH_GROUP (8).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, CHECKIN_POLICIES, ROOT, median, report } from './lib.mjs';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 5000);
const WRITES = Number(process.env.BENCH_WRITES ?? 20_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const GROUP = Number(process.env.BENCH_GROUP ?? 8);

if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
  console.error('build first: npm run build');
  process.exit(1);
}
const Database = createRequire(import.meta.url)('better-sqlite3');
const dir = mkdtempSync(join(tmpdir(), 'emmctl-bench-sqlite-commit-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, HOME: join(dir, 'home') };
for (const k of Object.keys(env)) if (k.startsWith('EMMCTL_')) delete env[k];
function emmctl(args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`emmctl ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

const dataDir = join(dir, 'store');
writeFileSync(join(dir, 'policies.yaml'), CHECKIN_POLICIES);
emmctl(['apply', join(dir, 'policies.yaml'), '--data-dir', dataDir, '--yes', '-q']);
emmctl(['simulate', '--devices', String(DEVICES), '--once', '--seed', '42', '--data-dir', dataDir, '-o', 'json', '-q']);
const source = join(dataDir, 'emmctl.db');

function pass(kind) {
  const file = join(dir, `${kind}.db`);
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  copyFileSync(source, file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  if (kind !== 'auto') db.pragma('wal_autocheckpoint = 0');
  const devices = db.prepare("SELECT id, state, credential_hash, posture FROM devices WHERE state = 'enrolled'").all();
  if (devices.length !== DEVICES) throw new Error(`the store holds ${devices.length} enrolled devices, expected ${DEVICES}`);
  const update = db.prepare('UPDATE devices SET posture = ?, last_check_in = ?, updated_at = ? WHERE id = ? AND state = ? AND credential_hash = ?');
  const pending = db.prepare("SELECT seq, id, type, reason, created_at, status, expires_at FROM commands WHERE device_id = ? AND status IN ('queued', 'sent') ORDER BY seq");
  const [begin, commit, savepoint, release] = ['BEGIN IMMEDIATE', 'COMMIT', 'SAVEPOINT emm_unit', 'RELEASE emm_unit'].map((s) => db.prepare(s));
  const group = kind === 'group' ? GROUP : 1;
  let changed = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < WRITES; i += group) {
    begin.run();
    for (let j = i; j < Math.min(i + group, WRITES); j++) {
      const d = devices[j % devices.length];
      const at = new Date().toISOString();
      if (group > 1) savepoint.run();
      changed += update.run(d.posture, at, at, d.id, d.state, d.credential_hash).changes;
      pending.all(d.id);
      if (group > 1) release.run();
    }
    commit.run();
  }
  const us = Number(process.hrtime.bigint() - started) / 1e3 / WRITES;
  db.close();
  if (changed !== WRITES) throw new Error(`${kind}: ${changed} of ${WRITES} updates matched`);
  return us;
}

const kinds = ['auto', 'none', 'group'];
const times = Object.fromEntries(kinds.map((k) => [k, []]));
for (let r = 0; r < RUNS; r++) for (const k of kinds) times[k].push(pass(k));
console.log(`${WRITES} check-in writes over ${DEVICES} devices, median of ${RUNS} passes of each (µs per check-in: ${kinds.map((k) => `${k} ${times[k].map((t) => t.toFixed(0)).join('/')}`).join('; ')})`);
const auto = median(times.auto);
report({ name: 'check-in write, one COMMIT each, no checkpoint on the connection (server, checkpoint thread)', value: median(times.none), unit: 'µs', baseline: auto, baselineName: "SQLite's automatic checkpoint" });
report({ name: `check-in write, ${GROUP} to a COMMIT, no checkpoint on the connection (server, group commit)`, value: median(times.group), unit: 'µs', baseline: auto, baselineName: "SQLite's automatic checkpoint" });
