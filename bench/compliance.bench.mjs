// `emmctl compliance -o json` over a 100,000-device fleet: wall time and peak RSS of the real
// CLI (built bin/emmctl, embedded store, stdout piped), as ratios to a raw better-sqlite3 scan
// of the same devices table in the same run. Targets (issue 4): within 3x the raw scan, < 300 MB.
//
// Seeding: a bench-only child imports the store (bundled on the fly from src/ by
// test/store/bundle-store.mjs) and enrolls + checks in every device through the FleetService agent
// API — the path real devices take, in one process with no HTTP, so 100k devices take seconds.
// Both measured commands are separate processes (Node start-up included in both); peak RSS is
// the child's VmHWM, polled from /proc/PID/status (Linux), or /usr/bin/time when unavailable.
//
// BENCH_DEVICES=N overrides the fleet size; BENCH_RUNS=N the number of timed runs (median);
// BENCH_DATA_DIR=DIR keeps the seeded store there and reuses it on the next run (seeding 100k
// devices through the agent API takes a minute or more).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, median, report, ROOT } from './lib.mjs';
import { bundleStore } from '../test/store/bundle-store.mjs';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = mkdtempSync(join(tmpdir(), 'emmctl-compliance-bench-'));

/** Runs `node args`, drains stdout (counting bytes and newline-separated records), samples VmHWM. */
function measure(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let lines = 0;
    let stderr = '';
    let hwmKb = 0;
    const status = `/proc/${child.pid}/status`;
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(status, 'utf8'));
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

try {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('build first: npm run build');
  const bundle = await bundleStore(work);
  const dataDir = process.env.BENCH_DATA_DIR ?? join(work, 'data');
  const reuse = existsSync(join(dataDir, 'emmctl.db'));
  const seedScript = join(work, 'seed.mjs');
  writeFileSync(seedScript, `
const { FleetService } = await import(${JSON.stringify(bundle)});
const [dataDir, n] = [process.argv[2], Number(process.argv[3])];
const actor = { name: 'local:bench', source: 'local' };
const store = await FleetService.open(dataDir);
const doc = (kind, name, spec) => ({ op: 'create', kind, name, document: { apiVersion: 'emmctl/v1', kind, metadata: { name }, spec } });
await store.applyChanges([
  doc('Group', 'corp-android', { match: { platforms: ['android'], ownership: 'corporate' } }),
  doc('Group', 'sales', { match: { labels: { team: 'sales' } } }),
  doc('Policy', 'android-baseline', { assign: ['corp-android'], settings: { camera: 'disabled' } }),
  doc('CompliancePolicy', 'baseline', { assign: ['all'], rules: { minOsVersion: { android: '13', ios: '17.0' }, encryption: 'required', passcode: 'required', compromised: 'blocked', maxCheckInAgeDays: 14 }, actions: [{ after: '0d', do: 'markNoncompliant' }] }),
  doc('CompliancePolicy', 'sales-apps', { assign: ['sales'], rules: { requiredApps: ['com.example.mail'] } }),
  doc('EnrollmentProfile', 'corp', { platforms: ['android', 'ios'], ownership: 'corporate', labels: { team: 'sales' } }),
], actor);
const { secret } = await store.createEnrollmentToken({ profile: 'corp', maxUses: n + 1 }, actor);
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const osVersion = ['12', '13', '14', '14.1', '17.4.1', '16.7'][i % 6];
  const e = await store.enrollDevice({ token: secret, platform: i % 3 === 0 ? 'ios' : 'android', serial: 'C' + i, name: 'device-' + i, owner: 'user' + i + '@example.com', osVersion }, 'bench');
  await store.checkIn(e.deviceId, { posture: { osVersion, encrypted: i % 10 !== 0, passcodeSet: i % 17 !== 0, compromised: i % 97 === 0, installedApps: ['com.example.vpn', 'com.example.mail'].slice(0, 1 + (i % 2)) } });
}
await store.close();
process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }) + '\\n');
`);
  if (reuse) console.log(`reusing the seeded store in ${dataDir}`);
  else {
    const seed = spawnSync(process.execPath, [seedScript, dataDir, String(DEVICES)], { encoding: 'utf8' });
    if (seed.status !== 0) throw new Error(`seeding failed: ${seed.stderr}`);
    const seedMs = JSON.parse(seed.stdout).ms;
    console.log(`seeded ${DEVICES} devices (enroll + check-in through FleetService) in ${(seedMs / 1000).toFixed(1)} s`);
  }

  // The baseline: every row of the same devices table, read with better-sqlite3's iterator.
  const scanScript = join(work, 'scan.mjs');
  writeFileSync(scanScript, `
import Database from ${JSON.stringify(new URL('../node_modules/better-sqlite3/lib/index.js', import.meta.url).href)};
const db = new Database(process.argv[2] + '/emmctl.db', { readonly: true });
let n = 0;
for (const row of db.prepare('SELECT * FROM devices').iterate()) if (row.id) n++;
process.stdout.write(n + '\\n');
`);

  const env = { EMMCTL_DATA_DIR: dataDir, EMMCTL_SERVER: '', EMMCTL_CONTEXT: '', NO_COLOR: '1' };
  delete process.env.EMMCTL_SERVER;
  const scans = [];
  const cli = [];
  // Warm the page cache and V8's code cache once for both.
  await measure([scanScript, dataDir], {});
  await measure([BIN, 'compliance', '-o', 'json'], env);
  for (let i = 0; i < RUNS; i++) {
    scans.push(await measure([scanScript, dataDir], {}));
    const r = await measure([BIN, 'compliance', '-o', 'json'], env);
    // One record per line between `[` and `]`.
    if (r.lines - 2 !== DEVICES) throw new Error(`compliance printed ${r.lines - 2} records, expected ${DEVICES}`);
    cli.push(r);
  }
  const scanMs = median(scans.map((s) => s.ms));
  const cliMs = median(cli.map((c) => c.ms));
  const scanRss = median(scans.map((s) => s.rssMb));
  const cliRss = Math.max(...cli.map((c) => c.rssMb));
  report({ name: `emmctl compliance -o json, ${DEVICES} devices (wall, median of ${RUNS})`, value: cliMs, unit: 'ms', baseline: scanMs, baselineName: 'raw better-sqlite3 scan of devices', target: { text: '<= 3x', ok: (r) => r <= 3 } });
  report({ name: 'emmctl compliance -o json peak RSS (max of runs)', value: cliRss, unit: 'MB', baseline: scanRss, baselineName: 'raw scan', target: { text: '< 300 MB', ok: (_r, v) => v < 300 } });
  console.log(`output: ${(cli[0].bytes / 1e6).toFixed(1)} MB of JSON; summary: ${cli[0].stderr.trim().split('\n')[0]}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
