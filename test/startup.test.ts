// `emmctl --help` and `--version` must stay close to bare Node start-up: the entry chunk may
// not contain the heavy modules; they belong to chunks loaded by the commands that need them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from './helpers/cli.js';

const HEAVY = ['node_modules/axios/', 'node_modules/ajv/', 'node_modules/yaml/', 'node_modules/@inquirer/', 'node_modules/conf/', 'src/store/', 'src/server/', 'src/fleet/'];

describe('start-up', () => {
  it('keeps heavy modules out of the entry chunk', () => {
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'meta.json'), 'utf8')) as {
      outputs: Record<string, { inputs: Record<string, unknown>; entryPoint?: string }>;
    };
    const entry = Object.entries(meta.outputs).find(([, o]) => o.entryPoint === 'src/cli/main.ts');
    expect(entry, 'entry chunk in dist/meta.json').toBeDefined();
    const inputs = Object.keys(entry![1].inputs);
    expect(inputs.some((i) => i.startsWith('src/cli/'))).toBe(true);
    for (const heavy of HEAVY) expect(inputs.filter((i) => i.includes(heavy)), heavy).toEqual([]);
  });

  it('prints help with every command and the exit codes, exit 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: emmctl');
    expect(r.stdout).toContain('Exit codes:');
    expect(r.stderr).toBe('');
  });

  it('prints the package version', async () => {
    const r = await runCli(['--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('rejects an unknown option with exit 2 on stderr', async () => {
    const r = await runCli(['--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });
});
