// Store benchmarks (issue 3): enqueueing 10,000 commands, and compliance evaluation of 100,000
// devices through listCompliance paging, each beside a raw better-sqlite3 baseline measured in
// the same run on the same file.
//
// How it runs TypeScript: the store is bundled on the fly with esbuild's API into a temp .mjs
// (test/store/bundle-store.mjs, shared with the kill -9 tests), so the bench needs no build
// step of its own. Devices enter the store the real way (enrollment token → enroll → check-in).
// Each timed part runs in its own child process so its peak RSS is its own.
//
// BENCH_DEVICES=N overrides the fleet size (default 100000).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report } from './lib.mjs';
import { bundleStore } from '../test/store/bundle-store.mjs';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 100_000);
const COMMANDS = 10_000;
const work = mkdtempSync(join(tmpdir(), 'emmctl-store-bench-'));
try {
  const bundle = await bundleStore(work);
  const dataDir = join(work, 'data');
  const child = join(work, 'child.mjs');
  writeFileSync(child, childSource().replace('BUNDLE_URL', JSON.stringify(bundle)));
  const run = (...args) => {
    const r = spawnSync(process.execPath, [child, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`bench child ${args[0]} failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };

  const seed = run('seed', dataDir, String(DEVICES));
  console.log(`seeded ${DEVICES} devices via enroll + check-in in ${(seed.ms / 1000).toFixed(1)} s (${Math.round(DEVICES / (seed.ms / 1000))} enroll+check-in/s in-process)`);

  const raw = run('raw-insert', dataDir, String(COMMANDS));
  const batch = run('enqueue-batch', dataDir, String(COMMANDS));
  report({ name: `enqueue ${COMMANDS} commands (one request)`, value: COMMANDS / (batch.ms / 1000), unit: 'ops/s', baseline: COMMANDS / (raw.ms / 1000), baselineName: 'raw INSERT in one transaction', ratio: raw.ms / batch.ms });
  const single = run('enqueue-single', dataDir, String(COMMANDS));
  report({ name: `enqueue ${COMMANDS} commands (one request each)`, value: COMMANDS / (single.ms / 1000), unit: 'ops/s', baseline: COMMANDS / (raw.ms / 1000), baselineName: 'raw INSERT in one transaction', ratio: raw.ms / single.ms });

  const scan = run('raw-scan', dataDir);
  const compliance = run('compliance', dataDir);
  if (compliance.count !== DEVICES) throw new Error(`listCompliance returned ${compliance.count} devices, expected ${DEVICES}`);
  report({ name: `listCompliance over ${DEVICES} devices (pages of 1000)`, value: compliance.ms / 1000, unit: 's', baseline: scan.ms / 1000, baselineName: 'raw SELECT * scan', target: { text: '< 3 s', ok: (_r, v) => v < 3 } });
  report({ name: 'listCompliance peak RSS', value: compliance.rssMb, unit: 'MB', baseline: scan.rssMb, baselineName: 'raw SELECT * scan', target: { text: '< 300 MB', ok: (_r, v) => v < 300 } });
  console.log(`statuses: ${JSON.stringify(compliance.statuses)}`);
  const checkIns = run('check-in', dataDir, '10000');
  console.log(`store check-ins (no HTTP): ${Math.round(10000 / (checkIns.ms / 1000))}/s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

// The child: one measured operation per process.
function childSource() {
  return `
import Database from ${JSON.stringify(new URL('../node_modules/better-sqlite3/lib/index.js', import.meta.url).href)};
const { FleetService } = await import(BUNDLE_URL);
const [mode, dataDir, nArg] = process.argv.slice(2);
const n = Number(nArg);
const actor = { name: 'local:bench', source: 'local' };
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const posture = (i) => ({
  osVersion: ['12', '13', '14', '14.1', '17.4.1', '16.7'][i % 6],
  encrypted: i % 10 !== 0, passcodeSet: i % 17 !== 0, compromised: i % 97 === 0,
  installedApps: ['com.example.vpn', 'com.example.mail'].slice(0, 1 + (i % 2)), model: 'Model ' + (i % 20),
});
async function allDeviceIds(store, limit) {
  const ids = [];
  let cursor;
  do { const p = await store.listDevices({ limit: 1000, cursor, sort: 'id' }); ids.push(...p.items.map((d) => d.id)); cursor = p.nextCursor; } while (cursor && ids.length < limit);
  return ids.slice(0, limit);
}
if (mode === 'seed') {
  const store = await FleetService.open(dataDir);
  const doc = (kind, name, spec) => ({ op: 'create', kind, name, document: { apiVersion: 'emmctl/v1', kind, metadata: { name }, spec } });
  await store.applyChanges([
    doc('Group', 'corp-android', { match: { platforms: ['android'], ownership: 'corporate' } }),
    doc('Group', 'sales', { match: { labels: { team: 'sales' } } }),
    doc('Group', 'example-owners', { match: { owners: ['example.com'] } }),
    doc('Policy', 'android-baseline', { assign: ['corp-android'], settings: { camera: 'disabled', passcode: { required: true, minLength: 6 } } }),
    doc('CompliancePolicy', 'baseline', { assign: ['all'], rules: { minOsVersion: { android: '13', ios: '17.0' }, encryption: 'required', passcode: 'required', compromised: 'blocked', maxCheckInAgeDays: 14 }, actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '3d', do: 'lock' }] }),
    doc('CompliancePolicy', 'sales-apps', { assign: ['sales'], rules: { requiredApps: ['com.example.mail'] } }),
    doc('EnrollmentProfile', 'corp', { platforms: ['android', 'ios'], ownership: 'corporate', labels: { team: 'sales' } }),
  ], actor);
  const { secret } = await store.createEnrollmentToken({ profile: 'corp' }, actor);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const p = posture(i);
    const e = await store.enrollDevice({ token: secret, platform: i % 3 === 0 ? 'ios' : 'android', serial: 'B' + i, owner: 'user' + i + (i % 2 ? '@example.com' : '@other.org'), osVersion: p.osVersion }, 'bench');
    await store.checkIn(e.deviceId, { posture: p });
  }
  out({ ms: performance.now() - t0 });
  await store.close();
} else if (mode === 'raw-insert') {
  // Same row shape as commands, no checks, one transaction: the floor for writing n commands.
  const db = new Database(dataDir + '/emmctl.db');
  db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL');
  db.exec('CREATE TEMP TABLE raw_commands AS SELECT * FROM commands WHERE 0');
  const ins = db.prepare('INSERT INTO raw_commands (seq, id, device_id, type, status, reason, requested_by, idempotency_key, created_at, updated_at, detail, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const ids = db.prepare('SELECT id FROM devices LIMIT ?').pluck().all(n);
  const t0 = performance.now();
  db.transaction(() => { ids.forEach((d, i) => { const at = new Date().toISOString(); ins.run(i + 1, 'cmd_' + i, d, 'lock', 'queued', 'bench', 'local:bench', 'k', at, at, null, at); }); })();
  out({ ms: performance.now() - t0 });
} else if (mode === 'enqueue-batch' || mode === 'enqueue-single') {
  const store = await FleetService.open(dataDir);
  const ids = await allDeviceIds(store, n);
  const type = mode === 'enqueue-batch' ? 'lock' : 'reboot';
  const t0 = performance.now();
  if (mode === 'enqueue-batch') await store.enqueueCommands({ deviceIds: ids, type, reason: 'bench', idempotencyKey: 'bench-batch' }, actor);
  else for (const [i, id] of ids.entries()) await store.enqueueCommands({ deviceIds: [id], type, reason: 'bench', idempotencyKey: 'bench-single-' + i }, actor);
  out({ ms: performance.now() - t0 });
  await store.close();
} else if (mode === 'raw-scan') {
  const db = new Database(dataDir + '/emmctl.db', { readonly: true });
  const t0 = performance.now();
  let count = 0;
  for (const row of db.prepare('SELECT * FROM devices').iterate()) if (row.id) count++;
  out({ ms: performance.now() - t0, count, rssMb: process.resourceUsage().maxRSS / 1024 });
} else if (mode === 'compliance') {
  const store = await FleetService.open(dataDir);
  const t0 = performance.now();
  const statuses = {};
  let count = 0;
  let cursor;
  do {
    const page = await store.listCompliance({ limit: 1000, cursor });
    for (const c of page.items) { statuses[c.status] = (statuses[c.status] ?? 0) + 1; count++; }
    cursor = page.nextCursor;
  } while (cursor);
  out({ ms: performance.now() - t0, count, statuses, rssMb: process.resourceUsage().maxRSS / 1024 });
} else if (mode === 'check-in') {
  const store = await FleetService.open(dataDir);
  const ids = await allDeviceIds(store, n);
  const t0 = performance.now();
  for (const [i, id] of ids.entries()) await store.checkIn(id, { posture: posture(i) });
  out({ ms: performance.now() - t0 });
}
`;
}
