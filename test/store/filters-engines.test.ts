// Device filters mean the same on both engines: one fleet written to a SQLite store and to a
// PostgreSQL database, every filter form listed on each, the same devices in the same order.
// The glob and owner functions are checked against the JavaScript rules in
// postgres-engine.test.ts; this checks the SQL around them (placeholders, JSON labels, negation,
// NULLs, the version key, sorting and paging).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeviceFilter } from '../../src/model/filter.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { openPostgres } from '../../src/store/postgres/index.js';
import { SqliteEngine } from '../../src/store/sqlite/engine.js';
import { tempDir } from '../helpers/cli.js';
import { freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { ADMIN, createAll, docs, posture, testClock } from './fixtures.js';

const ROWS = [
  { serial: 'F1', platform: 'android', owner: 'ana@example.com', name: 'Ana phone', labels: { team: 'sales', site: 'Berlin' } },
  { serial: 'F2', platform: 'ios', owner: 'Bob@EXAMPLE.com', name: 'bob-ipad', labels: { team: 'Sales' } },
  { serial: 'F3', platform: 'android', owner: 'cleo@other.org', name: 'Cléo 😀', labels: { team: 'ops', 'cost.center/x': '4%_off' } },
  { serial: 'F4', platform: 'windows', name: 'kiosk_01', labels: {} },
  { serial: 'F5', platform: 'android', owner: 'dan@sub.example.com', name: 'ÉCRAN', labels: { site: 'berlin' } },
] as const;

const FILTERS = [
  'label.team=sales', 'label.team!=sales', 'label.team=*ales', 'label.team!=s*', 'label.cost.center/x=4%_off', 'label.cost.center/x=4?_*',
  'label.site=BERLIN*', 'label.missing!=x',
  'owner=example.com', 'owner!=example.com', 'owner=*@EXAMPLE.COM', 'owner=ana@example.com', 'owner=?an@*',
  'name=*phone', 'name=écran', 'name=kiosk?01', 'name=kiosk_01', 'name!=*o*', 'name=Cl?o ?',
  'serial=F?', 'serial!=F3', 'platform=android', 'platform!=android', 'state=preregistered', 'state!=enrolled',
  'os<14', 'os>=13', 'os=14.1', 'os!=14.1',
];

describe('device filters on SQLite and PostgreSQL', () => {
  let db: FreshDatabase;
  let dir: { path: string; cleanup(): void };
  const stores: FleetService[] = [];
  beforeAll(async () => {
    db = await freshDatabase();
    dir = tempDir('emmctl-filters-');
    const clock = testClock();
    const engines = [SqliteEngine.open(join(dir.path, 'data')), (await openPostgres(db.url)).engine];
    for (const engine of engines) {
      const store = new FleetService(engine, { now: clock.now });
      stores.push(store);
      await store.applyChanges(createAll(docs()), ADMIN);
      await store.preregisterDevices(ROWS.map((r) => ({ ...r, labels: { ...r.labels } })), ADMIN);
      // Two enrolled devices, for the version filters.
      const { secret } = await store.createEnrollmentToken({ profile: 'corp' }, ADMIN);
      for (const [serial, osVersion] of [['E1', '13.0'], ['E2', '14.1']] as const) {
        const e = await store.enrollDevice({ token: secret, platform: 'android', serial, osVersion }, 'test');
        await store.checkIn(e.deviceId, { posture: posture({ osVersion }) });
      }
    }
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await db?.drop();
    dir?.cleanup();
  });

  // Devices with equal sort keys are ordered by id, and ids differ between the two stores: compare
  // the selections as sets and the orders as sequences of sort keys.
  const keyOf = (d: { name: string; owner?: string; platform: string; state: string }, sort?: string): string =>
    sort === undefined ? d.name : String((d as Record<string, unknown>)[sort.replace(/^-/, '')] ?? '');
  const listing = async (store: FleetService, filter: string, sort?: string) => {
    const items = (await store.listDevices({ filters: [parseDeviceFilter(filter)], sort, limit: 100 })).items;
    return { serials: items.map((d) => d.serial).sort(), keys: items.map((d) => keyOf(d, sort)) };
  };
  const serials = async (store: FleetService, filter: string) => (await listing(store, filter)).serials;

  it('every filter form selects the same devices, in the same order', async () => {
    const [sqlite, pg] = stores;
    for (const filter of FILTERS) {
      for (const sort of [undefined, 'name', '-owner', 'platform']) {
        expect(await listing(pg!, filter, sort), `${filter} sort ${sort}`).toEqual(await listing(sqlite!, filter, sort));
      }
    }
  });

  it("and the selections are the rules' (a few worked by hand)", async () => {
    const pg = stores[1]!;
    // = without a wildcard is exact; a glob folds case.
    expect(await serials(pg, 'label.team=sales')).toEqual(['F1']);
    expect(await serials(pg, 'label.team=*ales')).toEqual(['F1', 'F2']);
    expect(await serials(pg, 'label.cost.center/x=4%_off')).toEqual(['F3']);
    expect(await serials(pg, 'owner=example.com')).toEqual(['F1', 'F2']);
    expect(await serials(pg, 'name=écran')).toEqual([]);
    expect(await serials(pg, 'name=écra?')).toEqual(['F5']);
    expect(await serials(pg, 'name=kiosk?01')).toEqual(['F4']);
    expect(await serials(pg, 'os<14')).toEqual(['E1']);
  });

  it('pages the same way: each engine walks its own cursors through every device once, in the same key order', async () => {
    for (const sort of ['name', '-name', 'owner', 'platform', '-state']) {
      const walk = async (store: FleetService) => {
        const items: Array<{ serial?: string; key: string }> = [];
        let cursor: string | undefined;
        do {
          const page = await store.listDevices({ sort, limit: 2, cursor });
          items.push(...page.items.map((d) => ({ serial: d.serial, key: keyOf(d, sort) })));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        return { serials: items.map((i) => i.serial).sort(), keys: items.map((i) => i.key) };
      };
      const pg = await walk(stores[1]!);
      expect(pg.serials).toHaveLength(ROWS.length + 2);
      expect(pg, sort).toEqual(await walk(stores[0]!));
    }
  });
});
