// emmctl never changes modes through a symlink, and a read never creates or writes config:
// a config.json linked elsewhere is refused (its target keeps its mode and bytes), a config or
// cache folder that is a link is used but its target's mode is left alone, and `context list` /
// `context current` on a missing config dir create nothing.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, dataDirs, runCli } from '../helpers/cli.js';

const fresh = dataDirs('emmctl-cfglink-');
const mode = (p: string) => statSync(p).mode & 0o777;

describe('config and cache behind symlinks', () => {
  it.each([['context', 'list'], ['context', 'current'], ['context', 'use', 'local']])('`%s %s` refuses a config.json that is a link and leaves its target as it was', async (...args) => {
    const out = fresh();
    const victim = join(out, 'victim.json');
    const text = '{"contexts":{}}\n';
    writeFileSync(victim, text);
    chmodSync(victim, 0o644);
    const config = fresh();
    symlinkSync(victim, join(config, 'config.json'));
    const r = await runCli(args, { env: { EMMCTL_CONFIG_DIR: config } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config\.json is a symbolic link/);
    expect(mode(victim)).toBe(0o644);
    expect(readFileSync(victim, 'utf8')).toBe(text);
    expect(lstatSync(join(config, 'config.json')).isSymbolicLink()).toBe(true);
  });

  it('a config dir that is a link is used, but its target folder is never chmodded', async () => {
    const target = fresh();
    chmodSync(target, 0o755);
    const link = join(fresh(), 'cfg');
    symlinkSync(target, link);
    const list = await runCli(['context', 'list', '-o', 'json'], { env: { EMMCTL_CONFIG_DIR: link } });
    expect(list.code, list.stderr).toBe(0);
    expect(mode(target)).toBe(0o755);
    const add = await runCli(['context', 'add', 'prod', '--server', 'https://emm.example.com', '--token-stdin'], { env: { EMMCTL_CONFIG_DIR: link }, input: 'tok-1\n' });
    expect(add.code, add.stderr).toBe(0);
    expect(mode(target)).toBe(0o755);
    expect(mode(join(target, 'config.json'))).toBe(0o600);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('a cache dir that is a link is used, but its target folder is never chmodded', async () => {
    const target = fresh();
    chmodSync(target, 0o755);
    const link = join(fresh(), 'cache');
    symlinkSync(target, link);
    const r = await runCli(['validate', join(ROOT, 'policies')], { env: { EMMCTL_CACHE_DIR: link } });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(target).length).toBeGreaterThan(0); // the cache was written there
    expect(mode(target)).toBe(0o755);
  });

  it.each([['context', 'list'], ['context', 'current']])('`%s %s` on a missing config dir creates nothing', async (...args) => {
    const parent = fresh();
    const config = join(parent, 'emmctl');
    const r = await runCli(args, { env: { EMMCTL_CONFIG_DIR: config } });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(config)).toBe(false);
  });

  it('`context list` on an existing config dir without a file writes no file', async () => {
    const config = fresh();
    mkdirSync(join(config, 'x'));
    const r = await runCli(['context', 'list'], { env: { EMMCTL_CONFIG_DIR: config } });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(config)).toEqual(['x']);
  });
});
