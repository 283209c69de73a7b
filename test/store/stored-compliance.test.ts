// Stored compliance (issue #8 item 5): listings read each device's stored evaluation instead of
// evaluating it, and must answer exactly as an evaluation from scratch would, whatever happened
// since it was stored: check-ins, applies that change policies and groups, reconcile passes, and
// the clock moving on its own (check-in ages lapsing, grace periods ending, steps falling due).
// The reference is a second FleetService on the same database with storedCompliance: false.
// Runs on SQLite and on PostgreSQL (the run's embedded cluster, or EMMCTL_TEST_DATABASE_URL).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/agent/fleet.js';
import type { ComplianceQuery } from '../../src/model/requests.js';
import type { DeviceCompliance } from '../../src/model/fleet.js';
import type { Platform, ResourceDocument } from '../../src/model/policy.generated.js';
import type { SqlEngine } from '../../src/store/engine.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { ADMIN, DAY, freshEngines, testClock } from './fixtures.js';

const HOUR = 3_600_000;
const fresh = freshEngines('emmctl-stored-compliance-');
afterAll(() => fresh.cleanup());
const ENGINES = fresh.engines;

const doc = (kind: string, name: string, spec: unknown) => ({ apiVersion: 'emmctl/v1', kind, metadata: { name }, spec }) as unknown as ResourceDocument;

/** A random compliance policy: a few rules (always one check-in age, the clock's own input) and steps. */
function randomPolicy(rand: () => number, name: string, groups: string[]): ResourceDocument {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const rules: Record<string, unknown> = { maxCheckInAgeDays: 1 + Math.floor(rand() * 4) };
  if (rand() < 0.6) rules.minOsVersion = { android: pick(['12', '13', '14']), ios: pick(['16', '17.0', '17.4']) };
  if (rand() < 0.5) rules.encryption = 'required';
  if (rand() < 0.4) rules.passcode = 'required';
  if (rand() < 0.3) rules.requiredApps = ['com.example.vpn'];
  const actions: Array<{ after: string; do: string }> = [];
  if (rand() < 0.8) actions.push({ after: pick(['0d', '12h', '1d', '2d']), do: 'markNoncompliant' });
  if (rand() < 0.7) actions.push({ after: pick(['0d', '6h', '1d', '3d']), do: 'notify' });
  if (rand() < 0.4) actions.push({ after: pick(['2d', '4d']), do: 'notify' });
  return doc('CompliancePolicy', name, { assign: groups, rules, ...(actions.length ? { actions } : {}) });
}

function randomGroup(rand: () => number, name: string): ResourceDocument {
  const r = rand();
  const match = r < 0.4 ? { platforms: [rand() < 0.5 ? 'android' : 'ios'] } : r < 0.7 ? { labels: { team: rand() < 0.5 ? 'sales' : 'ops' } } : { ownership: 'corporate' };
  return doc('Group', name, { match });
}

function randomPosture(rand: () => number, platform: Platform) {
  const os = platform === 'android' ? ['11', '12', '13', '14', '15'] : ['15.8', '16.7', '17.0', '17.4.1', '18.1'];
  return {
    osVersion: os[Math.floor(rand() * os.length)]!,
    encrypted: rand() < 0.8,
    passcodeSet: rand() < 0.8,
    compromised: false,
    installedApps: rand() < 0.6 ? ['com.example.vpn'] : [],
  };
}

async function everything(store: FleetService, query: ComplianceQuery): Promise<DeviceCompliance[]> {
  const out: DeviceCompliance[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listCompliance({ ...query, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** The listings compared after every step: the plain one, status filters (SQL on the stored column), a group, paging, another sort, a what-if. */
function queries(rand: () => number): ComplianceQuery[] {
  const statuses = ['compliant', 'noncompliant', 'in-grace', 'unknown'] as const;
  const status = statuses[Math.floor(rand() * statuses.length)]!;
  const whatIf = `+${1 + Math.floor(rand() * 72)}h`;
  return [
    {},
    { filters: [{ field: 'compliance', op: '=', value: status }] },
    { filters: [{ field: 'compliance', op: '!=', value: status }], limit: 7 },
    { filters: [{ field: 'compliance', op: '=', value: 'noncompliant' }, { field: 'group', op: '=', value: 'g1' }], sort: '-lastCheckIn' },
    { limit: 9, sort: 'platform' },
    { at: whatIf },
    { at: whatIf, filters: [{ field: 'compliance', op: '=', value: status }] },
  ];
}

describe.each(ENGINES)('stored compliance on %s', (_name, open) => {
  const engines: SqlEngine[] = [];
  afterEach(async () => {
    while (engines.length) await engines.pop()!.close();
  });

  async function stores(clock: ReturnType<typeof testClock>) {
    const engine = await open();
    engines.push(engine);
    return { engine, stored: new FleetService(engine, { now: clock.now }), scratch: new FleetService(engine, { now: clock.now, storedCompliance: false }) };
  }

  it('a random fleet through random check-ins, applies, reconcile passes and clock advances lists as an evaluation from scratch', async () => {
    const seed = 8_2026;
    const rand = mulberry32(seed);
    const clock = testClock('2026-03-01T00:00:00.000Z');
    const { engine, stored, scratch } = await stores(clock);
    const groups = ['g1', 'g2', 'g3'].map((g) => randomGroup(rand, g));
    let policies = ['p1', 'p2', 'p3'].map((p, i) => randomPolicy(rand, p, i === 0 ? ['all'] : [`g${i}`, `g${i + 1}`]));
    await stored.applyChanges([
      ...[...groups, ...policies].map((d) => ({ op: 'create' as const, kind: d.kind, name: d.metadata.name, document: d })),
      { op: 'create', kind: 'EnrollmentProfile', name: 'corp', document: doc('EnrollmentProfile', 'corp', { platforms: ['android', 'ios'], ownership: 'corporate' }) },
    ], ADMIN);
    const n = 36;
    const platforms: Platform[] = Array.from({ length: n }, () => (rand() < 0.5 ? 'android' : 'ios'));
    await stored.preregisterDevices(platforms.map((platform, i) => ({ serial: `S${i}`, platform, ownership: 'corporate', labels: { team: rand() < 0.5 ? 'sales' : 'ops' } })), ADMIN);
    const { secret } = await stored.createEnrollmentToken({ profile: 'corp', maxUses: n }, ADMIN);
    const ids: string[] = [];
    for (const [i, platform] of platforms.entries()) {
      const p = randomPosture(rand, platform);
      const e = await stored.enrollDevice({ token: secret, platform, serial: `S${i}`, osVersion: p.osVersion }, 'test');
      ids.push(e.deviceId);
      // A few never check in (unknown); the rest report a posture.
      if (i % 9 !== 4) await stored.checkIn(e.deviceId, { posture: p });
    }

    let compared = 0;
    let fromStore = 0;
    for (let step = 0; step < 30; step++) {
      const r = rand();
      if (r < 0.35) {
        // The clock alone: minutes to days.
        clock.advance(Math.floor(rand() * (rand() < 0.5 ? 6 * HOUR : 3 * DAY)));
      } else if (r < 0.6) {
        for (const [i, id] of ids.entries()) if (rand() < 0.3) await stored.checkIn(id, { posture: randomPosture(rand, platforms[i]!) });
      } else if (r < 0.75) {
        // An apply changes a policy (or a group): no device row is written, their evaluations go stale.
        const current = await stored.listResources();
        if (rand() < 0.7) {
          const i = Math.floor(rand() * policies.length);
          const next = randomPolicy(rand, policies[i]!.metadata.name, (policies[i]! as { spec: { assign: string[] } }).spec.assign);
          const version = current.find((c) => c.kind === 'CompliancePolicy' && c.name === next.metadata.name)!.version;
          await stored.applyChanges([{ op: 'update', kind: 'CompliancePolicy', name: next.metadata.name, document: next, expectedVersion: version }], ADMIN);
          policies = policies.map((p, j) => (j === i ? next : p));
        } else {
          const name = `g${1 + Math.floor(rand() * 3)}`;
          const next = randomGroup(rand, name);
          const version = current.find((c) => c.kind === 'Group' && c.name === name)!.version;
          await stored.applyChanges([{ op: 'update', kind: 'Group', name, document: next, expectedVersion: version }], ADMIN);
        }
      } else {
        // Reconcile, sometimes in pages: episodes open and end, steps fire, stale evaluations are stored again.
        let next: string | undefined;
        do next = (await stored.reconcile(clock.now(), { ...(next ? { after: next } : {}), maxDevices: rand() < 0.5 ? 10 : 1000 })).next;
        while (next);
      }
      for (const q of queries(rand)) {
        const [a, b] = [await everything(stored, q), await everything(scratch, q)];
        expect(a, `step ${step}, query ${JSON.stringify(q)}`).toEqual(b);
        compared++;
      }
      const now = clock.now().toISOString();
      fromStore += (await engine.transaction((sql) => sql.all('SELECT id FROM devices WHERE compliance_gen IS NOT NULL AND compliance_from <= ? AND compliance_until > ?', [now, now]), { readOnly: true })).length;
    }
    expect(compared).toBe(30 * 7);
    // The comparison means something only if listings did read stored evaluations along the way.
    expect(fromStore).toBeGreaterThan(n * 5);
  });

  it('the listing shows the stored evaluation itself (a tampered one shows), and only while it is fresh', async () => {
    const clock = testClock('2026-03-01T00:00:00.000Z');
    const { engine, stored, scratch } = await stores(clock);
    await stored.applyChanges([
      { op: 'create', kind: 'CompliancePolicy', name: 'age', document: doc('CompliancePolicy', 'age', { assign: ['all'], rules: { maxCheckInAgeDays: 2 }, actions: [{ after: '1d', do: 'markNoncompliant' }] }) },
      { op: 'create', kind: 'EnrollmentProfile', name: 'corp', document: doc('EnrollmentProfile', 'corp', { platforms: ['android'], ownership: 'corporate' }) },
    ], ADMIN);
    const { secret } = await stored.createEnrollmentToken({ profile: 'corp' }, ADMIN);
    const e = await stored.enrollDevice({ token: secret, platform: 'android', serial: 'T1', osVersion: '14' }, 'test');
    await stored.checkIn(e.deviceId, { posture: { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [] } });
    const row = await engine.transaction((sql) => sql.get<{ compliance_status: string; compliance_until: string }>('SELECT compliance_status, compliance_until FROM devices WHERE id = ?', [e.deviceId]));
    // Compliant until one millisecond past two days after the check-in.
    expect(row).toEqual({ compliance_status: 'compliant', compliance_until: '2026-03-03T00:00:00.001Z' });
    // Tamper: the listing must now show what is stored, proving it reads the stored evaluation.
    await engine.transaction((sql) => sql.run("UPDATE devices SET compliance_status = 'unknown', compliance = ? WHERE id = ?",
      [JSON.stringify({ status: 'unknown', failures: [], policies: ['tampered'], failing: false, steps: [] }), e.deviceId]));
    expect((await stored.listCompliance()).items.map((d) => [d.status, d.policies])).toEqual([['unknown', ['tampered']]]);
    expect((await stored.listCompliance({ filters: [{ field: 'compliance', op: '=', value: 'compliant' }] })).items).toEqual([]);
    // Past compliance_until the tampered row is no longer fresh: evaluated again, and right.
    clock.advance(2 * DAY + 1);
    const late = await stored.listCompliance();
    expect(late.items.map((d) => [d.status, d.failures.map((f) => f.actual)])).toEqual([['in-grace', ['last check-in 2d ago']]]);
    expect(late).toEqual(await scratch.listCompliance());
    expect((await stored.listCompliance({ filters: [{ field: 'compliance', op: '=', value: 'in-grace' }] })).items).toHaveLength(1);
  });

  it('an apply writes no device row: evaluations of the old generation are stale until a reconcile pass stores them again', async () => {
    const clock = testClock('2026-03-01T00:00:00.000Z');
    const { engine, stored, scratch } = await stores(clock);
    const policy = (rules: unknown) => doc('CompliancePolicy', 'base', { assign: ['all'], rules });
    await stored.applyChanges([
      { op: 'create', kind: 'CompliancePolicy', name: 'base', document: policy({ encryption: 'required' }) },
      { op: 'create', kind: 'EnrollmentProfile', name: 'corp', document: doc('EnrollmentProfile', 'corp', { platforms: ['android'], ownership: 'corporate' }) },
    ], ADMIN);
    const { secret } = await stored.createEnrollmentToken({ profile: 'corp' }, ADMIN);
    for (let i = 0; i < 12; i++) {
      const e = await stored.enrollDevice({ token: secret, platform: 'android', serial: `A${i}`, osVersion: '14' }, 'test');
      await stored.checkIn(e.deviceId, { posture: { osVersion: i % 2 ? '12' : '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [] } });
    }
    const fresh = async () => {
      const gen = (await engine.transaction((sql) => sql.get<{ value: string }>("SELECT value FROM meta WHERE key = 'resource_generation'")))!.value;
      return (await engine.transaction((sql) => sql.all('SELECT id FROM devices WHERE compliance_gen = ?', [`${gen}:raw`]))).length;
    };
    expect(await fresh()).toBe(12);
    const version = (await stored.listResources('CompliancePolicy'))[0]!.version;
    await stored.applyChanges([{ op: 'update', kind: 'CompliancePolicy', name: 'base', document: policy({ minOsVersion: { android: '13' } }), expectedVersion: version }], ADMIN);
    expect(await fresh()).toBe(0);
    const filter = { filters: [{ field: 'compliance', op: '=' as const, value: 'noncompliant' }] };
    expect((await stored.listCompliance(filter)).items).toHaveLength(6);
    expect(await stored.listCompliance(filter)).toEqual(await scratch.listCompliance(filter));
    await stored.reconcile(clock.now(), { maxDevices: 5 });
    expect(await fresh()).toBe(5);
    await stored.reconcile(clock.now());
    expect(await fresh()).toBe(12);
    expect(await stored.listCompliance(filter)).toEqual(await scratch.listCompliance(filter));
  });
});
