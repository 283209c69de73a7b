// Compliance engine benchmark (issue 3): 100,000 generated devices evaluated in memory against a
// realistic policy set — group membership, assigned compliance policies, rule evaluation and due
// escalation steps per device, exactly the per-device work the store does — beside a same-run
// baseline: a plain loop that only reads the same posture fields. Targets: < 3 s, < 300 MB.
//
// How it runs TypeScript: src/compliance/index.ts (and src/agent/fleet.ts, for the simulator's seeded
// PRNG) are bundled on the fly with esbuild's build API into a temp dir and imported from there; no build step, no dist/ needed. Each measured part runs
// in its own child process (this file with a mode argument) so its peak RSS is its own. Peak RSS
// is the largest process.memoryUsage().rss sampled every 1,000 devices (and
// process.resourceUsage().maxRSS, the kernel's high-water mark, for the whole child). The fleet is
// generated from a fixed seed, so every run evaluates the same devices.
//
// BENCH_DEVICES=N overrides the fleet size (default 100000).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 100_000);
const NOW = new Date('2026-03-01T12:00:00.000Z');
const DAY = 86_400_000;
const [mode, bundleDir] = process.argv.slice(2);

async function main() {
  const { report } = await import('./lib.mjs');
  const { build } = await import('esbuild');
  const root = fileURLToPath(new URL('..', import.meta.url));
  const work = mkdtempSync(join(tmpdir(), 'emmctl-compliance-bench-'));
  try {
    await build({ absWorkingDir: root, entryPoints: { compliance: 'src/compliance/index.ts', fleet: 'src/agent/fleet.ts' }, outdir: work, outExtension: { '.js': '.mjs' }, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
    const run = (m) => {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), m, work], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(`bench child ${m} failed: ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop());
    };
    const base = run('baseline');
    const engine = run('engine');
    console.log(`fleet: ${DEVICES} generated devices (${engine.generateMs.toFixed(0)} ms to generate, RSS ${engine.rssAfterGenerateMb.toFixed(0)} MB with the fleet in memory); ${engine.policies} compliance policies, ${engine.groups} groups`);
    report({ name: `evaluate ${DEVICES} devices (groups + policies + rules + escalations)`, value: engine.ms / 1000, unit: 's', baseline: base.ms / 1000, baselineName: 'loop reading the same posture fields', target: { text: '< 3 s', ok: (_r, v) => v < 3 } });
    report({ name: 'evaluate peak RSS (sampled)', value: engine.peakRssMb, unit: 'MB', baseline: base.peakRssMb, baselineName: 'same loop', target: { text: '< 300 MB', ok: (_r, v) => v < 300 } });
    report({ name: 'evaluate maxRSS (kernel high-water mark, whole child)', value: engine.maxRssMb, unit: 'MB', baseline: base.maxRssMb, baselineName: 'same loop' });
    console.log(`throughput: ${Math.round(DEVICES / (engine.ms / 1000))} devices/s; statuses: ${JSON.stringify(engine.statuses)}; failures: ${engine.failures}; escalation steps due: ${engine.due}`);
    const config = run('config');
    report({ name: `effectiveConfiguration for ${DEVICES} devices, uncached`, value: config.ms / 1000, unit: 's', baseline: base.ms / 1000, baselineName: 'loop reading posture fields' });
    console.log(`distinct configuration versions: ${config.versions}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function child(which, dir) {
  // The simulator's PRNG, so the bench fleet and the simulated fleet draw from the same generator.
  const { mulberry32 } = await import(pathToFileURL(join(dir, 'fleet.mjs')).href);
  const t0 = performance.now();
  const fleet = generateFleet(DEVICES, mulberry32);
  const generateMs = performance.now() - t0;
  const rssAfterGenerateMb = process.memoryUsage().rss / 2 ** 20;
  const { groups, profiles, compliance, policies } = policySet(fleet);
  let peak = process.memoryUsage().rss;
  const sample = (i) => {
    if (i % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  };
  const out = { generateMs, rssAfterGenerateMb, groups: groups.length, policies: compliance.length };

  if (which === 'baseline') {
    // Reads every field the rules read, compares against constants, keeps one flag per device.
    const flags = new Uint8Array(fleet.length);
    const start = performance.now();
    for (let i = 0; i < fleet.length; i++) {
      const d = fleet[i];
      const p = d.posture;
      if (p && d.lastCheckIn !== undefined) {
        let bad = p.osVersion < '13' || !p.encrypted || !p.passcodeSet || p.compromised || (p.patchLevel ?? '') < '2025-06-01';
        bad = bad || NOW.getTime() - Date.parse(d.lastCheckIn) > 14 * DAY || !p.installedApps.includes('com.company.portal');
        flags[i] = bad ? 2 : 1;
      }
      sample(i);
    }
    Object.assign(out, { ms: performance.now() - start, failing: flags.filter((f) => f === 2).length });
  } else {
    const engine = await import(pathToFileURL(join(dir, 'compliance.mjs')).href);
    if (which === 'engine') {
      // Warm up the JIT on a slice, as a long-running server would be.
      for (let i = 0; i < Math.min(5000, fleet.length); i++) evaluate(engine, fleet[i], groups, profiles, compliance);
      const results = new Array(fleet.length);
      const statuses = {};
      let failures = 0;
      let due = 0;
      const start = performance.now();
      for (let i = 0; i < fleet.length; i++) {
        const r = evaluate(engine, fleet[i], groups, profiles, compliance);
        results[i] = r; // kept, as a store would until it writes them
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        failures += r.failures.length;
        due += r.due;
        sample(i);
      }
      Object.assign(out, { ms: performance.now() - start, statuses, failures, due });
    } else {
      const versions = new Set();
      const start = performance.now();
      for (let i = 0; i < fleet.length; i++) {
        const g = engine.groupsForDevice(fleet[i], groups, profiles);
        versions.add(engine.effectiveConfiguration(engine.policiesForGroups(policies, g)).version);
        sample(i);
      }
      Object.assign(out, { ms: performance.now() - start, versions: versions.size });
    }
  }
  out.peakRssMb = Math.max(peak, process.memoryUsage().rss) / 2 ** 20;
  out.maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify(out) + '\n');
}

const NO_FIRED = new Set();
function evaluate(engine, device, groups, profiles, compliance) {
  const names = engine.groupsForDevice(device, groups, profiles);
  const assigned = engine.policiesForGroups(compliance, names);
  const r = engine.evaluateCompliance({ device, policies: assigned, now: NOW, noncompliantSince: device.noncompliantSince });
  let due = 0;
  if (r.failing) {
    const since = device.noncompliantSince ?? NOW.toISOString();
    due = engine.dueEscalations({ policies: assigned, failures: r.failures, noncompliantSince: since, now: NOW, fired: NO_FIRED }).length;
  }
  return { status: r.status, failures: r.failures, policies: r.policies, due };
}

function generateFleet(n, mulberry32) {
  // A fixed seed: the same fleet every run.
  const r = mulberry32(20260301);
  const pick = (list) => list[Math.floor(r() * list.length)];
  const weighted = (pairs) => {
    let x = r();
    for (const [v, w] of pairs) if ((x -= w) < 0) return v;
    return pairs[pairs.length - 1][0];
  };
  const OS = {
    android: ['11', '12', '13', '13', '14', '14', '14', '15', '15'],
    ios: ['16.7.8', '17.4.1', '17.5', '17.6.1', '18.0', '18.1.1', '18.1.1'],
    ipados: ['16.7.8', '17.5', '18.1'],
    windows: ['10.0.19044.3086', '10.0.19045.4291', '10.0.19045.5011', '10.0.22621.3447', '10.0.22631.4460'],
    macos: ['13.6.7', '14.4.1', '14.6', '15.1'],
  };
  const PATCH = ['2024-09-01', '2025-01-05', '2025-04-01', '2025-06-01', '2025-09-05', '2025-12-01', '2026-02-01'];
  const EXTRA_APPS = ['com.microsoft.teams', 'com.slack', 'com.google.chrome', 'org.mozilla.firefox', 'com.zoom.videomeetings', 'com.spotify.music'];
  const fleet = new Array(n);
  for (let i = 0; i < n; i++) {
    const platform = weighted([['android', 0.45], ['ios', 0.3], ['ipados', 0.05], ['windows', 0.15], ['macos', 0.05]]);
    const ownership = r() < 0.7 ? 'corporate' : 'personal';
    const reported = r() > 0.03;
    const apps = [];
    if (r() < 0.9) apps.push('com.company.portal');
    if (r() < 0.8) apps.push('com.company.defender');
    for (const a of EXTRA_APPS) if (r() < 0.3) apps.push(a);
    if (r() < 0.02) apps.push('com.torrent.client');
    const lastCheckIn = reported ? new Date(NOW.getTime() - Math.floor(r() * (r() < 0.9 ? 7 : 40) * DAY)).toISOString() : undefined;
    const id = `dev_${i.toString(36).padStart(6, '0')}`;
    const posture = reported
      ? {
          osVersion: pick(OS[platform]),
          patchLevel: platform === 'android' ? (r() < 0.97 ? pick(PATCH) : undefined) : undefined,
          model: `Model ${i % 40}`,
          serial: `SN${i}`,
          encrypted: r() < 0.93,
          passcodeSet: r() < 0.95,
          compromised: r() < 0.01,
          installedApps: apps,
        }
      : undefined;
    fleet[i] = {
      id,
      name: `${platform}-${i}`,
      serial: `SN${i}`,
      platform,
      ownership,
      owner: `user${i % 20000}@${r() < 0.9 ? 'example.com' : 'contractor.example.net'}`,
      labels: { team: pick(['sales', 'eng', 'ops', 'support', 'finance']), region: pick(['emea', 'amer', 'apac']) },
      state: reported ? 'enrolled' : 'preregistered',
      profile: ownership === 'corporate' ? (platform === 'android' ? 'android-corp' : undefined) : 'byod',
      lastCheckIn,
      posture,
      // A third of the devices were already failing at the previous evaluation.
      noncompliantSince: r() < 0.33 ? new Date(NOW.getTime() - Math.floor(r() * 45 * DAY)).toISOString() : undefined,
    };
  }
  return fleet;
}

function policySet(fleet) {
  const doc = (kind, name, spec) => ({ apiVersion: 'emmctl/v1', kind, metadata: { name }, spec });
  const actions = (mark, lock, retire) => [{ after: mark, do: 'markNoncompliant' }, { after: '1d', do: 'notify' }, { after: lock, do: 'lock' }, { after: retire, do: 'retire' }];
  const groups = [
    doc('Group', 'corp-android', { match: { platforms: ['android'], ownership: 'corporate' } }),
    doc('Group', 'apple', { match: { platforms: ['ios', 'ipados', 'macos'] } }),
    doc('Group', 'windows', { match: { platforms: ['windows'] } }),
    doc('Group', 'corporate', { match: { ownership: 'corporate' } }),
    doc('Group', 'sales-emea', { match: { labels: { team: 'sales', region: 'emea' } } }),
    doc('Group', 'contractors', { match: { owners: ['*@contractor.example.net'] } }),
    doc('Group', 'byod', {}),
    doc('Group', 'executives', { devices: fleet.slice(0, 200).map((d) => d.id) }),
  ];
  const profiles = [
    doc('EnrollmentProfile', 'android-corp', { platforms: ['android'], ownership: 'corporate', group: 'corp-android' }),
    doc('EnrollmentProfile', 'byod', { platforms: ['android', 'ios', 'ipados', 'macos', 'windows'], ownership: 'personal', group: 'byod' }),
  ];
  const compliance = [
    doc('CompliancePolicy', 'baseline', {
      assign: ['all'],
      rules: { minOsVersion: { android: '13', ios: '17.5', ipados: '17.5', macos: '14.4', windows: '10.0.19045' }, encryption: 'required', passcode: 'required', compromised: 'blocked', maxCheckInAgeDays: 14 },
      actions: actions('0d', '3d', '30d'),
    }),
    doc('CompliancePolicy', 'android-security', { assign: ['corp-android'], rules: { minPatchLevel: '2025-06-01', blockedApps: ['com.torrent.client'] }, actions: actions('2d', '7d', '60d') }),
    doc('CompliancePolicy', 'corporate-apps', { assign: ['corporate'], rules: { requiredApps: ['com.company.portal', 'com.company.defender'] }, actions: actions('3d', '14d', '90d') }),
    doc('CompliancePolicy', 'windows-build', { assign: ['windows'], rules: { minOsVersion: { windows: '10.0.22621' } }, actions: [{ after: '30d', do: 'markNoncompliant' }] }),
    doc('CompliancePolicy', 'contractors', { assign: ['contractors'], rules: { maxCheckInAgeDays: 3, blockedApps: ['com.torrent.client', 'com.spotify.music'] } }),
    doc('CompliancePolicy', 'executives', { assign: ['executives', 'sales-emea'], rules: { minOsVersion: { ios: '18.0', android: '14' }, maxCheckInAgeDays: 7 }, actions: actions('1d', '2d', '30d') }),
  ];
  const policies = [
    doc('Policy', 'baseline', { assign: ['all'], settings: { passcode: { required: true, minLength: 6 }, encryption: 'required', screenLock: { maxTimeoutSeconds: 300 } } }),
    doc('Policy', 'corp-android', { assign: ['corp-android'], settings: { camera: 'disabled', usbFileTransfer: 'disabled', apps: { required: ['com.company.portal', 'com.company.defender'] }, osUpdates: { mode: 'windowed', window: { start: '02:00', end: '04:00' } } } }),
    doc('Policy', 'apple', { assign: ['apple'], settings: { passcode: { minLength: 8, quality: 'alphanumeric' }, wifi: [{ ssid: 'Corp', security: 'wpa3-enterprise' }] } }),
    doc('Policy', 'sales', { assign: ['sales-emea'], priority: 200, settings: { vpn: { app: 'com.company.vpn', alwaysOn: true }, apps: { required: ['com.crm'] } } }),
    doc('Policy', 'byod', { assign: ['byod'], priority: 50, settings: { passcode: { minLength: 4 }, screenCapture: 'disabled' } }),
  ];
  return { groups, profiles, compliance, policies };
}

// Last, so every module-level constant above is initialised before either half runs.
if (mode === undefined) await main();
else await child(mode, bundleDir);
