// `emmctl server migrate --from DATA_DIR --to URL` with the built CLI: a store seeded through a
// real `emmctl server` on SQLite (policies with a secret, a simulated fleet, commands, tokens, a
// saved plan, audit) is copied into a real PostgreSQL database, and `emmctl server --database`
// then serves the same fleet at the same address: devices check in with their old credentials,
// the old API and enrollment tokens work, the saved plan applies, the audit log is whole and in
// order and keeps counting. Refusals leave the database as it was.
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { adminQuery, cliDatabase, freshDatabase, passwordOf, withoutPassword, type FreshDatabase } from '../helpers/postgres.js';
import { createApiToken, killAll, startServerProcess } from '../helpers/server.js';
import { FleetService } from '../../src/service/fleet-service.js';

const LAB_PROFILE = `apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata:
  name: lab-any
spec:
  platforms: [android, ios, ipados, macos, windows]
  ownership: corporate
`;

// A resource with a secret: the store keeps its value beside the document, and the copy must too.
const GUEST_WIFI = (description: string) => `apiVersion: emmctl/v1
kind: Policy
metadata:
  name: guest-wifi
  description: ${description}
spec:
  assign: [all]
  settings:
    wifi:
      - ssid: ExampleGuest
        security: wpa2-personal
        password: \${env:GUEST_PSK}
`;

const DEVICES = 6;
const SEED = '7';
const PSK = 'guest-psk-7f3a9c';

const TABLES = ['meta', 'resources', 'devices', 'escalations', 'commands', 'idempotency', 'enrollment_tokens', 'api_tokens', 'audit', 'notify_outbox',
  'channel_devices', 'channel_tokens', 'channel_policies', 'channel_operations'];
const CHANNEL_DEVICES = 1;

/**
 * No device channel runs in this test: the service writes a channel device, its token, a published
 * policy and a command's ledger row as the channel's runtime would, so every channel table has rows.
 */
async function seedChannelTables(dataDir: string): Promise<void> {
  const service = await FleetService.open(dataDir, { ifMissing: 'fail' });
  const e = 'enterprises/LCcopy';
  try {
    const actor = { name: 'copy-admin', source: 'local' };
    const { token } = await service.createEnrollmentToken({ profile: 'lab-any' }, actor);
    await service.recordChannelToken(token.id, 'android', `${e}/enrollmentTokens/t1`, `${e}/policies/initial`);
    await service.recordPublishedPolicy('android', `${e}/policies/initial`, 'sha256:0000');
    const { outcome, deviceId } = await service.intakeChannelDevice({
      channel: 'android', ref: `${e}/devices/d1`, tokenRef: `${e}/enrollmentTokens/t1`, serial: 'COPY-ANDROID-1', ownership: 'corporate', mode: 'fm', osVersion: '14',
      posture: { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [] }, reportedAt: new Date().toISOString(), failures: [],
    }, 'test');
    expect(outcome).toBe('enrolled');
    expect(await service.recordChannelPolicy(deviceId!, `${e}/policies/initial`, null)).toBe(true);
    const lock = await service.enqueueCommands({ deviceIds: [deviceId!], type: 'lock', idempotencyKey: 'copy-channel-lock' }, actor);
    expect(await service.beginChannelSend(lock.results[0]!.command!.id, { method: 'issueCommand', body: { type: 'LOCK' } })).toBe(true);
  } finally {
    await service.close();
  }
}

const digestFile = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function json<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/**
 * A TCP proxy to the database that cuts both connections when the client sends COMMIT (simple
 * query protocol): `before` the server sees it (the copy is not saved), or right `after` passing
 * it on (the server commits, the answer is lost). Either way the client cannot know which.
 */
async function commitCutter(target: URL, mode: 'before' | 'after'): Promise<{ url: URL; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    const cut = () => {
      client.destroy();
      upstream.end();
    };
    client.on('data', (chunk: Buffer) => {
      if (!chunk.includes(Buffer.from('COMMIT\0'))) return void upstream.write(chunk);
      if (mode === 'before') return cut();
      upstream.write(chunk, cut);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target.toString());
  url.port = String((server.address() as { port: number }).port);
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Row counts of the copied tables in a PostgreSQL database ({} when it has no schema). */
async function targetCounts(url: string): Promise<Record<string, number>> {
  const tables = (await adminQuery("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", url)).rows.map((r: { table_name: string }) => r.table_name);
  const out: Record<string, number> = {};
  for (const t of TABLES.filter((x) => tables.includes(x))) out[t] = Number((await adminQuery(`SELECT count(*) AS n FROM ${t}`, url)).rows[0].n);
  return out;
}

async function tableNames(url: string): Promise<string[]> {
  return (await adminQuery("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1", url)).rows.map((r: { table_name: string }) => r.table_name);
}

describe('emmctl server migrate --from DATA_DIR --to URL', () => {
  let work: { path: string; cleanup: () => void };
  let repo: string;
  let data: string;
  let db: FreshDatabase;
  let bare: string;
  let password: string;
  let adminToken: string;
  let enrollSecret: string;
  let listen: string;
  let serverUrl: string;
  let pendingLock: string;
  let storeId: string;
  let sourceCounts: Record<string, number>;
  let sourceDigest: string;
  let auditBefore: Array<{ id: string; at: string; action: string; target: string; actor: string }>;
  const state = () => join(work.path, 'simulator-state.json');
  const copy = (args: string[], extra: Record<string, string> = {}) => runCli(['server', 'migrate', ...args], { env: { PGPASSWORD: password, ...extra } });

  beforeAll(async () => {
    work = tempDir('emmctl-copy-');
    repo = join(work.path, 'repo');
    data = join(work.path, 'data');
    cpSync(join(ROOT, 'policies'), join(repo, 'policies'), { recursive: true });
    writeFileSync(join(repo, 'policies', 'enrollment', 'lab.yaml'), LAB_PROFILE);
    writeFileSync(join(repo, 'policies', 'configuration', 'guest-wifi.yaml'), GUEST_WIFI('Guest network'));
    db = await freshDatabase();
    password = passwordOf(db.url);
    bare = withoutPassword(db.url);

    adminToken = await createApiToken(data, 'admin', 'copy-admin');
    // Escalations run every second and notify a webhook nobody listens on, so the store holds
    // escalation claims and undelivered outbox events too.
    const sqliteServer = await startServerProcess(data, ['--no-access-log', '--tick', '1', '--notify-webhook', 'http://127.0.0.1:9/hook'], { EMMCTL_NOTIFY_SECRET: 'copy-test-notify-secret' });
    try {
      serverUrl = sqliteServer.url;
      listen = new URL(serverUrl).host;
      const env = { EMMCTL_SERVER: serverUrl, EMMCTL_TOKEN: adminToken, GUEST_PSK: PSK };
      const cli = (args: string[]) => runCli(args, { cwd: repo, env });
      const applied = await cli(['apply', '--yes']);
      expect(applied.code, applied.stderr).toBe(0);
      enrollSecret = json<{ secret: string }>(await cli(['enroll', 'token', 'create', '--profile', 'lab-any', '-o', 'json'])).secret;
      const sim = await cli(['simulate', '--devices', String(DEVICES), '--once', '--seed', SEED, '--enroll-token', enrollSecret, '--state', state()]);
      expect(sim.code, sim.stderr).toBe(0);
      for (let i = 0; i < 100; i++) {
        const audit = json<Array<{ actor: string }>>(await cli(['audit', '-o', 'json']));
        if (audit.some((a) => a.actor.startsWith('compliance:'))) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const devices = json<Array<{ id: string }>>(await cli(['devices', 'list', '-o', 'json', '--sort', 'name']));
      expect(devices).toHaveLength(DEVICES);
      // One command the fleet runs before the move, one still pending across it.
      expect((await cli(['reboot', devices[0]!.id, '--yes'])).code).toBe(0);
      expect((await cli(['simulate', '--devices', String(DEVICES), '--once', '--seed', SEED, '--enroll-token', enrollSecret, '--state', state()])).code).toBe(0);
      pendingLock = json<Array<{ commandId: string }>>(await cli(['lock', devices[1]!.id, '--yes', '-o', 'json']))[0]!.commandId;
      // A saved plan made against the SQLite store, to apply after the move.
      writeFileSync(join(repo, 'policies', 'configuration', 'guest-wifi.yaml'), GUEST_WIFI('Guest network, moved'));
      const planned = await cli(['plan', '--out', join(work.path, 'plan.json')]);
      expect(planned.code, planned.stderr).toBe(0);
      auditBefore = json(await cli(['audit', '-o', 'json']));
      expect(auditBefore.length).toBeGreaterThan(20);
    } finally {
      await sqliteServer.stop();
    }
    await seedChannelTables(data);
    const sqlite = new Database(join(data, 'emmctl.db'), { readonly: true });
    try {
      storeId = (sqlite.prepare("SELECT value FROM meta WHERE key = 'store_id'").get() as { value: string }).value;
      sourceCounts = Object.fromEntries(TABLES.map((t) => [t, (sqlite.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]));
    } finally {
      sqlite.close();
    }
    sourceDigest = digestFile(join(data, 'emmctl.db'));
  }, 120_000);
  afterEach(() => killAll());
  afterAll(async () => {
    await db?.drop();
    work?.cleanup();
  });

  it('refuses a missing source (exit 2), touching nothing', async () => {
    const missing = join(work.path, 'nowhere');
    const r = await copy(['--from', missing, '--to', bare]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`error: no emmctl store at ${missing} (no such directory)`);
    expect(await tableNames(db.url)).toEqual([]);
  });

  it('refuses an unreachable target (exit 1), without the password', async () => {
    const u = new URL(db.url);
    u.port = '1';
    const r = await runCli(['server', 'migrate', '--from', data], { env: { EMMCTL_DATABASE_URL: u.toString() } });
    expect(r.code).toBe(1);
    u.password = '';
    expect(r.stderr).toContain(`error: cannot connect to database ${u.toString()}: connect ECONNREFUSED`);
    expect(r.stderr).toContain('nothing was copied');
    expect(r.stdout + r.stderr).not.toContain(password);
  });

  it('refuses a password in --to and flags that name two stores (exit 2)', async () => {
    const withPassword = await copy(['--from', data, '--to', db.url]);
    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).toContain(`error: --to ${bare}: a password does not go in a flag`);
    expect(withPassword.stderr).not.toContain(password);
    const twice = await copy(['--from', data, '--to', bare, '--database', bare]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('error: --database with --from');
    const noFrom = await copy(['--to', bare]);
    expect(noFrom.code).toBe(2);
    expect(noFrom.stderr).toContain('error: --to needs --from DATA_DIR');
    expect(await tableNames(db.url)).toEqual([]);
  });

  it('--dry-run copies and checks everything, then rolls it back: the database stays as it was', async () => {
    const r = await copy(['--from', data, '--to', bare, '--dry-run', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { dryRun: boolean; tables: Array<{ table: string; source: number; target: number; equal: boolean }> };
    expect(report.dryRun).toBe(true);
    expect(Object.fromEntries(report.tables.map((t) => [t.table, t.target]))).toEqual(sourceCounts);
    expect(await tableNames(db.url)).toEqual([]);
  });

  it('copies the store into a migrated, empty database and prints the verified counts; the password and the secrets are in no output', async () => {
    // Empty but migrated, as after `emmctl server migrate --database`: the store's id and key replace the database's.
    const migrated = await copy(['--database', bare]);
    expect(migrated.code, migrated.stderr).toBe(0);
    const r = await copy(['--from', data, '--to', bare, '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      source: string; target: string; storeId: string; dryRun: boolean; alreadyCopied: boolean;
      tables: Array<{ table: string; source: number; target: number; checksum: string; equal: boolean }>;
      sequences: Array<{ table: string; next: number }>;
    };
    expect(report).toMatchObject({ source: join(data, 'emmctl.db'), target: bare, storeId, dryRun: false, alreadyCopied: false });
    expect(report.tables.map((t) => t.table)).toEqual(TABLES);
    // The seed reaches every table but the empty-by-design ones.
    for (const t of TABLES) expect(sourceCounts[t], t).toBeGreaterThan(0);
    for (const t of report.tables) {
      expect(t, t.table).toMatchObject({ source: sourceCounts[t.table], target: sourceCounts[t.table], equal: true });
      expect(t.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(await targetCounts(db.url)).toEqual(sourceCounts);
    expect(r.stderr).toContain(`copied store ${storeId} (schema version`);
    // Sequences continue after the copied maximum.
    const maxAudit = Math.max(...auditBefore.map((a) => Number(a.id)));
    expect(report.sequences.find((s) => s.table === 'audit')!.next).toBeGreaterThan(maxAudit);
    const out = r.stdout + r.stderr;
    expect(out).not.toContain(password);
    expect(out).not.toContain(PSK);
    expect(out).not.toContain(adminToken);
    expect(out).not.toContain(enrollSecret);

    // Run again (as after a lost answer): the database holds this copy, which is checked, not redone.
    const again = await copy(['--from', data, '--to', bare]);
    expect(again.code, again.stderr).toBe(0); 
    expect(again.stdout.split('\n')[0]).toMatch(/^TABLE\s+SOURCE\s+TARGET\s+CHECKSUM$/);
    const devicesRow = again.stdout.split('\n').find((l) => l.startsWith('devices '));
    expect(devicesRow).toMatch(new RegExp(`^devices\\s+${DEVICES + CHANNEL_DEVICES}\\s+${DEVICES + CHANNEL_DEVICES}\\s+${report.tables.find((t) => t.table === 'devices')!.checksum.slice(0, 16)}$`));
    expect(again.stderr).toContain(`already holds this copy of store ${storeId}`);
    expect(await targetCounts(db.url)).toEqual(sourceCounts);
    // Opened read-only: the copy never migrates or writes the store it reads.
    expect(digestFile(join(data, 'emmctl.db'))).toBe(sourceDigest);
  });

  it('refuses a target that holds another store (exit 2), leaving it as it was', async () => {
    const other = join(work.path, 'other');
    await createApiToken(other, 'viewer', 'other-viewer');
    const before = await targetCounts(db.url);
    const r = await copy(['--from', other, '--to', bare]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: database ${bare} already holds an emmctl store (resources: ${sourceCounts.resources} rows, devices: ${DEVICES + CHANNEL_DEVICES} rows`);
    expect(r.stderr).toContain('nothing was changed');
    expect(await targetCounts(db.url)).toEqual(before);
  });

  it('says plainly when the answer to COMMIT is lost (exit 7); running it again tells which way it went', async () => {
    const small = join(work.path, 'small');
    await createApiToken(small, 'admin', 'small-admin');
    for (const mode of ['before', 'after'] as const) {
      const target = await freshDatabase();
      const proxy = await commitCutter(new URL(target.url), mode);
      try {
        const lost = await runCli(['server', 'migrate', '--from', small], { env: { EMMCTL_DATABASE_URL: proxy.url.toString() } });
        expect(lost.code, lost.stderr).toBe(7);
        expect(lost.stdout).toBe('');
        expect(lost.stderr).toContain(`error: database ${withoutPassword(proxy.url.toString())} went away while the copy was being committed: it may or may not have been saved`);
        expect(lost.stderr).not.toContain(passwordOf(target.url));
        // Not saved: the database is as it was, and the copy goes in. Saved: it is checked, not redone.
        expect((await tableNames(target.url)).length > 0).toBe(mode === 'after');
        const again = await runCli(['server', 'migrate', '--from', small, '-o', 'json'], { env: { EMMCTL_DATABASE_URL: target.url } });
        expect(again.code, again.stderr).toBe(0);
        const report = JSON.parse(again.stdout) as { alreadyCopied: boolean; tables: Array<{ equal: boolean }> };
        expect(report.alreadyCopied).toBe(mode === 'after');
        expect(report.tables.every((t) => t.equal)).toBe(true);
      } finally {
        await proxy.close();
        await target.drop();
      }
    }
  });

  it('emmctl server --database serves the copied fleet: old credentials and tokens, the saved plan, the whole audit log', async () => {
    // The same address the SQLite server had: a saved plan names the server it was made against.
    const server = await startServerProcess(cliDatabase(db), ['--listen', listen, '--no-access-log']);
    try {
      expect(server.url).toBe(serverUrl);
      const env = { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: adminToken, GUEST_PSK: PSK };
      const cli = (args: string[]) => runCli(args, { cwd: repo, env });

      // The plan was sealed by the SQLite store; the copy has its id and key.
      const applied = await cli(['apply', '--plan', join(work.path, 'plan.json'), '--yes']);
      expect(applied.code, applied.stderr).toBe(0);
      // The secret came along: the files with the same value are in sync; another value is a change.
      expect((await cli(['plan', '--detailed-exitcode'])).code).toBe(0);
      expect((await runCli(['plan', '--detailed-exitcode'], { cwd: repo, env: { ...env, GUEST_PSK: 'another' } })).code).toBe(4);

      // The devices check in with the credentials they enrolled with, and run the pending lock;
      // the old enrollment token enrolls one more.
      const sim = await cli(['simulate', '--devices', String(DEVICES + 1), '--once', '--seed', SEED, '--enroll-token', enrollSecret, '--state', state()]);
      expect(sim.code, sim.stderr).toBe(0);
      const devices = json<Array<{ id: string; lastCheckIn: string }>>(await cli(['devices', 'list', '-o', 'json']));
      expect(devices).toHaveLength(DEVICES + 1 + CHANNEL_DEVICES);
      expect(json<{ status: string }>(await cli(['commands', 'show', pendingLock, '-o', 'json'])).status).not.toMatch(/^(queued|sent)$/);

      const audit = json<Array<{ id: string; at: string; action: string; target: string; actor: string }>>(await cli(['audit', '-o', 'json']));
      expect(audit.slice(0, auditBefore.length)).toEqual(auditBefore);
      const added = audit.slice(auditBefore.length);
      expect(added.some((a) => a.action === 'apply')).toBe(true);
      expect(added.some((a) => a.action === 'command.result' && a.target === `command/${pendingLock}`)).toBe(true);
      const maxBefore = Math.max(...auditBefore.map((a) => Number(a.id)));
      for (const a of added) expect(Number(a.id)).toBeGreaterThan(maxBefore);
      // A new command gets a number after the copied ones, and the old token's audit name is kept.
      expect((await cli(['reboot', devices[0]!.id, '--yes'])).code).toBe(0);
      const last = json<Array<{ actor: string; action: string }>>(await cli(['audit', '--limit', '1', '-o', 'json']));
      expect(last).toEqual([expect.objectContaining({ actor: 'copy-admin', action: 'command.reboot' })]);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
