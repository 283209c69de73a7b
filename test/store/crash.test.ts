// kill -9 in the middle of a large transaction leaves the store exactly as before it. A child
// node process runs the transaction; we kill it once its uncommitted pages are spilling into
// the WAL (so the kill really lands mid-transaction), then reopen and compare every table.
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { FleetService } from '../../src/service/fleet-service.js';
import { DB_FILE } from '../../src/store/sqlite/files.js';
import { tempDir } from '../helpers/cli.js';
// @ts-expect-error plain ESM helper shared with the benchmarks
import { bundleStore } from './bundle-store.mjs';
import { ADMIN, createAll, enrollDevice } from './fixtures.js';

let bundleUrl: string;
const dirs: Array<{ cleanup(): void }> = [];
beforeAll(async () => {
  const dir = tempDir('emmctl-bundle-');
  dirs.push(dir);
  bundleUrl = await bundleStore(dir.path);
});
afterAll(() => dirs.forEach((d) => d.cleanup()));

async function dump(dataDir: string): Promise<Record<string, unknown[]>> {
  const db = new Database(join(dataDir, DB_FILE), { readonly: true });
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
  const out: Record<string, unknown[]> = {};
  for (const t of tables) out[t] = db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all();
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  await db.close();
  return out;
}

/** Runs `body` in a child after FleetService.open; SIGKILLs it once the WAL outgrows `killAtBytes`. */
async function killMidTransaction(dataDir: string, body: string, killAtBytes: number) {
  const script = join(dataDir, '..', 'child.mjs');
  writeFileSync(script, `
import { writeSync } from 'node:fs';
const { FleetService } = await import(${JSON.stringify(bundleUrl)});
const store = await FleetService.open(${JSON.stringify(dataDir)});
const actor = { name: 'local:crash', source: 'local' };
${body}
writeSync(1, 'begin\\n');
await run(store, actor);
writeSync(1, 'committed\\n');
`);
  const wal = join(dataDir, `${DB_FILE}-wal`);
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  let walAtKill = 0;
  const timer = setInterval(() => {
    if (!out.includes('begin')) return;
    const size = existsSync(wal) ? statSync(wal).size : 0;
    if (size > killAtBytes) {
      walAtKill = size;
      child.kill('SIGKILL');
      clearInterval(timer);
    }
  }, 2);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearInterval(timer);
  return { code, signal, out, err, walAtKill };
}

describe('kill -9 mid-transaction', () => {
  it('leaves resources exactly as before a large apply', async () => {
    const dir = tempDir('emmctl-crash-');
    dirs.push(dir);
    const dataDir = join(dir.path, 'data');
    const store = await FleetService.open(dataDir);
    await store.applyChanges(createAll(), ADMIN);
    await enrollDevice(store);
    await store.close();
    const before = await dump(dataDir);

    const r = await killMidTransaction(dataDir, `
async function run(store, actor) {
  const pad = 'x'.repeat(4000);
  const changes = [];
  for (let i = 0; i < 20000; i++) {
    const name = 'crash-' + i;
    changes.push({ op: 'create', kind: 'Group', name, document: { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name, description: pad }, spec: { match: { platforms: ['android'] } } } });
  }
  await store.applyChanges(changes, actor);
}`, 8 * 1024 * 1024);
    expect(r.err).toBe('');
    expect(r.signal).toBe('SIGKILL');
    expect(r.out).toBe('begin\n');
    expect(r.walAtKill).toBeGreaterThan(8 * 1024 * 1024);

    const reopened = await FleetService.open(dataDir);
    expect(await reopened.listResources()).toHaveLength(5);
    await reopened.close();
    expect(await dump(dataDir)).toEqual(before);
  });

  it('leaves commands and audit exactly as before a large enqueue', async () => {
    const dir = tempDir('emmctl-crash-');
    dirs.push(dir);
    const dataDir = join(dir.path, 'data');
    const store = await FleetService.open(dataDir);
    await store.applyChanges(createAll(), ADMIN);
    const { secret } = await store.createEnrollmentToken({ profile: 'corp', maxUses: 5000 }, ADMIN);
    for (let i = 0; i < 3000; i++) await store.enrollDevice({ token: secret, platform: 'android', serial: `K${i}`, osVersion: '14' }, 'test');
    await store.close();
    const before = await dump(dataDir);

    const r = await killMidTransaction(dataDir, `
async function run(store, actor) {
  const ids = (await store.listDevices({ limit: 1000 })).items.map((d) => d.id);
  let page = await store.listDevices({ limit: 1000 });
  while (page.nextCursor) { page = await store.listDevices({ limit: 1000, cursor: page.nextCursor }); ids.push(...page.items.map((d) => d.id)); }
  await store.enqueueCommands({ deviceIds: ids, type: 'lock', reason: 'r'.repeat(20000), idempotencyKey: 'crash' }, actor);
}`, 8 * 1024 * 1024);
    expect(r.err).toBe('');
    expect(r.signal).toBe('SIGKILL');
    expect(r.out).toBe('begin\n');

    const reopened = await FleetService.open(dataDir);
    expect((await reopened.listCommands({})).items).toEqual([]);
    await reopened.close();
    expect(await dump(dataDir)).toEqual(before);
  });
});
