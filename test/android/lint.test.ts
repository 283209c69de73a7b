// What the policy files ask of Android devices that AMAPI cannot carry: `validate --android` and
// `plan`/`apply` against a server with the Android channel warn per setting, at file:line:col,
// with the compiler's rule ids (src/policy/android.ts). Real YAML files through the built CLI.
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { createApiToken, killAll, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { startFakeAmapi, type FakeAmapi } from './fake-amapi.js';
import { androidServerArgs } from './runtime-helpers.js';

const dir = tempDir('emmctl-android-lint-');
afterAll(() => {
  killAll();
  dir.cleanup();
});
const env = { EMMCTL_CACHE_DIR: join(dir.path, 'cache'), HOME: dir.path, SALES_PSK: 'correct horse battery' };

const repo = join(dir.path, 'policies');
mkdirSync(repo);
const groupsFile = join(repo, 'groups.yaml');
const policiesFile = join(repo, 'policies.yaml');
writeFileSync(groupsFile, `apiVersion: emmctl/v1
kind: Group
metadata: { name: phones }
spec:
  match: { platforms: [android] }
---
apiVersion: emmctl/v1
kind: Group
metadata: { name: sales }
spec:
  match: { labels: { team: sales } }
---
apiVersion: emmctl/v1
kind: Group
metadata: { name: by-owner }
spec:
  match:
    platforms: [android]
    owners: ["*@example.com"]
---
apiVersion: emmctl/v1
kind: Group
metadata: { name: iphones-by-owner }
spec:
  match:
    platforms: [ios]
    owners: ["*@example.com"]
---
apiVersion: emmctl/v1
kind: Group
metadata: { name: macs }
spec:
  match: { platforms: [macos] }
---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata: { name: corp }
spec: { platforms: [android], ownership: corporate, maxUses: 25 }
---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata: { name: byod }
spec: { platforms: [android, ios], ownership: personal, maxUses: 1 }
---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata: { name: mac-lab }
spec: { platforms: [macos], ownership: corporate, maxUses: 40 }
`);
writeFileSync(policiesFile, `apiVersion: emmctl/v1
kind: Policy
metadata: { name: baseline }
spec:
  assign: [all]
  settings:
    passcode: { quality: numeric }
    usbFileTransfer: disabled
    osUpdates:
      mode: windowed
      window: { start: "02:00", end: "04:00", days: [mon, tue, wed, thu, fri] }
---
apiVersion: emmctl/v1
kind: Policy
metadata: { name: phone-length }
spec:
  assign: [phones]
  settings:
    passcode: { minLength: 8 }
---
apiVersion: emmctl/v1
kind: Policy
metadata: { name: sales-apps }
spec:
  assign: [sales]
  settings:
    apps: { required: [com.example.crm, MSTeams] }
    vpn: { alwaysOn: true }
    wifi:
      - { ssid: "Sales\\e[2J", security: wpa3-personal, password: "\${env:SALES_PSK}" }
      - { ssid: Sales-Guest, security: open }
---
apiVersion: emmctl/v1
kind: Policy
metadata: { name: mac-updates }
spec:
  assign: [macs]
  settings:
    osUpdates: { mode: postponed, postponeDays: 10 }
`);

/** `file:line:col` of the first `needle` after `after` in the file (1-based), found without the loader. */
function at(file: string, needle: string, after = ''): string {
  const text = readFileSync(file, 'utf8');
  const from = after ? text.indexOf(after) : 0;
  expect(from, `${after} in ${file}`).toBeGreaterThanOrEqual(0);
  const offset = text.indexOf(needle, from);
  expect(offset, `${needle} in ${file}`).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, offset).split('\n');
  return `${file}:${before.length}:${before.at(-1)!.length + 1}`;
}

interface JsonProblem { file: string; line: number; column: number; path: string; message: string; rule: string; severity: string }

// Every Android warning the repo above must give, in load order: [where, rule, path, message start].
const EXPECTED: Array<[string, string, string, string]> = [
  [at(groupsFile, 'owners', 'name: by-owner'), 'android/unmappable', 'spec.match.owners', 'Group "by-owner": AMAPI has no field for a device\'s owner'],
  [at(groupsFile, '25'), 'android/unmappable', 'spec.maxUses', 'EnrollmentProfile "corp": maxUses 25 is not an Android enrollment token\'s limit: AMAPI\'s tokens are one-time or unlimited'],
  [at(policiesFile, 'disabled'), 'android/management-mode', 'spec.settings.usbFileTransfer', 'Policy "baseline": usbFileTransfer is not applied on personal work-profile Android devices: AMAPI controls USB data access'],
  [at(policiesFile, '[mon, tue'), 'android/unmappable', 'spec.settings.osUpdates.window.days', 'Policy "baseline": osUpdates.window.days is not applied on Android devices: AMAPI\'s maintenance window opens every day'],
  [at(policiesFile, 'MSTeams'), 'android/invalid-value', 'spec.settings.apps.required[1]', 'Policy "sales-apps": apps.required[MSTeams] is not applied on Android devices: "MSTeams" is not an Android package name'],
  [at(policiesFile, 'true', 'alwaysOn'), 'android/invalid-value', 'spec.settings.vpn.alwaysOn', 'Policy "sales-apps": vpn.alwaysOn is not applied on Android devices: AMAPI\'s always-on VPN names the VPN app\'s package, and vpn.app is not set'],
  [at(policiesFile, '{ ssid: "Sales'), 'android/unmappable', 'spec.settings.wifi[0]', 'Policy "sales-apps": wifi[Sales\x1b[2J] is not applied on Android devices: AMAPI\'s Open Network Configuration has no WPA3-Personal (SAE) security'],
];

function expectWarnings(problems: JsonProblem[]): void {
  const android = problems.filter((p) => p.rule.startsWith('android/'));
  expect(android.map((p) => [`${p.file}:${p.line}:${p.column}`, p.rule, p.path, p.severity])).toEqual(EXPECTED.map(([where, rule, path]) => [where, rule, path, 'warning']));
  android.forEach((p, i) => expect(p.message.startsWith(EXPECTED[i]![3]), p.message).toBe(true));
}

/**
 * What the policy cache under `cacheDir` holds for the repo: whether its one entry was made with the
 * Android lint, and the Android warnings in it. A load keeps the warnings it made, so an entry
 * without any is a load that did not work the lint out.
 */
function cachedLint(cacheDir: string): { android: boolean; rules: string[] } {
  const entries = readdirSync(cacheDir).filter((f) => f.endsWith('.json'));
  expect(entries).toHaveLength(1);
  const entry = JSON.parse(readFileSync(join(cacheDir, entries[0]!), 'utf8')) as { android?: boolean; warnings: JsonProblem[] };
  return { android: entry.android === true, rules: entry.warnings.map((w) => w.rule).filter((r) => r.startsWith('android/')) };
}

describe('validate --android', () => {
  it('warns per setting at file:line:col with the rule id, in text and json, cached or not; without --android says nothing of it', async () => {
    for (let round = 0; round < 2; round++) {
      const json = await runCli(['validate', repo, '--android', '-o', 'json'], { env });
      expect(json.code, json.stderr).toBe(0);
      const out = JSON.parse(json.stdout) as { valid: boolean; summary: { warnings: number }; problems: JsonProblem[] };
      expect(out.valid).toBe(true);
      expect(out.summary.warnings).toBe(out.problems.length);
      expectWarnings(out.problems);

      const text = await runCli(['validate', repo, '--android'], { env });
      expect(text.code, text.stderr).toBe(0);
      for (const [where, rule, , message] of EXPECTED.filter(([, , path]) => path !== 'spec.settings.wifi[0]')) {
        expect(text.stderr).toContain(`${where}: warning: ${message}`);
        expect(text.stderr).toContain(`[${rule}]`);
      }
      // The SSID's escape sequence is shown inert on the terminal, exact in json.
      expect(text.stderr).toContain(`${EXPECTED[6]![0]}: warning: Policy "sales-apps": wifi[Sales\\e[2J] is not applied`);
      expect(text.stderr).not.toContain('\x1b[2J');
      expect(text.stderr).toContain(`${EXPECTED.length} warnings`);

      const plain = await runCli(['validate', repo, '-o', 'json'], { env });
      expect(plain.code, plain.stderr).toBe(0);
      expect((JSON.parse(plain.stdout) as { problems: JsonProblem[] }).problems.filter((p) => p.rule.startsWith('android/'))).toEqual([]);
    }
  });

  it('keeps the exit code: 0 with the warnings, -q prints them still, --strict counts them (3) only with --android', async () => {
    const quiet = await runCli(['validate', repo, '--android', '-q'], { env });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toContain('[android/management-mode]');
    expect((await runCli(['validate', repo, '--android', '--strict'], { env })).code).toBe(3);
    const strictOnly = await runCli(['validate', repo, '--strict'], { env });
    expect(strictOnly.code, strictOnly.stderr).toBe(0);
  });

  it('judges the modes the Android profiles give: corporate only → no work-profile finding; no Android profile → both modes', async () => {
    const one = join(dir.path, 'modes');
    mkdirSync(one);
    const file = join(one, 'all.yaml');
    const policy = `apiVersion: emmctl/v1
kind: Policy
metadata: { name: usb }
spec:
  assign: [all]
  settings: { usbFileTransfer: disabled }
`;
    writeFileSync(file, `${policy}---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata: { name: corp }
spec: { platforms: [android], ownership: corporate }
`);
    const corporate = await runCli(['validate', one, '--android', '-o', 'json'], { env });
    expect(corporate.code, corporate.stderr).toBe(0);
    expect((JSON.parse(corporate.stdout) as { problems: JsonProblem[] }).problems).toEqual([]);

    writeFileSync(file, policy);
    const unknown = await runCli(['validate', one, '--android', '-o', 'json'], { env });
    expect(unknown.code, unknown.stderr).toBe(0);
    const problems = (JSON.parse(unknown.stdout) as { problems: JsonProblem[] }).problems;
    expect(problems.map((p) => [`${p.file}:${p.line}:${p.column}`, p.rule, p.message.split(':')[0]])).toEqual([
      [at(file, 'disabled'), 'android/management-mode', 'Policy "usb"'],
    ]);
    expect(problems[0]!.message).toContain('not applied on personal work-profile Android devices');
  });

  it('judges a Policy with what every device it reaches gets too: a quality from another group\'s policy does not count', async () => {
    const two = join(dir.path, 'companions');
    mkdirSync(two);
    const file = join(two, 'all.yaml');
    writeFileSync(file, `apiVersion: emmctl/v1
kind: Group
metadata: { name: phones }
spec: { match: { platforms: [android] } }
---
apiVersion: emmctl/v1
kind: Group
metadata: { name: field }
spec: { match: { labels: { site: field } } }
---
apiVersion: emmctl/v1
kind: Policy
metadata: { name: length }
spec:
  assign: [field]
  settings: { passcode: { minLength: 6 } }
---
apiVersion: emmctl/v1
kind: Policy
metadata: { name: quality }
spec:
  assign: [phones]
  settings: { passcode: { quality: alphanumeric } }
`);
    const r = await runCli(['validate', two, '--android', '-o', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    // Every Android device is in "phones", so "length"'s devices get the quality too: nothing to say.
    expect((JSON.parse(r.stdout) as { problems: JsonProblem[] }).problems).toEqual([]);

    writeFileSync(file, readFileSync(file, 'utf8').replace('match: { platforms: [android] }', 'match: { platforms: [android], labels: { tier: gold } }'));
    const partial = await runCli(['validate', two, '--android', '-o', 'json'], { env });
    expect(partial.code, partial.stderr).toBe(0);
    const problems = (JSON.parse(partial.stdout) as { problems: JsonProblem[] }).problems;
    expect(problems.map((p) => [`${p.file}:${p.line}:${p.column}`, p.rule, p.path])).toEqual([
      [at(file, '6 }'), 'android/unmappable', 'spec.settings.passcode.minLength'],
    ]);
    expect(problems[0]!.message).toBe('Policy "length": passcode.minLength is not applied on Android devices: Android enforces a minimum length only with quality numeric or stronger; set passcode.quality for Android devices');
  });
});

describe('the lint is worked out only when asked', () => {
  it('validate: not without --android (nothing Android in the cache); with it, after a load without it, the warnings are all there', async () => {
    const cacheDir = join(dir.path, 'cache-validate');
    const own = { ...env, EMMCTL_CACHE_DIR: cacheDir };
    const plain = await runCli(['validate', repo, '-o', 'json'], { env: own });
    expect(plain.code, plain.stderr).toBe(0);
    expect((JSON.parse(plain.stdout) as { problems: JsonProblem[] }).problems.filter((p) => p.rule.startsWith('android/'))).toEqual([]);
    expect(cachedLint(cacheDir)).toEqual({ android: false, rules: [] });

    for (let round = 0; round < 2; round++) {
      const asked = await runCli(['validate', repo, '--android', '-o', 'json'], { env: own });
      expect(asked.code, asked.stderr).toBe(0);
      expectWarnings((JSON.parse(asked.stdout) as { problems: JsonProblem[] }).problems);
      expect(cachedLint(cacheDir)).toEqual({ android: true, rules: EXPECTED.map(([, rule]) => rule) });
    }
    // An entry with the lint serves a load without it, which shows none of it.
    const again = await runCli(['validate', repo, '-o', 'json'], { env: own });
    expect((JSON.parse(again.stdout) as { problems: JsonProblem[] }).problems.filter((p) => p.rule.startsWith('android/'))).toEqual([]);
  });

  it('plan: not on the embedded store; against a server with the channel, whether the cache is cold, holds a load without the lint, or one with it', async () => {
    const embeddedCache = join(dir.path, 'cache-embedded');
    const embedded = await runCli(['plan', repo, '--data-dir', join(dir.path, 'lint-local')], { env: { ...env, EMMCTL_CACHE_DIR: embeddedCache } });
    expect(embedded.code, embedded.stderr).toBe(0);
    expect(embedded.stderr).not.toContain('[android/');
    expect(cachedLint(embeddedCache)).toEqual({ android: false, rules: [] });

    const dataDir = join(dir.path, 'lint-served');
    const token = await createApiToken(dataDir, 'admin');
    const fake = await startFakeAmapi({ seed: 6 });
    const server = await startServerProcess(dataDir, androidServerArgs(fake));
    try {
      const coldCache = join(dir.path, 'cache-cold');
      for (const [cacheDir, what] of [[coldCache, 'a cold cache'], [embeddedCache, 'an entry without the lint'], [embeddedCache, 'an entry with it']] as const) {
        const json = await runCli(['plan', repo, '-o', 'json'], { env: { ...env, EMMCTL_CACHE_DIR: cacheDir, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token } });
        expect(json.code, `${what}: ${json.stderr}`).toBe(0);
        const doc = JSON.parse(json.stdout) as { warnings: JsonProblem[] };
        expectWarnings(doc.warnings);
        expect(doc.warnings).toHaveLength(EXPECTED.length);
        expect(cachedLint(cacheDir), what).toEqual({ android: true, rules: EXPECTED.map(([, rule]) => rule) });
      }
    } finally {
      await server.stop();
      await fake.close();
    }
  });
});

describe('plan and apply against a server', () => {
  it('say nothing of Android on the embedded store or a server without the channel; warn (stderr and -o json) on a server with --android-enterprise', async () => {
    const embedded = await runCli(['plan', repo, '--data-dir', join(dir.path, 'local')], { env });
    expect(embedded.code, embedded.stderr).toBe(0);
    expect(embedded.stderr).not.toContain('[android/');

    const dataDir = join(dir.path, 'served');
    const token = await createApiToken(dataDir, 'admin');
    let server: ServerProcess | undefined;
    let fake: FakeAmapi | undefined;
    try {
      server = await startServerProcess(dataDir);
      const bare = await runCli(['plan', repo], { env: { ...env, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token } });
      expect(bare.code, bare.stderr).toBe(0);
      expect(bare.stderr).not.toContain('[android/');
      expect(bare.stdout).toContain('+ create Policy/sales-apps');
      const bareJson = await runCli(['plan', repo, '-o', 'json'], { env: { ...env, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token } });
      expect(bareJson.code, bareJson.stderr).toBe(0);
      expect(JSON.parse(bareJson.stdout)).not.toHaveProperty('warnings');
      await server.stop();

      // The same store served with the Android channel, on the fake Google.
      fake = await startFakeAmapi({ seed: 5 });
      server = await startServerProcess(dataDir, androidServerArgs(fake));
      const target = { ...env, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token };
      const text = await runCli(['plan', repo, '-q'], { env: target });
      expect(text.code, text.stderr).toBe(0);
      for (const [where, rule, , message] of EXPECTED.filter(([, , path]) => path !== 'spec.settings.wifi[0]')) {
        expect(text.stderr).toContain(`${where}: warning: ${message}`);
        expect(text.stderr).toContain(`[${rule}]`);
      }
      expect(text.stderr).not.toContain('\x1b[2J');
      expect(text.stdout).toContain('+ create Policy/sales-apps');

      const json = await runCli(['plan', repo, '-o', 'json'], { env: target });
      expect(json.code, json.stderr).toBe(0);
      const doc = JSON.parse(json.stdout) as { warnings: JsonProblem[]; summary: { create: number } };
      expectWarnings(doc.warnings);
      expect(doc.warnings).toHaveLength(EXPECTED.length);
      expect(doc.summary.create).toBe(12);

      const apply = await runCli(['apply', repo, '--yes'], { env: target });
      expect(apply.code, apply.stderr).toBe(0);
      expect(apply.stderr).toContain(`${EXPECTED[2]![0]}: warning: ${EXPECTED[2]![3]}`);
      expect(fake.schemaErrors).toEqual([]);
    } finally {
      await server?.stop();
      await fake?.close();
    }
  });
});
