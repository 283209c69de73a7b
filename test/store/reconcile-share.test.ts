// Reconcile passes shared by replicas (FleetService.reconcileShare, src/store/repos/reconcile.ts):
// three services on one database stand for three replicas. Each enrolled device is evaluated once
// per pass whoever takes which page, a page whose holder died is taken over once its lease runs
// out, a pass starts only when it is due, and expiry runs once per pass. The clock is the test's,
// so leases and due times are states, not waits. Runs on SQLite and on PostgreSQL.
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SqlEngine } from '../../src/store/engine.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { openPostgres } from '../../src/store/postgres/index.js';
import { SqliteEngine } from '../../src/store/sqlite/engine.js';
import { tempDir } from '../helpers/cli.js';
import { freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { ADMIN, enrollDevice, testClock } from './fixtures.js';

const dirs: Array<{ cleanup(): void }> = [];
const databases: FreshDatabase[] = [];
afterAll(async () => {
  dirs.forEach((d) => d.cleanup());
  for (const d of databases) await d.drop();
});

/** Three engines on one database, as three replicas would have (a pool each on PostgreSQL; connections of their own to one file on SQLite). */
const ENGINES: Array<[string, () => Promise<SqlEngine[]>]> = [
  ['sqlite', async () => {
    const dir = tempDir('emmctl-reconcile-share-');
    dirs.push(dir);
    const first = SqliteEngine.open(join(dir.path, 'data'));
    return [first, SqliteEngine.open(join(dir.path, 'data')), SqliteEngine.open(join(dir.path, 'data'))];
  }],
  ['postgres', async () => {
    const db = await freshDatabase();
    databases.push(db);
    return Promise.all([0, 1, 2].map(async () => (await openPostgres(db.url)).engine));
  }],
];

const MINUTE = 60_000;
const OPTS = { intervalMs: 10 * MINUTE, leaseMs: MINUTE, pageSize: 4 };
const DEVICES = 15;
const LOCKING = {
  apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'needs-passcode' },
  spec: { assign: ['all'], rules: { passcode: 'required' }, actions: [{ after: '0d', do: 'lock' }] },
};
const PROFILE = { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'corp' }, spec: { platforms: ['android'], ownership: 'corporate', maxUses: 1000 } };

describe.each(ENGINES)('shared reconcile passes on %s', (name, open) => {
  const engines: SqlEngine[] = [];
  afterEach(async () => {
    while (engines.length) await engines.pop()!.close();
  });

  /** Three services ("replicas") on one database and DEVICES enrolled devices, compliant until LOCKING is applied. */
  async function setup() {
    const clock = testClock('2026-05-01T00:00:00.000Z');
    const opened = await open();
    engines.push(...opened);
    const replicas = opened.map((e) => new FleetService(e, { now: clock.now }));
    const first = replicas[0]!;
    await first.applyChanges([{ op: 'create', kind: 'EnrollmentProfile', name: 'corp', document: PROFILE as never }], ADMIN);
    const ids: string[] = [];
    for (let i = 0; i < DEVICES; i++) ids.push((await enrollDevice(first, { posture: { passcodeSet: false } })).deviceId);
    return { clock, replicas, ids, first };
  }

  async function locks(store: FleetService): Promise<Map<string, number>> {
    const byDevice = new Map<string, number>();
    let cursor: string | undefined;
    do {
      const page = await store.listCommands({ type: 'lock', limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const c of page.items) byDevice.set(c.deviceId, (byDevice.get(c.deviceId) ?? 0) + 1);
      cursor = page.nextCursor;
    } while (cursor);
    return byDevice;
  }

  it('three replicas taking pages in turn evaluate every enrolled device once per pass, and each step fires once', async () => {
    const { replicas, ids, first, clock } = await setup();
    await first.applyChanges([{ op: 'create', kind: 'CompliancePolicy', name: LOCKING.metadata.name, document: LOCKING as never }], ADMIN);
    const evaluated: number[] = [0, 0, 0];
    let pages = 0;
    // Round-robin, one claim each, until nobody gets a page: the pass is handed out.
    for (let turn = 0, idle = 0; idle < replicas.length; turn = (turn + 1) % replicas.length) {
      const claim = await replicas[turn]!.claimReconcilePage(`r${turn}`, OPTS);
      if (!claim.page) {
        idle += 1;
        continue;
      }
      idle = 0;
      pages += 1;
      evaluated[turn]! += await replicas[turn]!.reconcilePage(claim.page, `r${turn}`);
    }
    const total = evaluated.reduce((a, b) => a + b, 0);
    console.log(`${name}: pass 1 over ${DEVICES} devices in ${pages} pages: evaluated ${evaluated.join(' + ')} = ${total} (${(total / DEVICES).toFixed(2)} per device)`);
    expect(total).toBe(DEVICES);
    expect(evaluated.filter((n) => n > 0).length).toBe(3);
    const fired = await locks(first);
    expect([...fired.keys()].sort()).toEqual([...ids].sort());
    expect([...fired.values()].every((n) => n === 1)).toBe(true);

    // The pass is over but not due again: nothing to do until its interval has run.
    const idle = await replicas[1]!.reconcileShare('r1', OPTS);
    expect(idle).toMatchObject({ pass: 1, pages: 0, devices: 0 });
    expect(idle.wakeAt.toISOString()).toBe(new Date(clock.now().getTime() + OPTS.intervalMs).toISOString());
    clock.set(idle.wakeAt.toISOString());
    const second = await replicas[2]!.reconcileShare('r2', OPTS);
    expect(second).toMatchObject({ pass: 2, started: true, pages: Math.ceil((DEVICES + 1) / OPTS.pageSize), devices: DEVICES });
  });

  it('three replicas asking at once split a pass without evaluating a device twice', async () => {
    const { replicas, clock } = await setup();
    for (let pass = 1; pass <= 3; pass++) {
      const shares = await Promise.all(replicas.map((r, i) => r.reconcileShare(`r${i}`, OPTS)));
      const total = shares.reduce((a, s) => a + s.devices, 0);
      console.log(`${name}: concurrent pass ${pass}: ${shares.map((s) => `${s.devices} in ${s.pages} pages`).join(', ')} for ${DEVICES} devices`);
      expect(shares.filter((s) => s.started).length).toBe(1);
      expect(new Set(shares.map((s) => s.pass))).toEqual(new Set([pass]));
      expect(total).toBe(DEVICES);
      // Asking again before the interval has run does nothing.
      expect((await replicas[0]!.reconcileShare('r0', OPTS)).devices).toBe(0);
      clock.set(new Date(Math.max(...shares.map((s) => s.wakeAt.getTime()))).toISOString());
    }
  });

  it('takes over a page whose holder died once its lease runs out, and starts the next pass only after that page is done', async () => {
    const { replicas, ids, first, clock } = await setup();
    await first.applyChanges([{ op: 'create', kind: 'CompliancePolicy', name: LOCKING.metadata.name, document: LOCKING as never }], ADMIN);
    // r0 claims the first page and dies before evaluating it (its transaction never commits).
    const lost = await replicas[0]!.claimReconcilePage('r0', OPTS);
    expect(lost.page).toMatchObject({ pass: 1, after: '' });
    const lostIds = ids.filter((id) => id > lost.page!.after && id <= lost.page!.last);
    expect(lostIds.length).toBe(OPTS.pageSize);
    // r1 does the rest of the pass and is told to come back when r0's lease runs out.
    const rest = await replicas[1]!.reconcileShare('r1', OPTS);
    expect(rest.devices).toBe(DEVICES - OPTS.pageSize);
    expect(rest.wakeAt.toISOString()).toBe(new Date(clock.now().getTime() + OPTS.leaseMs).toISOString());
    let fired = await locks(first);
    expect(lostIds.filter((id) => fired.has(id))).toEqual([]);
    // Before the lease runs out nobody takes the page over, and no new pass starts.
    clock.advance(OPTS.leaseMs - 1);
    expect(await replicas[2]!.reconcileShare('r2', OPTS)).toMatchObject({ pass: 1, devices: 0 });
    clock.advance(1);
    const takeover = await replicas[2]!.reconcileShare('r2', OPTS);
    expect(takeover).toMatchObject({ pass: 1, pages: 1, devices: OPTS.pageSize });
    fired = await locks(first);
    expect([...fired.keys()].sort()).toEqual([...ids].sort());
    expect([...fired.values()].every((n) => n === 1)).toBe(true);
    // r0 comes back to life and evaluates its stale page anyway: the step claims keep the locks single.
    await replicas[0]!.reconcilePage(lost.page!, 'r0');
    expect([...(await locks(first)).values()].every((n) => n === 1)).toBe(true);
  });

  it('expires aged commands once per pass, by the replica that starts it', async () => {
    const { replicas, first, clock } = await setup();
    await first.applyChanges([{ op: 'create', kind: 'CompliancePolicy', name: LOCKING.metadata.name, document: LOCKING as never }], ADMIN);
    const shares = await Promise.all(replicas.map((r, i) => r.reconcileShare(`r${i}`, OPTS)));
    expect(shares.reduce((a, s) => a + s.expired, 0)).toBe(0);
    // 30 days later every queued lock has run out; the next pass expires them, once.
    clock.advance(31 * 86_400_000);
    const later = await Promise.all(replicas.map((r, i) => r.reconcileShare(`r${i}`, OPTS)));
    expect(later.filter((s) => s.started).map((s) => s.expired)).toEqual([DEVICES]);
    expect(later.reduce((a, s) => a + s.expired, 0)).toBe(DEVICES);
  });
});
