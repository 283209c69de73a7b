// `emmctl init` and `emmctl schema`, end to end.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';

const dirs: Array<() => void> = [];
afterEach(() => {
  while (dirs.length) dirs.pop()!();
});
function temp(): string {
  const t = tempDir('emmctl-init-');
  dirs.push(t.cleanup);
  return t.path;
}

describe('emmctl init', () => {
  it('scaffolds a repo with every kind, the modeline, the schema and a workflow, which validates', async () => {
    const dir = temp();
    const r = await runCli(['init', 'repo'], { cwd: dir });
    expect(r.code).toBe(0);
    const repo = join(dir, 'repo');
    expect(readdirSync(repo).sort()).toEqual(['.github', 'compliance.yaml', 'emmctl.schema.json', 'enrollment.yaml', 'groups.yaml', 'policies.yaml']);
    const kinds = new Set<string>();
    for (const f of ['groups.yaml', 'policies.yaml', 'compliance.yaml', 'enrollment.yaml']) {
      const text = readFileSync(join(repo, f), 'utf8');
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./emmctl.schema.json');
      for (const m of text.matchAll(/^kind: (\w+)$/gm)) kinds.add(m[1]!);
    }
    expect([...kinds].sort()).toEqual(['CompliancePolicy', 'EnrollmentProfile', 'Group', 'Policy']);
    expect(readFileSync(join(repo, 'emmctl.schema.json'), 'utf8')).toBe(readFileSync(join(ROOT, 'schema', 'emmctl.schema.json'), 'utf8'));
    const workflow = readFileSync(join(repo, '.github', 'workflows', 'validate-policies.yml'), 'utf8');
    expect(workflow).toContain('emmctl validate . -o github');
    const v = await runCli(['validate', 'repo'], { cwd: dir });
    expect(v.stderr).toContain('7 documents in 4 files valid');
    expect(v.code).toBe(0);
  });

  it('refuses to overwrite existing files and writes nothing; --force overwrites', async () => {
    const dir = temp();
    writeFileSync(join(dir, 'groups.yaml'), '# mine\n');
    const r = await runCli(['init'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('groups.yaml; nothing was written');
    expect(r.stderr).toContain('--force');
    expect(readdirSync(dir)).toEqual(['groups.yaml']);
    expect(readFileSync(join(dir, 'groups.yaml'), 'utf8')).toBe('# mine\n');
    const f = await runCli(['init', '--force'], { cwd: dir });
    expect(f.code).toBe(0);
    expect(readFileSync(join(dir, 'groups.yaml'), 'utf8')).toContain('kind: Group');
    expect(statSync(join(dir, 'policies.yaml')).isFile()).toBe(true);
  });

  it('refuses a target that is a file', async () => {
    const dir = temp();
    writeFileSync(join(dir, 'x'), '');
    const r = await runCli(['init', 'x'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('x exists and is not a folder');
  });
});

describe('emmctl schema', () => {
  it('prints schema/emmctl.schema.json byte for byte', async () => {
    const r = await runCli(['schema']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'schema', 'emmctl.schema.json'), 'utf8'));
    expect(JSON.parse(r.stdout).$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });
});
