// Shared helpers for benchmarks. Every figure is printed with a baseline measured in the
// same run on the same machine, so results compare across machines as ratios.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'emmctl');

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Wall time in ms of `node ...args`, median of `runs` runs after one warm-up. */
export function timeNode(args, { runs = 15, env = {}, cwd = ROOT, input } = {}) {
  const samples = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd, env: { ...process.env, ...env }, input, stdio: ['pipe', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0 && !env.BENCH_ALLOW_FAIL) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (i > 0) samples.push(ms);
  }
  return median(samples);
}

let baselineStartup;
/** Median start-up of bare `node -e 0`, measured once per bench process. */
export function bareNodeStartup() {
  baselineStartup ??= timeNode(['-e', '0'], { runs: 21 });
  return baselineStartup;
}

/** One result line: name, value with unit, ratio to the baseline, target verdict. */
export function report({ name, value, unit, baseline, baselineName, ratio, target }) {
  const r = ratio ?? (baseline ? value / baseline : undefined);
  const parts = [`${name}: ${fmt(value)} ${unit}`];
  if (baseline !== undefined) parts.push(`baseline ${baselineName} ${fmt(baseline)} ${unit}`);
  if (r !== undefined) parts.push(`ratio ${r.toFixed(2)}x`);
  if (target) parts.push(`target ${target.text} → ${target.ok(r, value) ? 'MET' : 'MISSED'}`);
  console.log(parts.join(' | '));
}

function fmt(n) {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/**
 * Starts `node ...args` (an `emmctl server`, or a bare baseline server) that prints
 * `listening on URL` on stderr; resolves with the URL and the child once it does.
 */
export function spawnListening(args, { env = process.env, cwd = ROOT } = {}) {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      const m = /listening on (\S+)\n/.exec(stderr);
      if (m) resolve({ url: m[1], child });
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}:\n${stderr}`)));
  });
}

/**
 * The check-in benchmarks' baseline, as the source of a module to run with node: a bare node:http
 * endpoint that reads and parses the JSON body and answers the agent routes with canned JSON of
 * the same shape (prints `listening on URL` like `emmctl server`).
 */
/** The policy repo both check-in benches apply: one compliance policy, one settings policy, one profile. */
export const CHECKIN_POLICIES = `apiVersion: emmctl/v1
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
`;

export const BARE_CHECKIN_SERVER = `
import { createServer } from 'node:http';
let n = 0;
const checkIn = JSON.stringify({ deviceId: 'dev_bare', configuration: { version: 'cfg_bare_0123456789', settings: { passcode: { required: true, minLength: 6 }, encryption: 'required', camera: 'enabled' } }, commands: [], checkInIntervalSeconds: 900 });
const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    JSON.parse(body);
    const out = req.url === '/v1/agent/enroll' ? JSON.stringify({ deviceId: 'dev_' + ++n, credential: 'cred_' + n, checkInIntervalSeconds: 900 }) : checkIn;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stderr.write('listening on http://127.0.0.1:' + server.address().port + '\\n'));
`;
