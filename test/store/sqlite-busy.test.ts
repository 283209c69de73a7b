// The SQLite engine's busy wait for a unit of work on its own (runUnit; the group commit's is in
// sqlite-group-commit.test.ts): while another process holds the write lock the unit waits
// asynchronously and retries; past the deadline it is told the store is unavailable, with nothing
// written. A second connection on the same file stands in for the other process.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/store/engine.js';
import { SqliteEngine } from '../../src/store/sqlite/engine.js';
import { dataDirs } from '../helpers/cli.js';

const freshDir = dataDirs('emmctl-busy-');
const PUT = 'INSERT INTO meta (key, value) VALUES (?, ?)';
const keys = async (engine: SqliteEngine) =>
  (await engine.query<{ key: string }>("SELECT key FROM meta WHERE key LIKE 'b-%' ORDER BY key")).map((r) => r.key);

function holdLock(dataDir: string): { release(): void } {
  const other = new Database(join(dataDir, 'emmctl.db'));
  other.prepare('BEGIN IMMEDIATE').run();
  return { release: () => { other.prepare('ROLLBACK').run(); other.close(); } };
}

describe('SQLite busy wait', () => {
  it('a unit of work waits while another process holds the write lock, and commits once it is let go', async () => {
    const dataDir = freshDir('data');
    const engine = SqliteEngine.open(dataDir);
    const lock = holdLock(dataDir);
    let attempts = 0;
    let settled = false;
    const unit = engine.transaction(async (sql) => {
      attempts++;
      await sql.run(PUT, ['b-1', '1']);
    }).then(() => { settled = true; });
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    lock.release();
    await unit;
    // BEGIN IMMEDIATE is what meets the lock, so fn ran once, after it was let go.
    expect(attempts).toBe(1);
    expect(await keys(engine)).toEqual(['b-1']);
    await engine.close();
  });

  it('past the deadline a unit of work and a single statement hear the store is busy, and nothing is written', async () => {
    const dataDir = freshDir('data');
    const engine = SqliteEngine.open(dataDir, { busyDeadlineMs: 200 });
    const lock = holdLock(dataDir);
    const outcomes = await Promise.allSettled([
      engine.transaction((sql) => sql.run(PUT, ['b-1', '1'])),
      engine.execute(`${PUT} RETURNING key`, ['b-2', '2']),
    ]);
    lock.release();
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      const reason = (o as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(StoreUnavailableError);
      expect(reason.message).toBe(`the store at ${engine.location} is busy (another process holds its write lock); nothing was changed`);
      expect(String(reason.cause?.code)).toMatch(/^SQLITE_BUSY/);
    }
    expect(await keys(engine)).toEqual([]);
    await engine.close();
  });
});
