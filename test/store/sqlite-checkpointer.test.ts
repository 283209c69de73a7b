// WAL checkpoints on a worker thread (src/store/sqlite/checkpointer.ts), on a real store file:
// the serving connection never checkpoints, so without the thread the WAL would grow by every
// write. Each bound below is one the WAL crosses many times over when nobody checkpoints (the
// first test shows it), so a thread that does not run fails them.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { SqliteEngine } from '../../src/store/sqlite/engine.js';
import { dataDirs } from '../helpers/cli.js';

const freshDir = dataDirs('emmctl-checkpointer-');

const VALUE = 'x'.repeat(3000);
const WRITES = 12_000;
/**
 * 12,000 writes of a 3 KB row make over 45 MB of WAL frames when nothing is checkpointed; the
 * thread resets the WAL near 4,000 pages (16 MiB), SQLite's own checkpoint near 1,000.
 */
const BOUND = 24 << 20;

/** Writes one after another, each in its own turn of the event loop, as a server's requests come. */
async function write(engine: SqliteEngine, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await engine.transaction(async (sql) => {
      await sql.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [`bench-${i % 50}`, `${i}:${VALUE}`]);
    });
  }
}

const walSize = (dataDir: string) => {
  const wal = join(dataDir, 'emmctl.db-wal');
  return existsSync(wal) ? statSync(wal).size : 0;
};

describe('SQLite checkpoints on a worker thread', () => {
  it('without the thread and without SQLite\'s own checkpoints the WAL grows past the bound (what the other tests rule out)', async () => {
    const dataDir = freshDir('data');
    const engine = SqliteEngine.open(dataDir);
    await engine.execute('PRAGMA wal_autocheckpoint = 0');
    await write(engine, WRITES);
    expect(walSize(dataDir)).toBeGreaterThan(BOUND);
    await engine.close();
  });

  it('keeps the WAL bounded under a stream of writes, and leaves every write in the database', async () => {
    const dataDir = freshDir('data');
    const engine = SqliteEngine.open(dataDir, { checkpoint: 'background' });
    expect(engine.checkpointer?.running).toBe(true);
    let largest = 0;
    for (let i = 0; i < WRITES; i += 250) {
      await write(engine, 250, i);
      largest = Math.max(largest, walSize(dataDir));
    }
    expect(largest).toBeLessThan(BOUND);
    expect(engine.checkpointer!.completed).toBeGreaterThan(0);
    // A checkpoint now copies every frame into the database.
    const r = await engine.checkpointer!.checkpointNow();
    expect(r.checkpointed).toBe(r.log);
    const rows = await engine.query<{ n: number }>("SELECT count(*) AS n FROM meta WHERE key LIKE 'bench-%'");
    expect(rows[0]!.n).toBe(50);
    await engine.close();
    // The thread's connection closed first, so the serving one was the last: SQLite removed the WAL.
    expect(existsSync(join(dataDir, 'emmctl.db-wal'))).toBe(false);
    const again = SqliteEngine.open(dataDir, { ifMissing: 'fail' });
    const last = await again.query<{ value: string }>("SELECT value FROM meta WHERE key = 'bench-49'");
    expect(last[0]!.value.startsWith(`${WRITES - 1}:`)).toBe(true);
    await again.close();
  });

  it('resets a WAL that grew past 4,000 pages with a RESTART checkpoint, so the next write starts it afresh', async () => {
    const dataDir = freshDir('data');
    const engine = SqliteEngine.open(dataDir, { checkpoint: 'background' });
    // Without a turn of the event loop in between, the thread's answers wait and the WAL grows
    // past the mark, as under a burst that passive checkpoints cannot keep up with.
    for (let i = 0; i < 8000; i++) {
      await engine.transaction(async (sql) => {
        await sql.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [`bench-${i % 50}`, `${i}:${VALUE}`]);
      });
    }
    expect(walSize(dataDir)).toBeGreaterThan(4000 * 4096);
    await vi.waitFor(() => expect(engine.checkpointer!.restarts).toBeGreaterThan(0), { timeout: 20_000, interval: 50 });
    await write(engine, 1);
    const r = await engine.checkpointer!.checkpointNow();
    expect(r.log).toBeLessThan(100);
    await engine.close();
  });

  it('checkpoints a store written to now and then, after a quiet second', async () => {
    const dataDir = freshDir('data');
    const engine = SqliteEngine.open(dataDir, { checkpoint: 'background' });
    await write(engine, 3);
    expect(engine.checkpointer!.completed).toBe(0);
    await vi.waitFor(() => expect(engine.checkpointer!.completed).toBeGreaterThan(0), { timeout: 10_000, interval: 100 });
    expect(engine.checkpointer!.last!.checkpointed).toBe(engine.checkpointer!.last!.log);
    await engine.close();
  });

  it('when the thread dies, says so once and goes back to SQLite\'s own checkpoints, so the WAL stays bounded', async () => {
    const dataDir = freshDir('data');
    const lines: string[] = [];
    const engine = SqliteEngine.open(dataDir, { checkpoint: 'background', onLog: (l) => lines.push(l) });
    await engine.checkpointer!.killForTest();
    await vi.waitFor(() => expect(engine.checkpointer!.running).toBe(false), { timeout: 10_000, interval: 20 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/checkpoint thread exited.*checkpointing on the serving connection again/);
    const pages = await engine.query<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint');
    expect(pages[0]!.wal_autocheckpoint).toBe(1000);
    let largest = 0;
    for (let i = 0; i < WRITES; i += 250) {
      await write(engine, 250, i);
      largest = Math.max(largest, walSize(dataDir));
    }
    expect(largest).toBeLessThan(BOUND);
    await engine.close();
    expect(lines).toHaveLength(1);
  });

  it('a one-shot command\'s store keeps SQLite\'s own checkpoints (no thread to start)', async () => {
    const engine = SqliteEngine.open(freshDir('data'));
    expect(engine.checkpointer).toBeUndefined();
    const pages = await engine.query<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint');
    expect(pages[0]!.wal_autocheckpoint).toBe(1000);
    await engine.close();
  });
});
