// export end to end: the backend's state back to policy files that plan as no change.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sandbox, SECRET, type Sandbox } from '../plan/fixtures.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = sandbox();
  const r = await sb.cli(['apply', '--yes']);
  expect(r.code, r.stderr).toBe(0);
});
afterEach(() => sb.cleanup());

// export writes back the reference the secret was applied from; the sandbox sets CORP_WIFI_PSK.
const EXPORTED_SECRET_ENV = {};

describe('emmctl export', () => {
  it('round-trips: export --dir, then plan of that dir reports no changes', async () => {
    const r = await sb.cli(['export', '--dir', 'exported']);
    expect(r.code, r.stderr).toBe(0);
    const dir = join(sb.root, 'exported');
    expect(readdirSync(dir).sort()).toEqual(['compliance-policies.yaml', 'emmctl.schema.json', 'enrollment-profiles.yaml', 'groups.yaml', 'policies.yaml']);
    const text = readFileSync(join(dir, 'policies.yaml'), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./emmctl.schema.json');
    expect(text).not.toContain(SECRET);
    expect(text).toContain('password: ${env:CORP_WIFI_PSK}');
    expect(text).not.toContain('POLICY_ANDROID_BASELINE_WIFI_0_PASSWORD');
    expect(r.stderr).not.toContain('POLICY_ANDROID_BASELINE_WIFI_0_PASSWORD');
    const valid = await sb.cli(['validate', 'exported', '--env-check'], { env: EXPORTED_SECRET_ENV });
    expect(valid.code, valid.stderr).toBe(0);
    const plan = await sb.cli(['plan', 'exported', '--prune', '--detailed-exitcode'], { env: EXPORTED_SECRET_ENV });
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^No changes\./);
  });

  it('the exported files plan against a fresh store as the same resources', async () => {
    expect((await sb.cli(['export', '--dir', 'exported'])).code).toBe(0);
    const fresh = await sb.cli(['plan', 'exported', '-o', 'json'], { env: { ...EXPORTED_SECRET_ENV, EMMCTL_DATA_DIR: join(sb.root, 'fresh') } });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout).summary).toMatchObject({ create: 5, update: 0, delete: 0 });
  });

  it('refuses to overwrite files unless --force, writing nothing', async () => {
    sb.write('policies/groups.yaml', '# mine\n');
    const r = await sb.cli(['export', '--dir', 'policies']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('refusing to overwrite');
    expect(r.stderr).toContain('--force');
    expect(readFileSync(join(sb.policyDir, 'groups.yaml'), 'utf8')).toBe('# mine\n');
    expect(existsSync(join(sb.policyDir, 'enrollment-profiles.yaml'))).toBe(false);
    const forced = await sb.cli(['export', '--dir', 'policies', '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(sb.policyDir, 'groups.yaml'), 'utf8')).toContain('name: corp-android');
  });

  it('prints a multi-document YAML stream without --dir', async () => {
    const r = await sb.cli(['export']);
    expect(r.code).toBe(0);
    const docs = r.stdout.split(/^---$/m);
    expect(docs).toHaveLength(5);
    expect(r.stdout).toMatch(/^# yaml-language-server: /);
    expect(r.stdout.indexOf('kind: Group')).toBeLessThan(r.stdout.indexOf('kind: Policy'));
    expect(r.stdout).not.toContain(SECRET);
    // The stream is itself a valid policy file.
    sb.write('stream.yaml', r.stdout);
    const plan = await sb.cli(['plan', 'stream.yaml', '--prune', '--detailed-exitcode'], { env: EXPORTED_SECRET_ENV });
    expect(plan.code, plan.stderr).toBe(0);
  });
});
