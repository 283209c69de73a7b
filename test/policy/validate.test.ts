// `emmctl validate` end to end: the built CLI as a child process on real files in temp dirs.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';

const dirs: Array<() => void> = [];
afterEach(() => {
  while (dirs.length) dirs.pop()!();
});

function sandbox(files: Record<string, string | Buffer>): string {
  const t = tempDir('emmctl-validate-');
  dirs.push(t.cleanup);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(t.path, name)), { recursive: true });
    writeFileSync(join(t.path, name), content);
  }
  return t.path;
}

const GROUP = `apiVersion: emmctl/v1
kind: Group
metadata:
  name: phones
spec:
  match:
    platforms: [android, ios]
`;

const POLICY = `apiVersion: emmctl/v1
kind: Policy
metadata:
  name: phone-baseline
spec:
  assign: [phones]
  settings:
    passcode:
      required: true
      minLength: 6
`;

describe('emmctl validate', () => {
  it('accepts the example repo in policies/ (the default path), exit 0, summary on stderr', async () => {
    const r = await runCli(['validate']);
    expect(r.stderr).toMatch(/✓ \d+ documents in \d+ files valid/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('the example repo covers every kind and every platform of the simulated fleet', async () => {
    const r = await runCli(['validate', 'policies/', '-o', 'json']);
    expect(r.code).toBe(0);
    // Its notify steps reach nobody without a server channel, which validate says.
    const out = JSON.parse(r.stdout) as { valid: boolean; problems: Array<{ rule: string; severity: string }> };
    expect(out.valid).toBe(true);
    expect(new Set(out.problems.map((p) => `${p.severity}:${p.rule}`))).toEqual(new Set(['warning:notify-no-channel']));
    expect(JSON.parse((await runCli(['validate', 'policies/', '--notify-channel', '-o', 'json'])).stdout)).toMatchObject({ valid: true, problems: [] });
    const { parseAllDocuments } = await import('yaml');
    const { readdirSync } = await import('node:fs');
    const docs: Array<{ kind: string; spec: { platforms?: string[]; ownership?: string } }> = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith('.yaml')) docs.push(...parseAllDocuments(readFileSync(join(d, e.name), 'utf8')).map((x) => x.toJS()));
      }
    };
    walk(join(ROOT, 'policies'));
    expect(new Set(docs.map((d) => d.kind))).toEqual(new Set(['Group', 'Policy', 'CompliancePolicy', 'EnrollmentProfile']));
    const profiles = docs.filter((d) => d.kind === 'EnrollmentProfile');
    for (const platform of ['android', 'ios', 'ipados', 'macos', 'windows']) {
      expect(profiles.some((p) => p.spec.platforms!.includes(platform)), platform).toBe(true);
    }
    for (const ownership of ['corporate', 'personal']) expect(profiles.some((p) => p.spec.ownership === ownership)).toBe(true);
  });

  it('reports an unknown field at its key with a did-you-mean, exit 3', async () => {
    const dir = sandbox({ 'p.yaml': `${GROUP}---\n${POLICY.replace('    passcode:', '    passcod:')}` });
    const r = await runCli(['validate', 'p.yaml'], { cwd: dir });
    expect(r.code).toBe(3);
    // GROUP is 7 lines, then `---`: line 8 of the policy is line 16 of the file; the key is indented 4.
    expect(r.stderr).toContain('p.yaml:16:5: error: unknown field "passcod" in spec.settings (did you mean "passcode"?)');
    expect(r.stderr).toMatch(/1 error in 1 file/);
  });

  it('reports each class of schema error at the offending value', async () => {
    const dir = sandbox({
      'bad.yaml': [
        'apiVersion: emmctl/v1', //         1
        'kind: Policy', //                  2
        'metadata:', //                     3
        '  name: Phone_Baseline', //        4  invalid name at col 9
        'spec:', //                         5
        '  assign: [phones]', //            6
        '  settings:', //                   7
        '    encryption: requried', //      8  enum at col 17
        '    screenLock:', //               9
        '      maxTimeoutSeconds: 5', //    10 minimum at col 26
        '    passcode: { minLength: "6" }', // 11 type at col 28
        '---',
        'apiVersion: emmctl/v1', //         13
        'kind: CompliancePolicy', //        14
        'metadata: { name: c }', //         15
        'spec:', //                         16 missing rules → at the key "spec" (16:1)
        '  assign: [all]', //               17
        '  actions:', //                    18
        '    - { after: 3 days, do: lock }', // 19 duration at col 16
        '---',
        'apiVersion: emmctl/v1', //         21
        'kind: Gruop', //                   22 kind at col 7
        'metadata: { name: x }',
        'spec: {}',
        '',
      ].join('\n'),
      'groups.yaml': GROUP,
    });
    const r = await runCli(['validate', '.'], { cwd: dir });
    expect(r.code).toBe(3);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('bad.yaml:'));
    expect(lines).toEqual([
      expect.stringMatching(/^bad\.yaml:4:9: error: invalid name "Phone_Baseline"/),
      expect.stringMatching(/^bad\.yaml:8:17: error: invalid encryption "requried": must be one of required, optional \(did you mean "required"\?\)/),
      expect.stringMatching(/^bad\.yaml:10:26: error: spec\.settings\.screenLock\.maxTimeoutSeconds must be at least 15 \(got 5\)/),
      expect.stringMatching(/^bad\.yaml:11:28: error: spec\.settings\.passcode\.minLength must be a whole number, not the string "6"/),
      expect.stringMatching(/^bad\.yaml:16:1: error: missing required field "rules" in spec/),
      expect.stringMatching(/^bad\.yaml:19:16: error: invalid duration "3 days"/),
      expect.stringMatching(/^bad\.yaml:22:7: error: invalid kind "Gruop": must be one of Group, Policy, CompliancePolicy, EnrollmentProfile/),
    ]);
    // The if/then dispatch on kind adds no noise of its own.
    expect(r.stderr).not.toMatch(/must match "then" schema/);
    expect(r.stderr).toMatch(/7 errors in 1 file \(4 documents in 2 files checked\)/);
  });

  it('reports bad label keys once, list items with the list\'s rule, and a wrong apiVersion', async () => {
    const dir = sandbox({
      'g.yaml': [
        'apiVersion: emmctl/v2', //                                        1:13
        'kind: Group',
        'metadata: { name: g, labels: { "bad key!": x } }', //              3:32
        'spec:',
        '  match:',
        '    platforms: [andriod]', //                                      6:17
        '    owners: ["a@@b"]', //                                          7:14
        '',
      ].join('\n'),
    });
    const r = await runCli(['validate', 'g.yaml'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('g.yaml'))).toEqual([
      'g.yaml:1:13: error: apiVersion must be "emmctl/v1" (got "emmctl/v2") [schema/const]',
      'g.yaml:3:32: error: invalid label key "bad key!": use letters, digits, ".", "_", "/" and "-", at most 63 characters, starting and ending with a letter or digit [schema/property-names]',
      'g.yaml:6:17: error: invalid value "andriod" in platforms: must be one of android, ios, ipados, macos, windows (did you mean "android"?) [schema/enum]',
      'g.yaml:7:14: error: invalid value "a@@b" in spec.match.owners[0]: Owner e-mail patterns: an exact address (`ana@example.com`), a domain (`example.com`) or `*@example.com`. [schema/pattern]',
    ]);
  });

  it('reports unknown group references with a suggestion, duplicates with the first place, and the rest of the cross-file checks', async () => {
    const dir = sandbox({
      'a-groups.yaml': GROUP,
      'b-policies.yaml': [
        'apiVersion: emmctl/v1', //     1
        'kind: Policy', //              2
        'metadata: { name: p1 }', //    3
        'spec:', //                     4
        '  assign: [all, phnoes]', //   5 unknown group at col 17
        '  settings: { camera: disabled }',
        '---',
        'apiVersion: emmctl/v1', //     8
        'kind: Group', //               9
        'metadata:', //                 10
        '  name: phones', //            11 duplicate at col 9
        'spec: { devices: [abc] }', //  12
        '---',
        'apiVersion: emmctl/v1', //     14
        'kind: EnrollmentProfile', //   15
        'metadata: { name: e }', //     16
        'spec: { platforms: [ios], ownership: personal, group: ghost }', // 17 col 55
        '',
      ].join('\n'),
    });
    const r = await runCli(['validate'].concat(['a-groups.yaml', 'b-policies.yaml']), { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('b-policies.yaml:5:17: error: unknown group "phnoes" (did you mean "phones"?)');
    expect(r.stderr).toContain('b-policies.yaml:11:9: error: Group "phones" is declared twice (first at a-groups.yaml:4:9)');
    expect(r.stderr).toContain('b-policies.yaml:17:55: error: unknown group "ghost": declare a Group');
  });

  it('warns about conflicting settings of equal-priority policies (exit 0), fails with --strict', async () => {
    const other = POLICY.replace('phone-baseline', 'phone-extra').replace('minLength: 6', 'minLength: 8');
    const dir = sandbox({ 'g.yaml': GROUP, 'p.yaml': `${POLICY}---\n${other}` });
    const r = await runCli(['validate', '.'], { cwd: dir });
    expect(r.code).toBe(0);
    // The second policy's minLength: line 10 of document 2 = line 21.
    expect(r.stderr).toMatch(/p\.yaml:21:18: warning: Policy "phone-extra" and Policy "phone-baseline" \(p\.yaml:10:18\) both set passcode\.minLength for group "phones" at the same priority: 8 vs 6/);
    const strict = await runCli(['validate', '.', '--strict'], { cwd: dir });
    expect(strict.code).toBe(3);
    const prioritised = sandbox({ 'g.yaml': GROUP, 'p.yaml': `${POLICY}---\n${other.replace('  settings:', '  priority: 150\n  settings:')}` });
    const clean = await runCli(['validate', '.', '--strict'], { cwd: prioritised });
    expect(clean.stderr).not.toContain('warning');
    expect(clean.code).toBe(0);
  });

  it('checks settings that only make sense together', async () => {
    const dir = sandbox({
      'p.yaml': [
        'apiVersion: emmctl/v1',
        'kind: Policy',
        'metadata: { name: p }',
        'spec:',
        '  assign: [all]',
        '  settings:',
        '    vpn: { lockdown: true }', // 7:22
        '    wifi:',
        '      - { ssid: corp, security: wpa2-personal }', // 9:33, the security value
        '    osUpdates: { mode: windowed }', // 10:24
        '---',
        'apiVersion: emmctl/v1',
        'kind: CompliancePolicy',
        'metadata: { name: c }',
        'spec:',
        '  assign: [all]',
        '  rules: { minPatchLevel: "2024-02-30" }', // 17:27
        '  actions:',
        '    - { after: 3d, do: lock }',
        '    - { after: 1d, do: notify }', // 20:16
        '',
      ].join('\n'),
    });
    const r = await runCli(['validate', 'p.yaml'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('p.yaml:7:22: error: vpn lockdown needs "alwaysOn: true"');
    expect(r.stderr).toContain('p.yaml:9:33: error: Wi-Fi "corp" uses wpa2-personal and needs a "password" secret reference');
    expect(r.stderr).toContain('p.yaml:10:24: error: osUpdates mode "windowed" needs a "window"');
    expect(r.stderr).toContain('p.yaml:17:27: error: "2024-02-30" is not a calendar date');
    expect(r.stderr).toContain('p.yaml:20:16: error: actions must be listed in increasing "after" order');
  });

  it('refuses secrets written in the file and reports unset ones only with --env-check', async () => {
    const wifi = (password: string) => `apiVersion: emmctl/v1
kind: Policy
metadata: { name: wifi }
spec:
  assign: [all]
  settings:
    wifi:
      - ssid: corp
        security: wpa2-personal
        password: ${password}
`;
    const plain = sandbox({ 'p.yaml': wifi('hunter22') });
    const r1 = await runCli(['validate', 'p.yaml'], { cwd: plain });
    expect(r1.code).toBe(3);
    expect(r1.stderr).toContain('p.yaml:10:19: error: secrets may not be written in policy files');
    const ref = sandbox({ 'p.yaml': wifi('${env:EMMCTL_TEST_PSK}') });
    expect((await runCli(['validate', 'p.yaml'], { cwd: ref })).code).toBe(0);
    const unset = await runCli(['validate', 'p.yaml', '--env-check'], { cwd: ref });
    expect(unset.code).toBe(3);
    expect(unset.stderr).toContain('p.yaml:10:19: error: secret ${env:EMMCTL_TEST_PSK} is not set');
    const set = await runCli(['validate', 'p.yaml', '--env-check'], { cwd: ref, env: { EMMCTL_TEST_PSK: 's3cret-value' } });
    expect(set.code).toBe(0);
    expect(set.stderr + set.stdout).not.toContain('s3cret-value');
  });

  it('reads stdin for -', async () => {
    const ok = await runCli(['validate', '-'], { input: `${GROUP}---\n${POLICY}` });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain('2 documents in 1 file valid');
    const bad = await runCli(['validate', '-'], { input: POLICY });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('-:6:12: error: unknown group "phones"');
  });

  it('-o json: stable fields on stdout', async () => {
    // A schema error in one document, a reference error in a valid one.
    const dir = sandbox({ 'p.yaml': `${POLICY.replace('minLength: 6', 'minLength: 2')}---\n${POLICY.replace('phone-baseline', 'other')}` });
    const r = await runCli(['validate', '.', '-o', 'json'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.valid).toBe(false);
    expect(out.summary).toEqual({ files: 1, documents: 2, errors: 2, warnings: 0 });
    expect(out.problems).toEqual([
      { file: 'p.yaml', line: 10, column: 18, path: 'spec.settings.passcode.minLength', message: 'spec.settings.passcode.minLength must be at least 4 (got 2)', rule: 'schema/minimum', severity: 'error' },
      { file: 'p.yaml', line: 17, column: 12, path: 'spec.assign[0]', message: 'unknown group "phones": declare a Group with this name or use the built-in "all"', rule: 'unknown-group', severity: 'error' },
    ]);
  });

  it('-o github: workflow annotations on stdout', async () => {
    const dir = sandbox({ 'dir/p,1.yaml': POLICY });
    const r = await runCli(['validate', 'dir', '-o', 'github'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('::error file=dir/p%2C1.yaml,line=6,col=12,title=emmctl unknown-group::unknown group "phones": declare a Group with this name or use the built-in "all"\n');
  });

  it('rejects the report formats on other commands and record formats on validate (exit 2)', async () => {
    const r = await runCli(['validate', '-o', 'csv']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('validate prints text, json or github');
    const other = await runCli(['schema', '-o', 'github']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('-o github is only for `emmctl validate`');
  });

  it('exit 2 for a path that does not exist, or a folder without policy files', async () => {
    const dir = sandbox({ 'empty/readme.txt': 'x' });
    const r = await runCli(['validate', 'nope/'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nope/: no such file or directory');
    const e = await runCli(['validate', 'empty'], { cwd: dir });
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('empty: no policy files (*.yaml, *.yml) in this folder');
    const d = await runCli(['validate'], { cwd: dir });
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('emmctl init');
  });

  it('walks folders recursively, *.yaml and *.yml, skipping dot-folders', async () => {
    const dir = sandbox({ 'a/b/g.yml': GROUP, 'a/p.yaml': POLICY, 'a/.hidden/bad.yaml': 'nope: [', 'a/notes.txt': 'nope: [' });
    const r = await runCli(['validate', 'a'], { cwd: dir });
    expect(r.stderr).toContain('2 documents in 2 files valid');
    expect(r.code).toBe(0);
  });
});

describe('YAML hardening', () => {
  it('a billion-laughs file fails fast with a clear error', async () => {
    // 9 levels of 9 aliases each: 9^9 (≈387 million) strings if expanded.
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    const names = 'abcdefghij';
    for (let i = 1; i < names.length; i++) levels.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(',')}]`);
    const dir = sandbox({ 'bomb.yaml': `${levels.join('\n')}\n---\n${GROUP}` });
    const r = await runCli(['validate', 'bomb.yaml'], { cwd: dir, timeoutMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('bomb.yaml:1:1: error: too many alias expansions (limit 100 per document)');
    // The document after the bomb was still read and checked.
    expect(r.stderr).toContain('1 error in 1 file (2 documents in 1 file checked)');
  });

  it('duplicate keys are errors at the second key', async () => {
    const dir = sandbox({ 'dup.yaml': 'apiVersion: emmctl/v1\nkind: Group\nmetadata:\n  name: g\n  name: h\nspec: { match: { ownership: personal } }\n' });
    const r = await runCli(['validate', 'dup.yaml'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('dup.yaml:5:3: error: duplicate key "name"');
  });

  it('non-UTF-8 input gets a clear error at the first bad byte', async () => {
    const bytes = Buffer.concat([Buffer.from('apiVersion: emmctl/v1\nkind: Group\nmetadata: { name: g, description: "caf'), Buffer.from([0xe9]), Buffer.from('" }\nspec: { match: { ownership: personal } }\n')]);
    const dir = sandbox({ 'latin1.yaml': bytes, 'utf16.yaml': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a: b', 'utf16le')]) });
    const r = await runCli(['validate', '.'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('latin1.yaml:3:39: error: file is not valid UTF-8 (byte 0xe9');
    expect(r.stderr).toContain('utf16.yaml:1:1: error: file is UTF-16 encoded');
  });

  it('refuses a file over 1 MiB without parsing it', async () => {
    const big = `# ${'x'.repeat(1024 * 1024)}\n${GROUP}`;
    const dir = sandbox({ 'big.yaml': big, 'ok.yaml': GROUP.replace('phones', 'other') });
    const r = await runCli(['validate', '.'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/big\.yaml: error: file is too large \(1\.00 MiB; the limit is 1 MiB\)/);
    // The other file was still checked.
    expect(r.stderr).toMatch(/1 error in 1 file/);
  });

  it('absurdly deep nesting is an error, not a crash', async () => {
    const dir = sandbox({ 'deep.yaml': `a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n` });
    const r = await runCli(['validate', 'deep.yaml'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/deep\.yaml:1:\d+: error: nesting is too deep to read/);
  });

  it('a syntax error is reported where it is, and other documents are still checked', async () => {
    const dir = sandbox({ 's.yaml': `${GROUP}---\napiVersion: emmctl/v1\nkind: [Group\n` });
    const r = await runCli(['validate', 's.yaml'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/s\.yaml:\d+:\d+: error: YAML syntax error/);
  });
});

describe('cache of clean loads', () => {
  it('an unchanged valid set is answered from the cache; any change or doubt goes through the full load', async () => {
    const cache = tempDir('emmctl-cache-');
    dirs.push(cache.cleanup);
    const env = { EMMCTL_CACHE_DIR: cache.path };
    const wifi = POLICY.replace('    passcode:\n      required: true\n      minLength: 6\n', '    wifi:\n      - { ssid: corp, security: wpa2-personal, password: "${env:EMMCTL_T_PSK}" }\n');
    const dir = sandbox({ 'g.yaml': GROUP, 'p.yaml': wifi });
    const first = await runCli(['validate', '.'], { cwd: dir, env });
    expect(first.code).toBe(0);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(cache.path).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    const second = await runCli(['validate', '.'], { cwd: dir, env });
    expect(second.code).toBe(0);
    expect(second.stderr).toBe(first.stderr);
    // A secret that is unset is reported at its place even though the set is cached.
    const envCheck = await runCli(['validate', '.', '--env-check'], { cwd: dir, env });
    expect(envCheck.code).toBe(3);
    expect(envCheck.stderr).toContain('p.yaml:9:58: error: secret ${env:EMMCTL_T_PSK} is not set');
    // A changed file is loaded again.
    writeFileSync(join(dir, 'g.yaml'), GROUP.replace('phones', 'tablets'));
    const changed = await runCli(['validate', '.'], { cwd: dir, env });
    expect(changed.code).toBe(3);
    expect(changed.stderr).toContain('p.yaml:6:12: error: unknown group "phones"');
  });
});

describe('colour', () => {
  const bad = 'apiVersion: emmctl/v1\nkind: Group\nmetadata: { name: Bad }\nspec: { devices: [a] }\n';
  it('only when forced or on a terminal, never with NO_COLOR or --no-color', async () => {
    const dir = sandbox({ 'g.yaml': bad });
    const plain = await runCli(['validate', 'g.yaml'], { cwd: dir });
    expect(plain.stderr).not.toContain('\u001b[');
    const forced = await runCli(['validate', 'g.yaml'], { cwd: dir, env: { FORCE_COLOR: '1' } });
    expect(forced.stderr).toContain('\u001b[31merror:\u001b[39m');
    const noColor = await runCli(['validate', 'g.yaml'], { cwd: dir, env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(noColor.stderr).not.toContain('\u001b[');
    const flag = await runCli(['validate', 'g.yaml', '--no-color'], { cwd: dir, env: { FORCE_COLOR: '1' } });
    expect(flag.stderr).not.toContain('\u001b[');
    expect(flag.code).toBe(3);
  });
});
