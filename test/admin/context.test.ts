// contexts end to end: conf-backed config in EMMCTL_CONFIG_DIR, tokens from stdin only, and
// the precedence flags > EMMCTL_* > current context.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sandbox, type Sandbox } from '../plan/fixtures.js';

const TOKEN = 'emm_at_test-token-never-printed-1234';
let sb: Sandbox;
beforeEach(() => {
  // No EMMCTL_DATA_DIR: it would rightly override the context under test.
  sb = sandbox();
  delete (sb.env as Record<string, string | undefined>).EMMCTL_DATA_DIR;
});
afterEach(() => sb.cleanup());

const configFile = () => join(sb.env.EMMCTL_CONFIG_DIR!, 'config.json');

describe('emmctl context', () => {
  it('starts with the built-in local context', async () => {
    const r = await sb.cli(['context', 'list', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ name: 'local', backend: 'embedded', token: 'none', current: true }]);
    const cur = await sb.cli(['context', 'current']);
    expect(cur.stdout).toBe('local\n');
  });

  it('adds a server context with the token from stdin, never printing it; file and dir owner-only', async () => {
    const add = await sb.cli(['context', 'add', 'prod', '--server', 'http://127.0.0.1:9/', '--token-stdin'], { input: `${TOKEN}\n` });
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout + add.stderr).not.toContain(TOKEN);
    expect(statSync(configFile()).mode & 0o777).toBe(0o600);
    expect(statSync(sb.env.EMMCTL_CONFIG_DIR!).mode & 0o777).toBe(0o700);
    expect(readFileSync(configFile(), 'utf8')).toContain(TOKEN);
    const list = await sb.cli(['context', 'list']);
    expect(list.stdout).not.toContain(TOKEN);
    expect(list.stdout).toMatch(/prod\s+http\s+http:\/\/127\.0\.0\.1:9\s+set/);
    const json = await sb.cli(['context', 'list', '-o', 'json']);
    expect(JSON.parse(json.stdout)[1]).toEqual({ name: 'prod', backend: 'http', server: 'http://127.0.0.1:9', token: 'set', current: false });
    const yaml = await sb.cli(['context', 'list', '-o', 'yaml']);
    expect(yaml.stdout).not.toContain(TOKEN);
  });

  it('has no token flag', async () => {
    const r = await sb.cli(['context', 'add', 'prod', '--server', 'http://127.0.0.1:9', '--token', TOKEN]);
    expect(r.code).toBe(2);
  });

  it('uses, shows and removes contexts', async () => {
    expect((await sb.cli(['context', 'add', 'lab', '--data-dir', 'lab-store'])).code).toBe(0);
    expect((await sb.cli(['context', 'use', 'lab'])).code).toBe(0);
    const cur = await sb.cli(['context', 'current', '-o', 'json']);
    expect(JSON.parse(cur.stdout)).toEqual({ name: 'lab', backend: 'embedded', dataDir: join(sb.root, 'lab-store') });
    // Commands now run against the lab store.
    const plan = await sb.cli(['plan', '-o', 'json']);
    expect(JSON.parse(plan.stdout).backend).toMatchObject({ kind: 'embedded', location: join(sb.root, 'lab-store') });
    expect((await sb.cli(['context', 'rm', 'lab'])).code).toBe(0);
    expect((await sb.cli(['context', 'current'])).stdout).toBe('local\n');
    const again = await sb.cli(['context', 'rm', 'lab']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no context named "lab"');
    expect((await sb.cli(['context', 'rm', 'local'])).code).toBe(2);
    expect((await sb.cli(['context', 'add', 'local', '--server', 'http://x'])).code).toBe(2);
  });

  it('rejects bad names, URLs and unknown contexts with a hint', async () => {
    expect((await sb.cli(['context', 'add', 'Bad Name', '--server', 'http://x'])).stderr).toContain('invalid context name');
    const url = await sb.cli(['context', 'add', 'p', '--server', 'ftp://x']);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain('http:// or https://');
    const unknown = await sb.cli(['--context', 'nope', 'plan']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no context named "nope"');
    expect(unknown.stderr).toContain('emmctl context list');
    expect((await sb.cli(['context', 'use', 'nope'])).code).toBe(2);
  });

  it('resolves flags > EMMCTL_* > current context', async () => {
    expect((await sb.cli(['context', 'add', 'prod', '--server', 'http://127.0.0.1:9', '--token-stdin', '--use'], { input: TOKEN })).code).toBe(0);
    expect((await sb.cli(['context', 'add', 'lab', '--data-dir', 'lab-store'])).code).toBe(0);
    const current = async (args: string[], env: Record<string, string | undefined> = {}) =>
      JSON.parse((await sb.cli([...args, 'context', 'current', '-o', 'json'], { env })).stdout);
    expect(await current([])).toEqual({ name: 'prod', backend: 'http', server: 'http://127.0.0.1:9', token: 'set' });
    expect(await current([], { EMMCTL_CONTEXT: 'lab' })).toMatchObject({ name: 'lab', backend: 'embedded' });
    expect(await current([], { EMMCTL_DATA_DIR: '/tmp/env-dir' })).toEqual({ name: 'EMMCTL_DATA_DIR', backend: 'embedded', dataDir: '/tmp/env-dir' });
    expect(await current([], { EMMCTL_SERVER: 'http://127.0.0.1:7', EMMCTL_TOKEN: undefined })).toEqual({ name: 'EMMCTL_SERVER', backend: 'http', server: 'http://127.0.0.1:7', token: 'none' });
    // Flags beat the environment.
    expect(await current(['--context', 'lab'], { EMMCTL_SERVER: 'http://127.0.0.1:7' })).toMatchObject({ name: 'lab', backend: 'embedded' });
    expect(await current(['--data-dir', '/tmp/flag-dir'], { EMMCTL_SERVER: 'http://127.0.0.1:7', EMMCTL_CONTEXT: 'prod' })).toEqual({ name: '--data-dir', backend: 'embedded', dataDir: '/tmp/flag-dir' });
    expect(await current(['--context', 'local'])).toMatchObject({ name: 'local', backend: 'embedded' });
    // EMMCTL_TOKEN supplies or overrides the token of a server context.
    expect((await sb.cli(['context', 'add', 'bare', '--server', 'http://127.0.0.1:8'])).code).toBe(0);
    expect(await current(['--context', 'bare'])).toMatchObject({ token: 'none' });
    expect(await current(['--context', 'bare'], { EMMCTL_TOKEN: 'from-env' })).toMatchObject({ token: 'set' });
  });
});
