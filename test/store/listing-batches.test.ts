// A listing page read in batches (FleetService scanDevices): where statements run beside the
// caller (PostgreSQL), a page of 1,000 is read as a first batch of 250 and then the rest, the
// second asked for before the first is worked on. Pages must be exactly those of batches that
// never split (a page of at most 249 is one statement): the same records, cursors and ends,
// with filters that SQL applies and ones evaluated while scanning. Both engines (SQLite never
// splits, so there it is the control).
import { afterAll, describe, expect, it } from 'vitest';
import type { ComplianceQuery, DeviceQuery } from '../../src/model/requests.js';
import type { Page } from '../../src/model/fleet.js';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import type { SqlEngine } from '../../src/store/engine.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { ADMIN, freshEngines, testClock } from './fixtures.js';

const fresh = freshEngines('emmctl-listing-batches-');
const engines: SqlEngine[] = [];
afterAll(async () => {
  for (const e of engines) await e.close();
  await fresh.cleanup();
});

const doc = (kind: string, name: string, spec: unknown) => ({ apiVersion: 'emmctl/v1', kind, metadata: { name }, spec }) as unknown as ResourceDocument;
const N = 640;

async function pages<T>(list: (q: { cursor?: string; limit: number }) => Promise<Page<T>>, limit: number): Promise<{ items: T[]; cursors: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  let cursors = 0;
  do {
    const page = await list({ limit, ...(cursor ? { cursor } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.nextCursor;
    if (cursor) cursors++;
  } while (cursor);
  return { items, cursors };
}

describe.each(fresh.engines)('listing pages read in batches on %s', (_name, open) => {
  it('gives the records, cursors and ends of pages read in one statement each', async () => {
    const engine = await open();
    engines.push(engine);
    const clock = testClock('2026-03-01T00:00:00.000Z');
    const store = new FleetService(engine, { now: clock.now });
    await store.applyChanges([
      { op: 'create', kind: 'Group', name: 'sales', document: doc('Group', 'sales', { match: { labels: { team: 'sales' } } }) },
      { op: 'create', kind: 'CompliancePolicy', name: 'base', document: doc('CompliancePolicy', 'base', { assign: ['all'], rules: { encryption: 'required', minOsVersion: { android: '13' } }, actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '2d', do: 'notify' }] }) },
      { op: 'create', kind: 'EnrollmentProfile', name: 'corp', document: doc('EnrollmentProfile', 'corp', { platforms: ['android'], ownership: 'corporate' }) },
    ], ADMIN);
    await store.preregisterDevices(Array.from({ length: N }, (_, i) => ({ serial: `S${i}`, platform: 'android' as const, ownership: 'corporate' as const, labels: { team: i % 3 ? 'ops' : 'sales' } })), ADMIN);
    const { secret } = await store.createEnrollmentToken({ profile: 'corp', maxUses: N }, ADMIN);
    for (let i = 0; i < N; i++) {
      const e = await store.enrollDevice({ token: secret, platform: 'android', serial: `S${i}`, name: `d-${String(i % 97).padStart(2, '0')}`, osVersion: i % 4 ? '14' : '12' }, 'test');
      if (i % 11 !== 3) await store.checkIn(e.deviceId, { posture: { osVersion: i % 4 ? '14' : '12', encrypted: i % 5 !== 0, passcodeSet: true, compromised: false, installedApps: [] } });
    }
    await store.reconcile(clock.now());
    clock.advance(3 * 86_400_000);

    const queries: ComplianceQuery[] = [
      {},
      { sort: '-name' },
      { filters: [{ field: 'compliance', op: '=', value: 'noncompliant' }] },
      { filters: [{ field: 'group', op: '=', value: 'sales' }] },
      { filters: [{ field: 'group', op: '!=', value: 'sales' }, { field: 'compliance', op: '!=', value: 'compliant' }], sort: 'lastCheckIn' },
      { at: '+2d' },
    ];
    for (const q of queries) {
      // 100 per page: one statement each (the reference); 1,000: all in one page of two batches;
      // 300: a batch of 250 and one of 51 per page; 251: 250 and the row that says there is more.
      const one = await pages((p) => store.listCompliance({ ...q, ...p }), 100);
      expect(one.items.length, JSON.stringify(q)).toBeGreaterThan(q.filters ? 100 : N - 1);
      for (const limit of [1000, 300, 251, 250]) {
        const batched = await pages((p) => store.listCompliance({ ...q, ...p }), limit);
        expect(batched.items, `${JSON.stringify(q)} limit ${limit}`).toEqual(one.items);
        expect(batched.cursors, `${JSON.stringify(q)} limit ${limit}`).toBe(Math.ceil(one.items.length / limit) - 1);
      }
    }
    const devices: DeviceQuery = { filters: [{ field: 'group', op: '=', value: 'sales' }], sort: 'name' };
    const reference = await pages((p) => store.listDevices({ ...devices, ...p }), 50);
    expect((await pages((p) => store.listDevices({ ...devices, ...p }), 1000)).items).toEqual(reference.items);
    expect((await pages((p) => store.listDevices({ ...devices, ...p }), 260)).items).toEqual(reference.items);
  });
});
