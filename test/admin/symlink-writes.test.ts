// Writes never follow planted symlinks: links planted at the old predictable temp names
// (`FILE.tmp-<pid>`), at target names and at folder names under DIR must not carry a single byte
// outside. Every writer: the shared atomic writer, plan --out, export --dir, init, the
// simulator's state, the config file.
import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkInside, writeFileAtomic, writeFilesAtomic } from '../../src/atomic-file.js';
import { BIN, ROOT, cliEnv, dataDirs, runCli, type CliResult } from '../helpers/cli.js';

const fresh = dataDirs('emmctl-symlink-');

/** A folder standing for "outside": files the attacker wants overwritten, and a place for new ones. */
function outside(content = 'precious\n'): { dir: string; victim: string; untouched(): void } {
  const dir = fresh();
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, content);
  return {
    dir,
    victim,
    untouched() {
      expect(readFileSync(victim, 'utf8')).toBe(content);
      expect(readdirSync(dir)).toEqual(['victim.txt']);
    },
  };
}

/**
 * Runs the built CLI and, the moment its pid is known (long before it writes anything), plants
 * links at `NAME.tmp-<pid>` for every name in `targets`: the temp names the old writer used.
 */
function runPlanting(args: string[], targets: string[], to: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    for (const t of targets) symlinkSync(to, `${t}.tmp-${child.pid}`);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end('');
  });
}

const POLICY = `apiVersion: emmctl/v1
kind: Group
metadata:
  name: phones
spec:
  match:
    platforms: [android]
---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata:
  name: corp
spec:
  platforms: [android]
  ownership: corporate
  group: phones
`;

describe('the shared atomic writer', () => {
  it('does not write through a link at the old temp name FILE.tmp-<pid>, and leaves no temp behind', () => {
    const out = outside();
    const dir = fresh();
    const target = join(dir, 'file.json');
    symlinkSync(out.victim, `${target}.tmp-${process.pid}`);
    writeFileAtomic(target, 'new\n', { mode: 0o600 });
    out.untouched();
    expect(readFileSync(target, 'utf8')).toBe('new\n');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['file.json', `file.json.tmp-${process.pid}`]);
  });

  it('replaces a link at the target instead of writing through it', () => {
    const out = outside();
    const dir = fresh();
    const target = join(dir, 'plan.json');
    symlinkSync(out.victim, target);
    writeFileAtomic(target, 'new\n');
    out.untouched();
    expect(lstatSync(target).isSymbolicLink()).toBe(false);
    expect(readFileSync(target, 'utf8')).toBe('new\n');
  });

  it('temp names are random; a failed temp write replaces no target and leaves no temp file', () => {
    const dir = fresh();
    const target = join(dir, 'f');
    writeFileSync(target, 'old');
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) {
      let message = '';
      try {
        writeFilesAtomic([{ path: target, data: 'new' }, { path: join(dir, 'missing', 'g'), data: 'new' }]);
      } catch (error) {
        message = (error as Error).message;
      }
      const name = /'([^']*\/missing\/g\.tmp-[^']*)'/.exec(message)?.[1];
      expect(name, message).toMatch(/\.tmp-[0-9a-f]{24}$/);
      names.add(name!);
    }
    expect(names.size).toBe(5);
    expect(readFileSync(target, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('checkInside refuses a link at the target or at a folder below the root', () => {
    const out = outside();
    const root = fresh();
    symlinkSync(out.dir, join(root, 'sub'));
    expect(() => checkInside(root, join(root, 'sub', 'x.yaml'))).toThrow(/sub is a symbolic link/);
    symlinkSync(join(out.dir, 'missing'), join(root, 'dangling.yaml'));
    expect(() => checkInside(root, join(root, 'dangling.yaml'))).toThrow(/symbolic link/);
    expect(checkInside(root, join(root, 'new.yaml'))).toBe(false);
  });
});

describe('plan --out', () => {
  it('links at the old temp name and at the target do not carry the plan outside', async () => {
    const out = outside();
    const dir = fresh();
    writeFileSync(join(dir, 'fleet.yaml'), POLICY);
    const plan = join(dir, 'plan.json');
    const r = await runPlanting(['plan', join(dir, 'fleet.yaml'), '--out', plan, '--data-dir', join(dir, 'data')], [plan], out.victim);
    expect(r.code, r.stderr).toBe(0);
    out.untouched();
    expect(JSON.parse(readFileSync(plan, 'utf8'))).toBeTypeOf('object');
    expect(statSync(plan).mode & 0o777).toBe(0o600);

    symlinkSync(join(out.dir, 'new-plan.json'), join(dir, 'linked-plan.json'));
    const again = await runCli(['plan', join(dir, 'fleet.yaml'), '--out', join(dir, 'linked-plan.json'), '--data-dir', join(dir, 'data')]);
    expect(again.code, again.stderr).toBe(0);
    out.untouched();
    expect(lstatSync(join(dir, 'linked-plan.json')).isFile()).toBe(true);
  });
});

describe('export --dir', () => {
  let data: string;
  beforeAll(async () => {
    data = join(fresh(), 'data');
    const policy = join(fresh(), 'fleet.yaml');
    writeFileSync(policy, POLICY);
    const r = await runCli(['apply', policy, '--yes', '--data-dir', data]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('links planted at the old temp names do not receive the export', async () => {
    const out = outside();
    const dir = fresh();
    const targets = ['groups.yaml', 'enrollment-profiles.yaml'].map((f) => join(dir, f));
    const r = await runPlanting(['export', '--dir', dir, '--data-dir', data], targets, out.victim);
    expect(r.code, r.stderr).toBe(0);
    out.untouched();
    for (const t of targets) expect(readFileSync(t, 'utf8')).toMatch(/apiVersion: emmctl\/v1/);
  });

  it('a link at a target name is refused, with --force too, and nothing is written', async () => {
    for (const dangling of [false, true]) {
      const out = outside();
      const dir = fresh();
      symlinkSync(dangling ? join(out.dir, 'new.yaml') : out.victim, join(dir, 'groups.yaml'));
      const r = await runCli(['export', '--dir', dir, '--force', '--data-dir', data]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/groups\.yaml is a symbolic link.*nothing was written/);
      out.untouched();
      expect(readdirSync(dir)).toEqual(['groups.yaml']);
    }
  });
});

describe('init', () => {
  it('a .github link under DIR is refused and nothing is created outside', async () => {
    const out = outside();
    const dir = fresh();
    symlinkSync(out.dir, join(dir, '.github'));
    const r = await runCli(['init', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\.github is a symbolic link/);
    out.untouched();
    expect(readdirSync(dir)).toEqual(['.github']);
  });

  it('a link at the policies folder or at a scaffold file name is refused with --force as well', async () => {
    for (const [link, to] of [['policies', 'dir'], ['policies/groups.yaml', 'victim']] as const) {
      const out = outside();
      const dir = fresh();
      if (link.includes('/')) mkdirSync(join(dir, 'policies'));
      symlinkSync(to === 'dir' ? out.dir : out.victim, join(dir, link));
      const r = await runCli(['init', dir, '--force']);
      expect(r.code, link).toBe(2);
      expect(r.stderr).toMatch(/is a symbolic link/);
      out.untouched();
      expect(readdirSync(dir)).toEqual(['policies']);
    }
  });
});

describe('simulator state and config', () => {
  it('the simulator state is not written through a link at its old temp name', async () => {
    const out = outside();
    const dir = fresh();
    const policy = join(dir, 'fleet.yaml');
    writeFileSync(policy, POLICY);
    const dataDir = join(dir, 'data');
    expect((await runCli(['apply', policy, '--yes', '--data-dir', dataDir])).code).toBe(0);
    const state = join(dir, 'state.json');
    const r = await runPlanting(['simulate', '--devices', '3', '--once', '--seed', '1', '--data-dir', dataDir, '--state', state, '-o', 'json'], [state], out.victim);
    expect(r.code, r.stderr).toBe(0);
    out.untouched();
    expect(JSON.parse(readFileSync(state, 'utf8'))).toMatchObject({ version: 1 });
    expect(statSync(state).mode & 0o777).toBe(0o600);
  });

  it('a config.json link does not receive the tokens: it is refused and its target left as it was', async () => {
    const out = outside('{}\n');
    const config = fresh();
    symlinkSync(out.victim, join(config, 'config.json'));
    const r = await runCli(['context', 'add', 'prod', '--server', 'https://emm.example.com', '--token-stdin'], { env: { EMMCTL_CONFIG_DIR: config }, input: 'secret-token-123\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is a symbolic link/);
    out.untouched();
    expect(lstatSync(join(config, 'config.json')).isSymbolicLink()).toBe(true);
    expect(readdirSync(config)).toEqual(['config.json']);
  });
  it('the store never opens its database or journal through a planted link', async () => {
    const policy = join(ROOT, 'policies');
    for (const name of ['emmctl.db', 'emmctl.db-wal', 'emmctl.db-journal']) {
      const out = outside('');
      const dataDir = fresh();
      symlinkSync(out.victim, join(dataDir, name));
      const r = await runCli(['apply', policy, '--yes', '--data-dir', dataDir]);
      expect(r.code, name).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`${name.replace(/[.-]/g, '\\$&')} is a symbolic link; emmctl never opens its store through one`));
      out.untouched();
      expect(statSync(out.victim).mode & 0o777, name).not.toBe(0o600);
    }
  });
});
