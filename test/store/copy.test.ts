// The copy of an embedded store into PostgreSQL (src/store/copy.ts), below the CLI: every table
// of both schemas is accounted for, and a source written to during the copy is refused with the
// target rolled back to nothing.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COPIED_TABLES, copyStoreToPostgres, NOT_COPIED } from '../../src/store/copy.js';
import { PostgresEngine } from '../../src/store/postgres/engine.js';
import { migratePostgres } from '../../src/store/postgres/migrations.js';
import { SqliteEngine } from '../../src/store/sqlite/engine.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { adminQuery, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';

const publicTables = async (url: string): Promise<string[]> =>
  (await adminQuery("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1", url)).rows.map((r: { table_name: string }) => r.table_name);

describe('copying an embedded store into PostgreSQL', () => {
  let dir: { path: string; cleanup: () => void };
  let db: FreshDatabase;
  beforeAll(async () => {
    dir = tempDir();
    db = await freshDatabase();
  });
  afterAll(async () => {
    await db?.drop();
    dir?.cleanup();
  });

  it('copies or deliberately leaves out every table of both schemas, so a new table cannot be forgotten', async () => {
    const copied = COPIED_TABLES.map((t) => t.name);
    const sqliteDir = join(dir.path, 'schema');
    const engine = SqliteEngine.open(sqliteDir);
    await engine.close();
    const sqlite = new Database(join(sqliteDir, 'emmctl.db'), { readonly: true });
    const sqliteTables = (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
    sqlite.close();
    expect(sqliteTables.sort()).toEqual([...copied, ...NOT_COPIED.sqlite].sort());

    const scratch = await freshDatabase();
    try {
      const pg = await PostgresEngine.open(scratch.url);
      await migratePostgres(pg);
      await pg.close();
      expect(await publicTables(scratch.url)).toEqual([...copied, ...NOT_COPIED.postgres].sort());
    } finally {
      await scratch.drop();
    }
  });

  it('refuses a store that another process writes to while it is copied, and rolls the target back to nothing', async () => {
    const source = join(dir.path, 'busy');
    const made = await runCli(['server', 'token', 'create', '--role', 'admin', '--name', 'busy', '--data-dir', source]);
    expect(made.code, made.stderr).toBe(0);
    // Another connection, as a running server would be, commits while the copy reads.
    const writer = new Database(join(source, 'emmctl.db'));
    const target = await PostgresEngine.open(db.url);
    try {
      const copy = copyStoreToPostgres({
        dataDir: source,
        target,
        onProgress: (what) => {
          if (what === 'copying devices') writer.prepare("INSERT INTO audit (at, actor, source, action, target) VALUES ('2026-01-01T00:00:00.000Z', 'x', 'cli', 'test', 'nothing')").run();
        },
      });
      await expect(copy).rejects.toThrow(/^the store at .*emmctl\.db changed while it was being copied: a server or another emmctl is writing to it; the copy was rolled back, nothing was changed$/);
    } finally {
      writer.close();
      await target.close();
    }
    expect(await publicTables(db.url)).toEqual([]);

    // Left alone, the same store copies.
    const again = await PostgresEngine.open(db.url);
    try {
      const report = await copyStoreToPostgres({ dataDir: source, target: again });
      expect(report.tables.every((t) => t.equal)).toBe(true);
      expect(report.tables.find((t) => t.table === 'api_tokens')).toMatchObject({ source: 1, target: 1 });
    } finally {
      await again.close();
    }
  });

  it('continues each sequence after the highest number the store ever gave, not the highest still there', async () => {
    const source = join(dir.path, 'delivered');
    expect((await runCli(['server', 'token', 'create', '--role', 'admin', '--name', 'x', '--data-dir', source])).code).toBe(0);
    // Three notification events, the last two delivered (deleted), as the notifier does.
    const writer = new Database(join(source, 'emmctl.db'));
    for (const n of [1, 2, 3]) writer.prepare("INSERT INTO notify_outbox (event_id, device_id, event, created_at) VALUES (?, 'dev_1', '{}', '2026-01-01T00:00:00.000Z')").run(`ev_${n}`);
    writer.prepare("DELETE FROM notify_outbox WHERE event_id IN ('ev_2', 'ev_3')").run();
    writer.close();
    const scratch = await freshDatabase();
    const target = await PostgresEngine.open(scratch.url);
    try {
      const report = await copyStoreToPostgres({ dataDir: source, target });
      expect(report.sequences.find((s) => s.table === 'notify_outbox')).toEqual({ table: 'notify_outbox', next: 4 });
      const next = await target.transaction((sql) => sql.get<{ seq: number }>("INSERT INTO notify_outbox (event_id, device_id, event, created_at) VALUES ('ev_new', 'dev_1', '{}', '2026-01-02T00:00:00.000Z') RETURNING seq"));
      expect(next!.seq).toBe(4);
      const audit = await target.transaction((sql) => sql.get<{ seq: number }>("INSERT INTO audit (at, actor, source, action, target) VALUES ('2026-01-02T00:00:00.000Z', 'x', 'cli', 'test', 'x') RETURNING seq"));
      expect(audit!.seq).toBe(report.tables.find((t) => t.table === 'audit')!.source + 1);
    } finally {
      await target.close();
      await scratch.drop();
    }
  });
});
