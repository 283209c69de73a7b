// `emmctl init` and `emmctl schema`, end to end.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, cliEnv, runCli, tempDir } from '../helpers/cli.js';

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
  it('scaffolds a repo with every kind in policies/, a modeline on every document, the schema and a workflow', async () => {
    const dir = temp();
    const r = await runCli(['init', 'repo'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const repo = join(dir, 'repo');
    expect(readdirSync(repo).sort()).toEqual(['.github', 'emmctl.schema.json', 'policies']);
    expect(readdirSync(join(repo, 'policies')).sort()).toEqual(['compliance.yaml', 'enrollment.yaml', 'groups.yaml', 'policies.yaml']);
    const kinds = new Set<string>();
    let documents = 0;
    for (const f of readdirSync(join(repo, 'policies'))) {
      const text = readFileSync(join(repo, 'policies', f), 'utf8');
      // yaml-language-server checks only the document that carries the modeline: every one must.
      for (const doc of text.split(/^---$/m)) {
        expect(doc.replace(/^\n/, '').split('\n')[0], `${f}: ${doc.slice(0, 60)}`).toBe('# yaml-language-server: $schema=../emmctl.schema.json');
        documents += 1;
      }
      for (const m of text.matchAll(/^kind: (\w+)$/gm)) kinds.add(m[1]!);
    }
    expect(documents).toBe(7);
    expect([...kinds].sort()).toEqual(['CompliancePolicy', 'EnrollmentProfile', 'Group', 'Policy']);
    expect(readFileSync(join(repo, 'emmctl.schema.json'), 'utf8')).toBe(readFileSync(join(ROOT, 'schema', 'emmctl.schema.json'), 'utf8'));
    expect(r.stderr).toMatch(/GitHub runs it only if repo is the repository root; inside a larger repository GitHub ignores repo\/\.github\//);
    expect(r.stderr).toMatch(/Next: .*emmctl validate repo\/policies/);
    const v = await runCli(['validate', 'repo/policies'], { cwd: dir });
    expect(v.stderr).toContain('7 documents in 4 files valid');
    expect(v.code).toBe(0);
  });

  it('emmctl init && emmctl validate: both use the same folder', async () => {
    const dir = temp();
    const init = await runCli(['init'], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toMatch(/Next: edit the files in policies\/, then run  emmctl validate$/m);
    for (const args of [['validate'], ['validate', '-o', 'github'], ['plan', '--data-dir', join(dir, '.data')]]) {
      const v = await runCli(args, { cwd: dir, env: { CORP_WIFI_PSK: 'correct horse battery' } });
      expect(v.code, `${args.join(' ')}: ${v.stderr}`).toBe(0);
    }
  });

  it('the workflow pins the exact emmctl version, reads only, runs on Node 24 with current action majors, and its steps pass', async () => {
    const dir = temp();
    expect((await runCli(['init'], { cwd: dir })).code).toBe(0);
    const text = readFileSync(join(dir, '.github', 'workflows', 'validate-policies.yml'), 'utf8');
    const workflow = parse(text) as any;
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(workflow.permissions).toEqual({ contents: 'read' });
    const job = workflow.jobs.validate;
    expect(job.env.EMMCTL_VERSION).toBe(version);
    expect(job.env.EMMCTL_PACKAGE).toBe(`./emmctl-${version}.tgz`);
    const uses = job.steps.filter((s: any) => s.uses).map((s: any) => s.uses);
    expect(uses).toEqual(['actions/checkout@v6', 'actions/setup-node@v6']);
    expect(job.steps.find((s: any) => s.uses?.startsWith('actions/setup-node')).with['node-version']).toBe(24);
    const runs: string[] = job.steps.filter((s: any) => s.run).map((s: any) => s.run);
    // Nothing runs an unpinned package name.
    for (const run of runs) expect(run).not.toMatch(/npx|emmctl@(?!\d+\.\d+\.\d+)/);
    expect(runs[0]).toBe('npm install --global --no-audit --no-fund "$EMMCTL_PACKAGE"');
    expect(text).toMatch(/ROOT of the repository[\s\S]*GitHub ignores this copy/);
    expect(text).toMatch(/not published on the npm registry/);

    // The steps after the install, run as the job runs them, with the built emmctl on PATH.
    const bin = join(dir, '.bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'emmctl'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin', 'emmctl')}" "$@"\n`, { mode: 0o755 });
    for (const run of runs.slice(1)) {
      const r = spawnSync('sh', ['-ec', run], { cwd: join(dir, job.defaults.run['working-directory']), env: { ...cliEnv(), ...job.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
      expect(r.status, `${run}\n${r.stdout}${r.stderr}`).toBe(0);
    }
    // The version check refuses another version.
    const other = spawnSync('sh', ['-ec', runs[1]!], { cwd: dir, env: { ...cliEnv(), ...job.env, EMMCTL_VERSION: '0.0.1', PATH: `${bin}:${process.env.PATH}` } });
    expect(other.status).not.toBe(0);
  });

  it('refuses to overwrite existing files and writes nothing; --force overwrites', async () => {
    const dir = temp();
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'groups.yaml'), '# mine\n');
    const r = await runCli(['init'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('policies/groups.yaml; nothing was written');
    expect(r.stderr).toContain('--force');
    expect(readdirSync(dir)).toEqual(['policies']);
    expect(readdirSync(join(dir, 'policies'))).toEqual(['groups.yaml']);
    expect(readFileSync(join(dir, 'policies', 'groups.yaml'), 'utf8')).toBe('# mine\n');
    const f = await runCli(['init', '--force'], { cwd: dir });
    expect(f.code).toBe(0);
    expect(readFileSync(join(dir, 'policies', 'groups.yaml'), 'utf8')).toContain('kind: Group');
    expect(statSync(join(dir, 'policies', 'policies.yaml')).isFile()).toBe(true);
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
