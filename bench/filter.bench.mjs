// Glob filter benchmark (issue 7, item 4): pathological patterns over 10,000 devices against a
// simple pattern measured in the same run on the same store. A backtracking RegExp took 3.8 s
// for `name=************!` over 6 devices; the linear matcher must keep every pattern within a
// small factor of the simple one.
//
// Two views: the store's listDevices paging in-process (the matching cost itself), and the
// built CLI end to end (`emmctl devices list -o json --filter …`), as a viewer would run it.
// Devices enter the store the real way (enrollment token → enroll → check-in).
//
// BENCH_DEVICES=N overrides the fleet size (default 10000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, report, timeNode } from './lib.mjs';
import { bundleStore } from '../test/store/bundle-store.mjs';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const work = mkdtempSync(join(tmpdir(), 'emmctl-filter-bench-'));
try {
  const { FleetService } = await import(await bundleStore(work));
  const dataDir = join(work, 'data');
  const actor = { name: 'local:bench', source: 'local' };
  const store = await FleetService.open(dataDir);
  const doc = (kind, name, spec) => ({ op: 'create', kind, name, document: { apiVersion: 'emmctl/v1', kind, metadata: { name }, spec } });
  await store.applyChanges([doc('EnrollmentProfile', 'corp', { platforms: ['android', 'ios'], ownership: 'corporate', labels: { team: 'sales' } })], actor);
  const { secret } = await store.createEnrollmentToken({ profile: 'corp' }, actor);
  for (let i = 0; i < DEVICES; i++) {
    // Long runs of one letter are the matcher's worst case (every star retry re-compares them).
    const name = `laptop-${'a'.repeat(24)}-${String(i).padStart(5, '0')}`;
    const e = await store.enrollDevice({ token: secret, platform: i % 2 ? 'android' : 'ios', serial: `SN${i}`, name, owner: `user${i}@example.com`, osVersion: '14' }, 'bench');
    await store.checkIn(e.deviceId, { posture: { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [], model: `Model ${'a'.repeat(40)}` } });
  }

  const simple = 'name=laptop-*-00042';
  const cases = [
    ['name=************! (the issue)', `name=${'*'.repeat(12)}!`],
    ['name= 255 stars then !', `name=${'*'.repeat(255)}!`],
    ['name=*a*a*…*b (127 stars)', `name=${'*a'.repeat(127)}b`],
    ['name=*aaaa…ab (greedy worst case)', `name=*${'a'.repeat(254)}b`],
    ['model=*?*?…! (?-star mix)', `model=${'*?'.repeat(127)}!`],
    ['owner=*…*@nowhere', `owner=${'*'.repeat(200)}@nowhere`],
    ['label.team=*…*x', `label.team=${'*'.repeat(200)}x`],
  ];

  const list = async (filter) => {
    const t0 = performance.now();
    let count = 0;
    let cursor;
    do {
      const page = await store.listDevices({ limit: 1000, cursor, filters: [parse(filter)] });
      count += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    return { ms: performance.now() - t0, count };
  };
  const inProcess = async (filter, runs = 5) => {
    await list(filter);
    const samples = [];
    for (let i = 0; i < runs; i++) samples.push((await list(filter)).ms);
    samples.sort((a, b) => a - b);
    return samples[runs >> 1];
  };

  console.log(`${DEVICES} devices; in-process listDevices (pages of 1000), median of 5:`);
  const base = await inProcess(simple);
  report({ name: `  ${simple}`, value: base, unit: 'ms' });
  for (const [label, filter] of cases) {
    report({ name: `  ${label}`, value: await inProcess(filter), unit: 'ms', baseline: base, baselineName: 'simple pattern', target: { text: '< 10x simple', ok: (r) => r < 10 } });
  }

  await store.close();
  console.log(`\nbuilt CLI, emmctl devices list -o json --filter …, median of 5:`);
  const cli = (filter) => timeNode([BIN, 'devices', 'list', '-o', 'json', '--data-dir', dataDir, '--filter', filter], { runs: 5 });
  const cliBase = cli(simple);
  report({ name: `  ${simple}`, value: cliBase, unit: 'ms' });
  for (const [label, filter] of cases.slice(0, 4)) {
    report({ name: `  ${label}`, value: cli(filter), unit: 'ms', baseline: cliBase, baselineName: 'simple pattern', target: { text: '< 3x simple', ok: (r) => r < 3 } });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

// The filter text → DeviceFilter, as parseDeviceFilter does (the bench keeps to the store bundle).
function parse(text) {
  const i = text.indexOf('=');
  return { field: text.slice(0, i), op: '=', value: text.slice(i + 1) };
}
