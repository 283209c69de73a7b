// Validate benchmarks (issue 2): start-up of `emmctl --help` and `emmctl validate policies/` as
// ratios to bare `node -e 0`, and validate throughput on 10,000 generated documents as a ratio
// to raw `yaml.parseAllDocuments` on the same files. Both throughput runs are whole child
// processes (start-up, reading the files and all), so the ratio is what a CI job feels.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, bareNodeStartup, report, timeNode } from './lib.mjs';

const DOCS = Number(process.env.BENCH_VALIDATE_DOCS ?? 10_000);
const PER_FILE = 500;

const bare = bareNodeStartup();
report({ name: 'emmctl --help', value: timeNode([BIN, '--help']), unit: 'ms', baseline: bare, baselineName: 'node -e 0', target: { text: '≤1.5x', ok: (r) => r <= 1.5 } });
// Warm: the second run onwards answers the unchanged repo from the policy cache (the usual
// local loop). Cold: --no-cache parses and validates every file (a fresh CI machine).
const cacheDir = mkdtempSync(join(tmpdir(), 'emmctl-bench-cache-'));
try {
  const env = { EMMCTL_CACHE_DIR: cacheDir };
  report({ name: 'emmctl validate policies/ (warm cache)', value: timeNode([BIN, 'validate', 'policies/'], { env }), unit: 'ms', baseline: bare, baselineName: 'node -e 0', target: { text: '≤2.5x', ok: (r) => r <= 2.5 } });
  report({ name: 'emmctl validate policies/ --no-cache', value: timeNode([BIN, 'validate', 'policies/', '--no-cache'], { env }), unit: 'ms', baseline: bare, baselineName: 'node -e 0', target: { text: '≤2.5x', ok: (r) => r <= 2.5 } });
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}

// A realistic mix: groups, policies assigned to them, compliance policies, profiles.
function documentText(i) {
  const g = `group-${Math.floor(i / 4) * 4}`;
  switch (i % 4) {
    case 0:
      return `apiVersion: emmctl/v1\nkind: Group\nmetadata:\n  name: group-${i}\n  description: Devices of team ${i}\n  labels: { team: t${i} }\nspec:\n  match:\n    platforms: [android, ios]\n    ownership: corporate\n    labels: { team: t${i} }\n`;
    case 1:
      return `apiVersion: emmctl/v1\nkind: Policy\nmetadata:\n  name: policy-${i}\nspec:\n  assign: [${g}]\n  priority: ${100 + (i % 50)}\n  settings:\n    passcode: { required: true, minLength: 6, quality: numeric-complex, maxFailedAttempts: 10 }\n    screenLock: { maxTimeoutSeconds: 300 }\n    encryption: required\n    camera: disabled\n    apps:\n      required: [com.microsoft.teams, com.microsoft.office.outlook]\n      blocked: [com.termux]\n`;
    case 2:
      return `apiVersion: emmctl/v1\nkind: CompliancePolicy\nmetadata:\n  name: compliance-${i}\nspec:\n  assign: [${g}]\n  rules:\n    minOsVersion: { android: "13", ios: "17.0" }\n    encryption: required\n    passcode: required\n    compromised: blocked\n    maxCheckInAgeDays: 14\n  actions:\n    - { after: 0d, do: markNoncompliant }\n    - { after: 3d, do: lock }\n    - { after: 30d, do: retire }\n`;
    default:
      return `apiVersion: emmctl/v1\nkind: EnrollmentProfile\nmetadata:\n  name: profile-${i}\nspec:\n  platforms: [android, ios]\n  ownership: corporate\n  labels: { team: t${i - 3} }\n  group: ${g}\n  tokenTtl: 7d\n  maxUses: 100\n`;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'emmctl-bench-validate-'));
try {
  for (let f = 0; f * PER_FILE < DOCS; f++) {
    const docs = [];
    for (let i = f * PER_FILE; i < Math.min(DOCS, (f + 1) * PER_FILE); i++) docs.push(documentText(i));
    writeFileSync(join(dir, `docs-${String(f).padStart(3, '0')}.yaml`), docs.join('---\n'));
  }
  const raw = `
    const { readdirSync, readFileSync } = require('node:fs');
    const { parseAllDocuments } = require(${JSON.stringify(join(ROOT, 'node_modules', 'yaml'))});
    let n = 0;
    for (const f of readdirSync(process.argv[1]).sort()) n += parseAllDocuments(readFileSync(process.argv[1] + '/' + f, 'utf8')).length;
    if (n !== ${DOCS}) throw new Error('parsed ' + n);`;
  const runs = 5;
  const rawMs = timeNode(['-e', raw, dir], { runs });
  const validateMs = timeNode([BIN, 'validate', dir, '--no-cache'], { runs, env: { EMMCTL_CACHE_DIR: '' } });
  const rawRate = DOCS / (rawMs / 1000);
  const validateRate = DOCS / (validateMs / 1000);
  report({ name: `validate ${DOCS} documents`, value: validateRate, unit: 'docs/s', baseline: rawRate, baselineName: 'yaml.parseAllDocuments', target: { text: '≥0.8x', ok: (r) => r >= 0.8 } });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
