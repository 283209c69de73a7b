// Group commit on the SQLite engine (TransactionOptions.shareCommit, SqliteEngine.shared): units
// queued together share one COMMIT, each still all-or-nothing, none told "written" before the
// COMMIT. Real store files, and a second connection as another process would hold the lock.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Sql } from '../../src/store/engine.js';
import { StoreUnavailableError } from '../../src/store/engine.js';
import { SqliteEngine } from '../../src/store/sqlite/engine.js';
import { dataDirs } from '../helpers/cli.js';

const freshDir = dataDirs('emmctl-group-commit-');

const put = (sql: Sql, key: string, value: string) =>
  sql.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
const keys = async (engine: SqliteEngine) =>
  (await engine.query<{ key: string }>("SELECT key FROM meta WHERE key LIKE 'g-%' ORDER BY key")).map((r) => r.key);

describe('SQLite group commit', () => {
  it('units queued together share one COMMIT, and each gets its own result', async () => {
    const engine = SqliteEngine.open(freshDir('data'));
    const before = engine.commits;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => engine.transaction(async (sql) => {
      await put(sql, `g-${String(i).padStart(2, '0')}`, String(i));
      return i * 10;
    }, { shareCommit: true })));
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i * 10));
    expect(engine.commits - before).toBe(1);
    expect(await keys(engine)).toHaveLength(40);
    await engine.close();
  });

  it('without shareCommit each unit commits on its own (what the count above is measured against)', async () => {
    const engine = SqliteEngine.open(freshDir('data'));
    const before = engine.commits;
    await Promise.all(Array.from({ length: 5 }, (_, i) => engine.transaction((sql) => put(sql, `g-${i}`, String(i)))));
    expect(engine.commits - before).toBe(5);
    await engine.close();
  });

  it('a member that throws loses only its own writes and alone gets the error', async () => {
    const engine = SqliteEngine.open(freshDir('data'));
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => engine.transaction(async (sql) => {
      await put(sql, `g-${i}`, String(i));
      if (i === 2) throw new Error('refused by the rule');
      // A constraint failure ends the statement, not the transaction: the others go on.
      if (i === 4) await sql.run('INSERT INTO meta (key, value) VALUES (?, NULL)', ['g-null']);
      return i;
    }, { shareCommit: true })));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[2] as PromiseRejectedResult).reason.message).toBe('refused by the rule');
    expect(String((outcomes[4] as PromiseRejectedResult).reason.code)).toMatch(/^SQLITE_CONSTRAINT/);
    expect(await keys(engine)).toEqual(['g-0', 'g-1', 'g-3', 'g-5']);
    await engine.close();
  });

  it('settles no member before the COMMIT: while another process holds the lock, none is answered, then all are', async () => {
    const dataDir = freshDir('data');
    const engine = SqliteEngine.open(dataDir);
    const other = new Database(join(dataDir, 'emmctl.db'));
    other.prepare('BEGIN IMMEDIATE').run();
    let settled = 0;
    const all = Promise.all(Array.from({ length: 10 }, (_, i) => engine.transaction((sql) => put(sql, `g-${i}`, String(i)), { shareCommit: true }).then(() => settled++)));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(0);
    other.prepare('COMMIT').run();
    await all;
    expect(settled).toBe(10);
    expect(await keys(engine)).toHaveLength(10);
    other.close();
    await engine.close();
  });

  it('a COMMIT that fails answers every member with its error, none with success, and writes nothing', async () => {
    const engine = SqliteEngine.open(freshDir('data'));
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => engine.transaction(async (sql) => {
      await put(sql, `g-${i}`, String(i));
      if (i === 1) {
        // Foreign keys checked at COMMIT: a row pointing at no device makes the COMMIT itself fail.
        await sql.run('PRAGMA defer_foreign_keys = ON');
        await sql.run("INSERT INTO channel_devices (device_id, channel, ref, mode, created_at) VALUES ('no-such-device', 'android', 'enterprises/e/devices/x', 'fm', '2026-01-01T00:00:00Z')");
      }
      return i;
    }, { shareCommit: true })));
    expect(outcomes.map((o) => o.status === 'rejected' && String(o.reason.code))).toEqual(Array(5).fill('SQLITE_CONSTRAINT_FOREIGNKEY'));
    expect(await keys(engine)).toEqual([]);
    await engine.close();
  });

  it('past the busy deadline every member hears the store is unavailable, and nothing is written', async () => {
    const dataDir = freshDir('data');
    const engine = SqliteEngine.open(dataDir, { busyDeadlineMs: 200 });
    const other = new Database(join(dataDir, 'emmctl.db'));
    other.prepare('BEGIN IMMEDIATE').run();
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => engine.transaction((sql) => put(sql, `g-${i}`, String(i)), { shareCommit: true })));
    other.prepare('ROLLBACK').run();
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof StoreUnavailableError)).toBe(true);
    expect(await keys(engine)).toEqual([]);
    other.close();
    await engine.close();
  });

  it('a group that has started takes no new members: they commit in the next one, after it', async () => {
    const engine = SqliteEngine.open(freshDir('data'));
    const order: string[] = [];
    const first = engine.transaction(async (sql) => {
      await put(sql, 'g-a', 'a');
      order.push('a');
    }, { shareCommit: true });
    // Queued only once the first group is running: it goes to a group of its own.
    const second = (async () => {
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      return engine.transaction(async (sql) => {
        await put(sql, 'g-b', 'b');
        order.push('b');
      }, { shareCommit: true });
    })();
    const before = engine.commits;
    await Promise.all([first, second]);
    expect(order).toEqual(['a', 'b']);
    expect(engine.commits - before).toBe(2);
    await engine.close();
  });
});
