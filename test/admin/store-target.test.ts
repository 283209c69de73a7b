// Which store or server a command acts on (issue #7 item 15): `server token create|list|revoke`
// follow --context and EMMCTL_SERVER like every command (through the admin API against a
// server), no command that only reads (or acts on what is there) creates a store, and an
// unusable --data-dir / config dir fails at once instead of spinning in a mkdir loop.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';
import { createApiToken, killAll, startServerProcess, type ServerProcess } from '../helpers/server.js';

const home = tempDir('emmctl-home-');
/** A user whose home folder would receive the default (`local`) store: it must stay untouched. */
const userEnv = {
  HOME: home.path,
  XDG_DATA_HOME: join(home.path, 'data'),
  XDG_CONFIG_HOME: join(home.path, 'config'),
  EMMCTL_CONFIG_DIR: join(home.path, 'emmctl-config'),
};
const defaultStore = join(home.path, 'data', 'emmctl');

let serverDir: ReturnType<typeof tempDir>;
let server: ServerProcess;
let adminToken: string;
let operatorToken: string;

beforeAll(async () => {
  serverDir = tempDir('emmctl-served-');
  adminToken = await createApiToken(serverDir.path, 'admin', 'bootstrap');
  operatorToken = await createApiToken(serverDir.path, 'operator', 'ops');
  server = await startServerProcess(serverDir.path);
  const add = await runCli(['context', 'add', 'prod', '--server', server.url, '--token-stdin'], { env: userEnv, input: `${adminToken}\n` });
  expect(add.code, add.stderr).toBe(0);
});
afterAll(async () => {
  await server?.stop();
  killAll();
  serverDir?.cleanup();
  home.cleanup();
});

async function whoami(token: string): Promise<number> {
  const r = await fetch(`${server.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
  return r.status;
}

describe('server token against a server context', () => {
  for (const how of ['--context', 'EMMCTL_SERVER'] as const) {
    it(`${how}: create, list and revoke go through the server's admin API; no store appears in the home folder`, async () => {
      const name = `via-${how.replace(/\W/g, '')}`;
      const target = how === '--context' ? { args: ['--context', 'prod'], env: userEnv } : { args: [], env: { ...userEnv, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: adminToken } };
      const created = await runCli([...target.args, 'server', 'token', 'create', '--role', 'viewer', '--name', name, '-o', 'json'], { env: target.env });
      expect(created.code, created.stderr).toBe(0);
      const { token, secret } = JSON.parse(created.stdout) as { token: { id: string; name: string }; secret: string };
      expect(created.stderr).toContain(`for ${server.url}`);
      // The server accepts the token it handed out.
      expect(await whoami(secret)).toBe(200);

      const list = await runCli([...target.args, 'server', 'token', 'list', '-o', 'json'], { env: target.env });
      expect(list.code, list.stderr).toBe(0);
      const items = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
      expect(items.map((t) => t.name)).toEqual(expect.arrayContaining(['bootstrap', 'ops', name]));
      for (const s of [secret, adminToken, operatorToken]) expect(list.stdout).not.toContain(s);
      for (const item of items) expect(Object.keys(item).filter((k) => /secret|hash/i.test(k))).toEqual([]);

      const revoked = await runCli([...target.args, 'server', 'token', 'revoke', token.id], { env: target.env });
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(await whoami(secret)).toBe(401);
      expect(existsSync(defaultStore)).toBe(false);
    });
  }

  it('needs an admin token on the server: an operator gets 403, nothing created', async () => {
    const env = { ...userEnv, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: operatorToken };
    const r = await runCli(['server', 'token', 'create', '--role', 'admin', '--name', 'escalate'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/role operator cannot create API tokens/);
    expect(r.stdout).toBe('');
    const list = await runCli(['server', 'token', 'list', '-o', 'json', '--data-dir', serverDir.path]);
    expect((JSON.parse(list.stdout) as Array<{ name: string }>).map((t) => t.name)).not.toContain('escalate');
    expect(existsSync(defaultStore)).toBe(false);
  });
});

describe('no store is created by a command that does not make one', () => {
  const dir = tempDir('emmctl-typo-');
  afterAll(() => dir.cleanup());
  const typo = join(dir.path, 'stroe');
  const policies = join(ROOT, 'policies');
  const commands: string[][] = [
    ['devices', 'list'],
    ['devices', 'show', 'dev_x'],
    ['compliance'],
    ['commands', 'list'],
    ['commands', 'show', 'cmd_x'],
    ['audit'],
    ['export'],
    ['enroll', 'token', 'list'],
    ['enroll', 'token', 'create', '--profile', 'corp-android'],
    ['lock', 'dev_x'],
    ['server', 'token', 'list'],
    ['server', 'token', 'revoke', 'tok_x'],
  ];
  for (const args of commands) {
    it(`${args.filter((a) => !a.startsWith('/')).join(' ')} with a mistyped --data-dir: "no emmctl store at DIR", exit 2, nothing created`, async () => {
      const r = await runCli([...args, '--data-dir', typo]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`error: no emmctl store at ${typo} (no such directory)`);
      expect(r.stdout).toBe('');
      expect(existsSync(typo)).toBe(false);
    });
  }

  it('plan and apply --dry-run preview a store that does not exist yet as empty, say so, and write nothing', async () => {
    for (const args of [['plan', policies, '--detailed-exitcode'], ['apply', policies, '--dry-run']]) {
      const r = await runCli([...args, '--data-dir', typo]);
      expect(r.code, r.stderr).toBe(args[0] === 'plan' ? 4 : 0);
      expect(r.stderr).toContain(`warning: no emmctl store at ${typo} yet: this shows it as empty; \`emmctl apply\` creates it`);
      expect(r.stdout).toMatch(/Plan: 20 to create, 0 to update, 0 to delete/);
      expect(existsSync(typo)).toBe(false);
    }
  });

  it('EMMCTL_DATA_DIR and a folder without a store say the same; the default local store is not created either', async () => {
    const viaEnv = await runCli(['devices', 'list'], { env: { EMMCTL_DATA_DIR: typo } });
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toContain(`no emmctl store at ${typo}`);
    const empty = await runCli(['compliance', '--data-dir', dir.path]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain(`no emmctl store at ${dir.path} (no emmctl.db in it)`);
    const file = join(dir.path, 'a-file');
    writeFileSync(file, 'x');
    const notDir = await runCli(['audit', '--data-dir', file]);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toContain(`no emmctl store at ${file} (not a directory)`);
    const local = await runCli(['devices', 'list'], { env: userEnv });
    expect(local.code).toBe(2);
    expect(local.stderr).toContain(`no emmctl store at ${defaultStore}`);
    expect(existsSync(defaultStore)).toBe(false);
  });

  it('apply and server token create still start a new store', async () => {
    const fresh = join(dir.path, 'new-store');
    const token = await runCli(['server', 'token', 'create', '--role', 'admin', '--name', 'first', '--data-dir', fresh]);
    expect(token.code, token.stderr).toBe(0);
    expect(token.stderr).toContain(`for ${fresh}`);
    const fresh2 = join(dir.path, 'new-store-2');
    const apply = await runCli(['apply', policies, '--yes', '--data-dir', fresh2]);
    expect(apply.code, apply.stderr).toBe(0);
    const list = await runCli(['devices', 'list', '--data-dir', fresh2]);
    expect(list.code, list.stderr).toBe(0);
  });
});

// Node's recursive mkdir never returns for a path under /proc (mkdir(2) says ENOENT though the
// parent exists); these ran at 100% CPU until the test runner killed them.
describe.runIf(existsSync('/proc/self'))('unusable paths fail at once', () => {
  for (const bad of ['/proc/nope', '/proc/nope/deeper', '/dev/null/x']) {
    it(`--data-dir ${bad}: readers say there is no store (2), writers cannot create it (1)`, async () => {
      const read = await runCli(['devices', 'list', '--data-dir', bad]);
      expect(read.signal).toBeNull();
      expect(read.code).toBe(2);
      expect(read.stderr).toContain(`no emmctl store at ${bad}`);
      for (const write of [['apply', join(ROOT, 'policies'), '--yes'], ['server', 'token', 'create', '--role', 'admin']]) {
        const r = await runCli([...write, '--data-dir', bad]);
        expect(r.signal).toBeNull();
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toContain(`cannot open the store at ${bad}/emmctl.db`);
      }
    });
  }

  it('EMMCTL_CONFIG_DIR and EMMCTL_CACHE_DIR under /proc: config commands fail with a message, validate still validates', async () => {
    // A read creates nothing, so it has nothing to fail on; the first write fails with a message.
    const list = await runCli(['context', 'list'], { env: { EMMCTL_CONFIG_DIR: '/proc/nope' } });
    expect(list.signal).toBeNull();
    expect(list.code, list.stderr).toBe(0);
    const context = await runCli(['context', 'add', 'lab', '--data-dir', '/tmp/emmctl-lab'], { env: { EMMCTL_CONFIG_DIR: '/proc/nope' } });
    expect(context.signal).toBeNull();
    expect(context.code).toBe(1);
    expect(context.stderr).toContain('cannot create the emmctl config dir /proc/nope');
    const validate = await runCli(['validate', join(ROOT, 'policies')], { env: { EMMCTL_CACHE_DIR: '/proc/nope' } });
    expect(validate.signal).toBeNull();
    expect(validate.code, validate.stderr).toBe(0);
  });
});
