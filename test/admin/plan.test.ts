// plan end to end: the built CLI against the embedded store in a temp dir.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUPS, policies, sandbox, SECRET, type Sandbox } from '../plan/fixtures.js';

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

describe('emmctl plan', () => {
  it('plans creates in reference order, then nothing once applied', async () => {
    const first = await sb.cli(['plan', '--detailed-exitcode']);
    expect(first.stderr).not.toContain('error');
    expect(first.code).toBe(4);
    expect(first.stdout).toBe(
      [
        '+ create Group/all-managed',
        '+ create Group/corp-android',
        '+ create EnrollmentProfile/corp',
        '+ create Policy/android-baseline',
        '+ create CompliancePolicy/baseline-compliance',
        '',
        'Plan: 5 to create, 0 to update, 0 to delete.',
        '',
      ].join('\n'),
    );
    const applied = await sb.cli(['apply', '--yes']);
    expect(applied.code).toBe(0);
    const again = await sb.cli(['plan', 'policies/', '--detailed-exitcode']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^No changes\./);
  });

  it('shows a field-level diff for an update', async () => {
    expect((await sb.cli(['apply', '--yes'])).code).toBe(0);
    sb.write('policies/policies.yaml', policies(8));
    const r = await sb.cli(['plan', '--detailed-exitcode']);
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('~ update Policy/android-baseline\n  ~ spec.settings.passcode.minLength: 6 → 8\n');
    expect(r.stdout).toContain('Plan: 0 to create, 1 to update, 0 to delete.');
    expect(r.stdout).not.toContain('\u001b['); // no colour when piped
  });

  it('without --detailed-exitcode a plan with changes exits 0', async () => {
    const r = await sb.cli(['plan']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('5 to create');
  });

  it('prints the plan as data with -o json, secrets masked', async () => {
    const r = await sb.cli(['plan', '-o', 'json']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.format).toBe('emmctl.plan/v2');
    expect(plan.backend).toEqual({ kind: 'embedded', location: sb.env.EMMCTL_DATA_DIR, storeId: expect.stringMatching(/^st_[0-9a-f]{24}$/) });
    expect(plan.summary).toMatchObject({ create: 5, update: 0, delete: 0 });
    expect(plan.changes.map((c: { op: string; kind: string; name: string }) => `${c.op} ${c.kind}/${c.name}`)[0]).toBe('create Group/all-managed');
    expect(plan.desiredDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).toContain('(sensitive)');
  });

  it('never prints a secret, even when only the secret changed', async () => {
    expect((await sb.cli(['apply', '--yes'])).code).toBe(0);
    const r = await sb.cli(['plan', '--detailed-exitcode'], { env: { CORP_WIFI_PSK: 'a-new-secret-value' } });
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('~ update Policy/android-baseline\n  ~ spec.settings.wifi[0].password: "(sensitive)" → "(sensitive)"');
    const all = r.stdout + r.stderr;
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('a-new-secret-value');
    const json = await sb.cli(['plan', '-o', 'yaml'], { env: { CORP_WIFI_PSK: 'a-new-secret-value' } });
    expect(json.stdout).not.toContain('a-new-secret-value');
    expect(json.stdout).not.toContain(SECRET);
  });

  it('names file:line:col when a secret is not set, and plans nothing', async () => {
    const r = await sb.cli(['plan'], { env: { CORP_WIFI_PSK: undefined } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('policies/policies.yaml:12:19');
    expect(r.stderr).toContain('CORP_WIFI_PSK');
    expect(r.stdout).toBe('');
  });

  it('rejects invalid files with the problems and exit 3', async () => {
    sb.write('policies/bad.yaml', 'apiVersion: emmctl/v1\nkind: Group\nmetadata: { name: Bad_Name }\nspec: {}\n');
    const r = await sb.cli(['plan']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/policies\/bad\.yaml:3:\d+: .*name/);
    expect(r.stdout).toBe('');
  });

  it('saves a plan owner-only, with secret references, never values', async () => {
    const r = await sb.cli(['plan', '--out', 'release.plan']);
    expect(r.code).toBe(0);
    const path = join(sb.root, 'release.plan');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(SECRET);
    expect(text).toContain('${env:CORP_WIFI_PSK}');
    const saved = JSON.parse(text);
    expect(saved.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(saved.changes).toHaveLength(5);
  });

  it('re-plans unchanged files from the cache, and still reports problems precisely', async () => {
    expect((await sb.cli(['apply', '--yes'])).code).toBe(0);
    const cacheDir = sb.env.EMMCTL_CACHE_DIR!;
    const entries = readdirSync(cacheDir);
    expect(entries).toHaveLength(1);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    for (const e of entries) expect(readFileSync(join(cacheDir, e), 'utf8')).not.toContain(SECRET);
    expect((await sb.cli(['plan', '--detailed-exitcode'])).code).toBe(0);
    // A cached file whose secret is now missing: the full loader reports where.
    const missing = await sb.cli(['plan'], { env: { CORP_WIFI_PSK: undefined } });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('policies/policies.yaml:12:19');
    // A cached file whose group disappeared from another file: a reference problem, not a stale answer.
    sb.write('policies/groups.yaml', 'apiVersion: emmctl/v1\nkind: Group\nmetadata: { name: all-managed }\nspec: { match: { platforms: [ios] } }\n');
    const broken = await sb.cli(['plan']);
    expect(broken.code).toBe(3);
    expect(broken.stderr).toMatch(/policies\/policies\.yaml:\d+:\d+: .*corp-android/);
    // A corrupt cache entry is ignored.
    for (const e of readdirSync(cacheDir)) sb.write(`cache/${e}`, '{not json');
    sb.write('policies/groups.yaml', GROUPS);
    expect((await sb.cli(['plan', '--detailed-exitcode'])).code).toBe(0);
  });
});

describe('emmctl plan paths', () => {
  it('says which path is missing, with exit 2', async () => {
    const sb2 = sandbox();
    try {
      const r = await sb2.cli(['plan', 'nope/', 'policies/']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('no such file or directory: nope/');
      const { rmSync } = await import('node:fs');
      rmSync(sb2.policyDir, { recursive: true });
      const d = await sb2.cli(['plan']);
      expect(d.code).toBe(2);
      expect(d.stderr).toContain('policies/');
    } finally {
      sb2.cleanup();
    }
  });
});
