// The resource snapshot a FleetService caches (its documents and the generation that labels
// them, and the stored evaluations) must come from one moment of the database. Two engines on one
// database: B's unit of work is held right after it read the resource generation while A applies
// a change and commits. On PostgreSQL a write transaction is READ COMMITTED, so a second
// statement would see A's documents under the generation from before them; on SQLite B's write
// transaction holds the file's write lock, so A's apply waits for it instead (B is let go first).
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import { FleetService } from '../../src/service/fleet-service.js';
import type { Sql, SqlEngine } from '../../src/store/engine.js';
import { openPostgres } from '../../src/store/postgres/index.js';
import { SqliteEngine } from '../../src/store/sqlite/engine.js';
import { tempDir } from '../helpers/cli.js';
import { freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { ADMIN, createAll, docs, enrollDevice } from './fixtures.js';

const databases: FreshDatabase[] = [];
const dirs: Array<{ cleanup(): void }> = [];
const engines: SqlEngine[] = [];
afterEach(async () => {
  while (engines.length) await engines.pop()!.close();
});
afterAll(async () => {
  for (const db of databases) await db.drop();
  dirs.forEach((d) => d.cleanup());
});

interface Shape {
  openTwo(): Promise<[SqlEngine, SqlEngine]>;
  /** Whether A's apply can commit while B's write transaction is open (else it waits for B). */
  applyCommitsDuringWrite: boolean;
}

const SHAPES: Array<[string, Shape]> = [
  ['postgres', {
    applyCommitsDuringWrite: true,
    async openTwo() {
      const db = await freshDatabase();
      databases.push(db);
      return [(await openPostgres(db.url)).engine, (await openPostgres(db.url)).engine];
    },
  }],
  ['sqlite', {
    applyCommitsDuringWrite: false,
    async openTwo() {
      const dir = tempDir('emmctl-snapshot-');
      dirs.push(dir);
      const dataDir = join(dir.path, 'data');
      return [SqliteEngine.open(dataDir), SqliteEngine.open(dataDir)];
    },
  }],
];

function marker(rev: string): ResourceDocument {
  return { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'marker' }, spec: { match: { labels: { rev } } } };
}

/**
 * `engine` with every unit of work's statements passed through; the first statement that reads
 * the resource generation in a unit of work of the `readOnly` kind asked for runs `hold` once
 * it has its rows, before the unit of work goes on.
 */
function holding(engine: SqlEngine, readOnly: boolean, hold: () => Promise<void>): SqlEngine & { held: boolean } {
  let held = false;
  const wrap = (sql: Sql): Sql => {
    const after = async <T>(text: string, rows: T): Promise<T> => {
      if (!held && text.includes('resource_generation') && /^\s*SELECT/i.test(text)) {
        held = true;
        await hold();
      }
      return rows;
    };
    return {
      dialect: sql.dialect,
      notifies: sql.notifies,
      all: async (text, params) => after(text, await sql.all(text, params)),
      get: async (text, params) => after(text, await sql.get(text, params)),
      run: (text, params) => sql.run(text, params),
    } as Sql;
  };
  return {
    name: engine.name,
    dialect: engine.dialect,
    location: engine.location,
    get held() {
      return held;
    },
    transaction: (fn, options) => engine.transaction((sql) => ((options?.readOnly ?? false) === readOnly ? fn(wrap(sql)) : fn(sql)), options),
    query: (text, params) => engine.query(text, params),
    execute: (text, params) => engine.execute(text, params),
    ping: () => engine.ping(),
    close: () => engine.close(),
  };
}

/** What B cached: the generation and the marker Group's revision it holds under it. */
function cachedSnapshot(store: FleetService): { generation: string; rev: unknown } {
  const snap = (store as unknown as { snapshot?: { generation: string; groups: ResourceDocument[] } }).snapshot;
  if (!snap) throw new Error('no resource snapshot cached');
  const group = snap.groups.find((g) => g.metadata.name === 'marker') as Extract<ResourceDocument, { kind: 'Group' }> | undefined;
  return { generation: snap.generation, rev: group?.spec.match?.labels?.rev };
}

/** The generation and revision a fresh service reads now, with nothing in between. */
async function current(engine: SqlEngine): Promise<{ generation: string; rev: unknown }> {
  const fresh = new FleetService(engine);
  await fresh.listDevices({ limit: 1 });
  return cachedSnapshot(fresh);
}

describe.each(SHAPES)('resource snapshot: %s, two engines on one database', (_name, shape) => {
  async function setup() {
    const [a, b] = await shape.openTwo();
    engines.push(a, b);
    const writer = new FleetService(a);
    await writer.applyChanges(createAll([...docs(), marker('v1')]), ADMIN);
    const device = await enrollDevice(writer);
    return { a, b, writer, device };
  }

  it('labels the documents of a write unit of work (reconcile) with their own generation while an apply commits in between', async () => {
    const { a, b, writer } = await setup();
    const before = await current(a);
    expect(before.rev).toBe('v1');
    let applied: Promise<unknown> | undefined;
    const apply = () => writer.applyChanges([{ op: 'update', kind: 'Group', name: 'marker', document: marker('v2'), expectedVersion: 1 }], ADMIN);
    const held = holding(b, false, async () => {
      applied = apply();
      if (shape.applyCommitsDuringWrite) await applied;
    });
    const reader = new FleetService(held);
    await reader.reconcile();
    await applied;
    expect(held.held).toBe(true);
    const after = await current(a);
    expect(after).not.toEqual(before);
    expect(after.rev).toBe('v2');
    // Either moment is right; a mix of the two is the bug.
    expect([before, after]).toContainEqual(cachedSnapshot(reader));
    // And the next unit of work moves on to the apply's documents, under its generation.
    await reader.reconcile();
    expect(cachedSnapshot(reader)).toEqual(after);
  });

  it('labels the documents of a read-only unit of work (device details) with their own generation while an apply commits in between', async () => {
    const { a, b, writer, device } = await setup();
    const before = await current(a);
    const held = holding(b, true, async () => {
      await writer.applyChanges([{ op: 'update', kind: 'Group', name: 'marker', document: marker('v2'), expectedVersion: 1 }], ADMIN);
    });
    const reader = new FleetService(held);
    await reader.getDevice(device.deviceId);
    expect(held.held).toBe(true);
    const after = await current(a);
    expect(after.rev).toBe('v2');
    expect([before, after]).toContainEqual(cachedSnapshot(reader));
  });
});
