// `apply` of 1,000 resources (500 groups, 500 policies) and the no-op re-plan, on the embedded
// store and over HTTP against an `emmctl server` child process. Baselines from the same run:
// bare `node -e 0` start-up, and a raw yaml + ajv parse-and-validate of the same files in a
// fresh process (the floor for any command that reads them).
// Targets: apply of 1,000 resources < 3 s, no-op re-plan < 1 s.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, bareNodeStartup, median, report, spawnListening } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const work = mkdtempSync(join(tmpdir(), 'emmctl-bench-apply-'));
const policyDir = join(work, 'policies');
mkdirSync(policyDir);

// 10 files of 50 groups and 10 of 50 policies: a realistic repo layout, not one giant file.
const platforms = ['android', 'ios', 'windows', 'macos'];
for (let f = 0; f < 10; f++) {
  const groups = [];
  const policies = [];
  for (let i = f * 50; i < (f + 1) * 50; i++) {
    groups.push(`apiVersion: emmctl/v1
kind: Group
metadata: { name: team-${i}, description: Devices of team ${i} }
spec:
  match:
    platforms: [${platforms[i % 4]}]
    labels: { team: t${i} }
`);
    policies.push(`apiVersion: emmctl/v1
kind: Policy
metadata: { name: team-${i}-baseline }
spec:
  assign: [team-${i}]
  priority: ${100 + (i % 50)}
  settings:
    passcode: { required: true, minLength: ${6 + (i % 6)}, quality: alphanumeric }
    screenLock: { maxTimeoutSeconds: 300 }
    encryption: required
    camera: ${i % 2 ? 'enabled' : 'disabled'}
    apps: { required: [com.example.app${i % 7}], blocked: [com.example.game] }
`);
  }
  writeFileSync(join(policyDir, `groups-${f}.yaml`), groups.join('---\n'));
  writeFileSync(join(policyDir, `policies-${f}.yaml`), policies.join('---\n'));
}

const baseEnv = { ...process.env };
for (const k of Object.keys(baseEnv)) if (k.startsWith('EMMCTL_')) delete baseEnv[k];
baseEnv.EMMCTL_CONFIG_DIR = join(work, 'config');
// Applies run with the policy cache off (EMMCTL_CACHE_DIR=''): the first apply after editing
// files parses everything. Re-plans are measured both ways.
const NO_CACHE = { EMMCTL_CACHE_DIR: '' };
const WITH_CACHE = { EMMCTL_CACHE_DIR: join(work, 'cache') };

function timed(args, env, expectCode = 0) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env: { ...baseEnv, ...env }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== expectCode) throw new Error(`emmctl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

// Raw floor: parse every file with yaml and validate each document with ajv, in a new process.
const rawScript = join(work, 'raw-validate.mjs');
writeFileSync(rawScript, `
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(join(ROOT, 'package.json'))});
const YAML = require('yaml');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats');
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(${JSON.stringify(join(ROOT, 'schema', 'emmctl.schema.json'))}, 'utf8')));
let n = 0;
for (const f of readdirSync(${JSON.stringify(policyDir)})) {
  for (const d of YAML.parseAllDocuments(readFileSync(${JSON.stringify(policyDir)} + '/' + f, 'utf8'))) {
    if (!validate(d.toJS())) throw new Error(JSON.stringify(validate.errors));
    n++;
  }
}
if (n !== 1000) throw new Error('expected 1000 documents, got ' + n);
`);
function rawValidate() {
  const samples = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [rawScript], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`raw validation failed: ${r.stderr}`);
    if (i > 0) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(samples);
}

async function startServer(dataDir) {
  const env = { ...baseEnv, EMMCTL_DATA_DIR: dataDir };
  const tok = spawnSync(process.execPath, [BIN, 'server', 'token', 'create', '--role', 'admin', '--name', 'bench'], { env, encoding: 'utf8' });
  if (tok.status !== 0) throw new Error(`token create failed: ${tok.stderr}`);
  const { url, child } = await spawnListening([BIN, 'server', '--listen', '127.0.0.1:0', '--no-access-log', '--rate-limit', 'off'], { env });
  return { url, token: tok.stdout.trim().split('\n')[0], stop: () => new Promise((r) => { child.on('exit', r); child.kill('SIGTERM'); }) };
}

try {
  const node = bareNodeStartup();
  const raw = rawValidate();
  report({ name: 'baseline: raw yaml+ajv validation of the 1,000 documents', value: raw, unit: 'ms', baseline: node, baselineName: 'node -e 0' });

  // Embedded: each apply sample on a fresh store; the no-op re-plan on the last one.
  const applies = [];
  let dataDir;
  for (let i = 0; i < RUNS; i++) {
    dataDir = join(work, `data-${i}`);
    applies.push(timed(['apply', 'policies', '--yes'], { EMMCTL_DATA_DIR: dataDir, ...NO_CACHE }));
  }
  const apply = median(applies);
  report({ name: 'embedded: apply 1,000 resources', value: apply, unit: 'ms', baseline: raw, baselineName: 'raw validation', target: { text: '< 3000 ms', ok: (_r, v) => v < 3000 } });
  const replanCold = [];
  for (let i = 0; i < RUNS; i++) replanCold.push(timed(['plan', 'policies', '--detailed-exitcode'], { EMMCTL_DATA_DIR: dataDir, ...NO_CACHE }));
  report({ name: 'embedded: no-op re-plan, cache off', value: median(replanCold), unit: 'ms', baseline: raw, baselineName: 'raw validation', target: { text: '< 1000 ms', ok: (_r, v) => v < 1000 } });
  timed(['plan', 'policies'], { EMMCTL_DATA_DIR: dataDir, ...WITH_CACHE }); // fills the cache
  const replans = [];
  for (let i = 0; i < RUNS; i++) replans.push(timed(['plan', 'policies', '--detailed-exitcode'], { EMMCTL_DATA_DIR: dataDir, ...WITH_CACHE }));
  report({ name: 'embedded: no-op re-plan, files unchanged (cache)', value: median(replans), unit: 'ms', baseline: raw, baselineName: 'raw validation', target: { text: '< 1000 ms', ok: (_r, v) => v < 1000 } });
  const reapplies = [];
  for (let i = 0; i < RUNS; i++) reapplies.push(timed(['apply', 'policies', '--yes'], { EMMCTL_DATA_DIR: dataDir, ...WITH_CACHE }));
  report({ name: 'embedded: no-op re-apply (cache)', value: median(reapplies), unit: 'ms', baseline: raw, baselineName: 'raw validation', target: { text: '< 1000 ms', ok: (_r, v) => v < 1000 } });

  // HTTP: a fresh server per apply sample (server start-up is not timed).
  const httpApplies = [];
  const httpReplans = [];
  const httpReplansCold = [];
  for (let i = 0; i < Math.min(RUNS, 3); i++) {
    const server = await startServer(join(work, `server-${i}`));
    try {
      const env = { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: server.token };
      httpApplies.push(timed(['apply', 'policies', '--yes'], { ...env, ...NO_CACHE }));
      httpReplansCold.push(timed(['plan', 'policies', '--detailed-exitcode'], { ...env, ...NO_CACHE }));
      timed(['plan', 'policies'], { ...env, ...WITH_CACHE });
      httpReplans.push(timed(['plan', 'policies', '--detailed-exitcode'], { ...env, ...WITH_CACHE }));
    } finally {
      await server.stop();
    }
  }
  report({ name: 'http: apply 1,000 resources', value: median(httpApplies), unit: 'ms', baseline: raw, baselineName: 'raw validation', target: { text: '< 3000 ms', ok: (_r, v) => v < 3000 } });
  report({ name: 'http: no-op re-plan, cache off', value: median(httpReplansCold), unit: 'ms', baseline: raw, baselineName: 'raw validation', target: { text: '< 1000 ms', ok: (_r, v) => v < 1000 } });
  report({ name: 'http: no-op re-plan, files unchanged (cache)', value: median(httpReplans), unit: 'ms', baseline: raw, baselineName: 'raw validation', target: { text: '< 1000 ms', ok: (_r, v) => v < 1000 } });
} finally {
  rmSync(work, { recursive: true, force: true });
}
