// A config dir and file that existed before emmctl wrote them (made by hand, restored from a
// backup) with modes others can read are narrowed to owner-only the next time emmctl reads them,
// not only when it writes: the file holds API tokens. Likewise an existing embedded data dir.
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sandbox, type Sandbox } from '../plan/fixtures.js';

const TOKEN = 'emm_at_restored-from-backup-5678';
let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

const mode = (path: string) => statSync(path).mode & 0o777;

describe('owner-only modes of existing dirs', () => {
  it('narrows a loose config dir and file on a read-only command, keeping the contexts', async () => {
    const dir = sb.env.EMMCTL_CONFIG_DIR;
    mkdirSync(dir);
    const file = join(dir, 'config.json');
    const text = JSON.stringify({ contexts: { prod: { server: 'http://127.0.0.1:9', token: TOKEN } }, currentContext: 'prod' });
    writeFileSync(file, text);
    chmodSync(dir, 0o755);
    chmodSync(file, 0o644);

    const r = await sb.cli(['context', 'list', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((c: { name: string }) => c.name)).toEqual(['local', 'prod']);
    expect(mode(dir)).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('narrows a loose config dir with no file yet', async () => {
    const dir = sb.env.EMMCTL_CONFIG_DIR;
    mkdirSync(dir);
    chmodSync(dir, 0o775);
    const r = await sb.cli(['context', 'list']);
    expect(r.code, r.stderr).toBe(0);
    expect(mode(dir)).toBe(0o700);
  });

  it('narrows an existing loose data dir when a command opens the store', async () => {
    const dataDir = sb.env.EMMCTL_DATA_DIR;
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const r = await sb.cli(['server', 'token', 'create', '--role', 'admin']); // a command that creates the store
    expect(r.code, r.stderr).toBe(0);
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(join(dataDir, 'emmctl.db'))).toBe(0o600);
  });
});
