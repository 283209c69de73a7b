// Pure functions of src/policy, and the loader in-process (unbundled: ajv compiles at run time).
import { describe, expect, it } from 'vitest';
import { durationMs, isRealDate } from '../../src/policy/checks.js';
import { firstInvalidUtf8, formatBytes } from '../../src/policy/files.js';
import { formatProblemsGithub, formatProblemsText, summaryLine } from '../../src/policy/format.js';
import { loadPolicySet, pathString, resolveSecrets, findSecretRefs } from '../../src/policy/index.js';
import { didYouMean, editDistance } from '../../src/model/suggest.js';
import { colors } from '../../src/output/color.js';
import type { Problem } from '../../src/policy/types.js';

describe('suggestions', () => {
  it('edit distance', () => {
    expect(editDistance('passcod', 'passcode')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
  it('suggests only close candidates', () => {
    expect(didYouMean('passcod', ['passcode', 'screenLock'])).toBe('passcode');
    expect(didYouMean('Camera', ['camera', 'bluetooth'])).toBe('camera');
    expect(didYouMean('wallpaper', ['passcode', 'camera'])).toBeUndefined();
    expect(didYouMean('x', [])).toBeUndefined();
  });
});

describe('values', () => {
  it('durations', () => {
    expect(durationMs('0d')).toBe(0);
    expect(durationMs('1d12h')).toBe(36 * 3_600_000);
    expect(durationMs('90m')).toBe(5_400_000);
    expect(durationMs('3 days')).toBeUndefined();
    expect(durationMs('')).toBeUndefined();
    expect(durationMs('12h3d')).toBeUndefined();
  });
  it('calendar dates', () => {
    expect(isRealDate('2024-02-29')).toBe(true);
    expect(isRealDate('2023-02-29')).toBe(false);
    expect(isRealDate('2024-04-31')).toBe(false);
    expect(isRealDate('2024-4-1')).toBe(false);
  });
  it('UTF-8 scanning finds the first bad byte', () => {
    expect(firstInvalidUtf8(Buffer.from('héllo ✓ 😀'))).toBe(Buffer.from('héllo ✓ 😀').length);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xe9, 0x62]))).toBe(1);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0x80]))).toBe(1); // overlong
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0); // surrogate
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xe2, 0x9c]))).toBe(1); // truncated
  });
  it('sizes', () => {
    expect(formatBytes(1024 * 1024)).toBe('1 MiB');
    expect(formatBytes(1_100_000)).toBe('1.05 MiB');
    expect(formatBytes(2048)).toBe('2 KiB');
    expect(formatBytes(12)).toBe('12 bytes');
  });
  it('paths', () => {
    expect(pathString(['spec', 'assign', 0])).toBe('spec.assign[0]');
    expect(pathString(['spec', 'settings', 'wifi', 1, 'password'])).toBe('spec.settings.wifi[1].password');
    expect(pathString([])).toBe('');
  });
});

describe('secrets', () => {
  const doc = { spec: { settings: { wifi: [{ ssid: 'a', password: '${env:A_PSK}' }, { ssid: 'b', password: '${env:B_PSK}' }], note: 'not ${env:X} inline' } } };
  it('finds references where they sit', () => {
    expect(findSecretRefs(doc)).toEqual([
      { path: ['spec', 'settings', 'wifi', 0, 'password'], name: 'A_PSK' },
      { path: ['spec', 'settings', 'wifi', 1, 'password'], name: 'B_PSK' },
    ]);
  });
  it('resolves set variables, keeps and lists unset or empty ones, never mutates the input', () => {
    const r = resolveSecrets(doc, { A_PSK: 'alpha', B_PSK: '' });
    expect(r.value.spec.settings.wifi[0]!.password).toBe('alpha');
    expect(r.value.spec.settings.wifi[1]!.password).toBe('${env:B_PSK}');
    expect(r.missing).toEqual([{ path: ['spec', 'settings', 'wifi', 1, 'password'], name: 'B_PSK' }]);
    expect(doc.spec.settings.wifi[0]!.password).toBe('${env:A_PSK}');
  });
});

describe('formats', () => {
  const problems: Problem[] = [
    { file: 'a.yaml', line: 3, column: 5, path: 'spec', message: 'bad: 100%\nreally', rule: 'schema/enum', severity: 'error' },
    { file: 'b.yaml', line: 0, column: 0, path: '', message: 'too large', rule: 'io/too-large', severity: 'error' },
    { file: 'b.yaml', line: 2, column: 1, path: 'spec', message: 'meh', rule: 'policy-conflict', severity: 'warning' },
  ];
  it('text groups per file, no colour when off', () => {
    expect(formatProblemsText(problems, colors(false))).toBe(
      // A message is one line: a newline in it (quoted from a file) shows as \n.
      'a.yaml:3:5: error: bad: 100%\\nreally [schema/enum]\n\nb.yaml: error: too large [io/too-large]\nb.yaml:2:1: warning: meh [policy-conflict]\n',
    );
  });
  it('github escapes data and properties', () => {
    expect(formatProblemsGithub(problems)).toBe(
      '::error file=a.yaml,line=3,col=5,title=emmctl schema/enum::bad: 100%25\\nreally\n' +
        '::error file=b.yaml,title=emmctl io/too-large::too large\n' +
        '::warning file=b.yaml,line=2,col=1,title=emmctl policy-conflict::meh\n',
    );
  });
  it('summary', () => {
    expect(summaryLine(problems, { files: 3, documents: 9 })).toBe('2 errors, 1 warning in 2 files (9 documents in 3 files checked)');
    expect(summaryLine([], { files: 1, documents: 1 })).toBe('1 document in 1 file valid');
  });
});

describe('loadPolicySet (in-process)', () => {
  const group = 'apiVersion: emmctl/v1\nkind: Group\nmetadata: { name: phones }\nspec: { match: { platforms: [android] } }\n';
  const policy = 'apiVersion: emmctl/v1\nkind: Policy\nmetadata: { name: p }\nspec:\n  assign: [phones]\n  settings:\n    wifi:\n      - { ssid: corp, security: wpa2-personal, password: "${env:PSK}" }\n';
  it('returns documents with their source and resolved secrets', async () => {
    const r = await loadPolicySet(['-'], { stdin: `${group}---\n${policy}`, env: { PSK: 'pw' }, resolveSecrets: true });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.documents.map((d) => [d.document.kind, d.source])).toEqual([
      ['Group', { file: '-', line: 1, column: 1 }],
      ['Policy', { file: '-', line: 6, column: 1 }],
    ]);
    const p = r.documents[1]!;
    expect((p.resolved as { spec: { settings: { wifi: Array<{ password: string }> } } }).spec.settings.wifi[0]!.password).toBe('pw');
    expect((p.document as { spec: { settings: { wifi: Array<{ password: string }> } } }).spec.settings.wifi[0]!.password).toBe('${env:PSK}');
    expect(p.locate(['spec', 'assign', 0])).toEqual({ file: '-', line: 10, column: 12 });
  });
  it('an unset secret is an error at the reference when resolving', async () => {
    const r = await loadPolicySet(['-'], { stdin: `${group}---\n${policy}`, env: {}, resolveSecrets: true });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([expect.objectContaining({ file: '-', line: 13, column: 58, rule: 'unset-secret', path: 'spec.settings.wifi[0].password' })]);
  });
});
