// The store contract: the invariants the fleet service keeps through the store seam, run against
// any SqlEngine. Each guarantee is hammered with concurrent calls (Promise.all on one engine, which
// the engine must serialise or isolate) and, where the engine can be opened twice on one database,
// through two engines at once, as two processes or two server replicas would reach it.
// An engine suite calls describeStoreContract with a factory; every call must give a fresh, empty,
// migrated database.
import { afterEach, describe, expect, it } from 'vitest';
import { BackendError } from '../../../src/errors.js';
import type { ResourceDocument } from '../../../src/model/policy.generated.js';
import type { SqlEngine } from '../../../src/store/engine.js';
import { FleetService } from '../../../src/service/fleet-service.js';
import { takeLease, releaseLease } from '../../../src/store/repos/leases.js';
import { credentialBatcher, writeBatcher, writeCheckIn, type CheckInWrite } from '../../../src/store/repos/checkin.js';
import { deviceById } from '../../../src/store/repos/devices.js';
import { FOREVER } from '../../../src/store/repos/compliance.js';
import type { DeviceRow } from '../../../src/store/repos/rows.js';
import { ADMIN, DAY, createAll, posture, testClock } from '../fixtures.js';

export interface StoreContractOptions {
  /** A fresh, empty, migrated database. */
  open: () => Promise<SqlEngine>;
  /** Two engines on one fresh database (two processes, two replicas); omit when the engine cannot. */
  openTwo?: () => Promise<[SqlEngine, SqlEngine]>;
}

const LOCK_AFTER_A_DAY: ResourceDocument[] = [
  { apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'baseline' }, spec: { assign: ['all'], rules: { encryption: 'required' }, actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '1d', do: 'lock' }] } },
  { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'corp' }, spec: { platforms: ['android', 'ios'], ownership: 'corporate' } },
];

function outcomes<T>(settled: PromiseSettledResult<T>[]) {
  const ok = settled.filter((s): s is PromiseFulfilledResult<T> => s.status === 'fulfilled').map((s) => s.value);
  const errors = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error);
  return { ok, errors };
}

/**
 * On PostgreSQL, where concurrent check-in statements are folded (src/store/batch.ts): from now,
 * the statements one of the batchers sends over all the stores' engines; the returned check
 * asserts that `calls` calls made fewer of them (the ones that arrived while others were in flight
 * shared one). Nothing to check on SQLite.
 */
function statementsShared(stores: FleetService[], batcher: (engine: SqlEngine) => { loads: number }): (calls: number) => void {
  const engines = stores.map((s) => s.engine);
  const before = engines.map((e) => (e.name === 'postgres' ? batcher(e).loads : 0));
  return (calls) => {
    if (engines[0]!.name !== 'postgres') return;
    const loads = engines.reduce((n, e, i) => n + batcher(e).loads - before[i]!, 0);
    expect(loads).toBeGreaterThan(0);
    expect(loads).toBeLessThan(calls);
  };
}

/** A way to open fresh FleetServices on the engine under test, and its name in the test titles. */
export type StoreShape = [name: string, open: () => Promise<FleetService[]>];

/**
 * The shapes a contract suite runs in: one engine, then (when the engine can be opened twice on
 * one database) two engines on one database, as two processes or two replicas reach it. Each
 * call opens a fresh database; its engines are closed after the test. Call it while the suite
 * is being declared (it registers the afterEach).
 */
export function storeShapes(options: StoreContractOptions, clock: { now: () => Date }): StoreShape[] {
  const opened: SqlEngine[] = [];
  afterEach(async () => {
    while (opened.length) await opened.pop()!.close();
  });
  const service = (engine: SqlEngine) => {
    opened.push(engine);
    return new FleetService(engine, { now: clock.now });
  };
  const shapes: StoreShape[] = [['one engine', async () => [service(await options.open())]]];
  const { openTwo } = options;
  if (openTwo) shapes.push(['two engines on one database', async () => (await openTwo()).map(service)]);
  return shapes;
}

export function describeStoreContract(name: string, options: StoreContractOptions): void {
  const clock = testClock();
  const shapes = storeShapes(options, clock);
  const one = shapes[0]![1];

  async function fleet(stores: FleetService[], documents: ResourceDocument[], devices: number, encrypted = false) {
    clock.set('2026-01-01T00:00:00.000Z');
    await stores[0]!.applyChanges(createAll(documents), ADMIN);
    const { secret } = await stores[0]!.createEnrollmentToken({ profile: 'corp' }, ADMIN);
    const ids: string[] = [];
    for (let i = 0; i < devices; i++) {
      const e = await stores[i % stores.length]!.enrollDevice({ token: secret, platform: 'android', serial: `C${i}`, osVersion: '14' }, 'contract');
      await stores[i % stores.length]!.checkIn(e.deviceId, { posture: posture({ encrypted }) });
      ids.push(e.deviceId);
    }
    return ids;
  }

  describe(`store contract: ${name}`, () => {
    for (const [shape, open] of shapes) {
      describe(shape, () => {
        it('fires an escalation step once per device and episode, however many reconciles and check-ins race', async () => {
          const stores = await open();
          const ids = await fleet(stores, LOCK_AFTER_A_DAY, 30);
          clock.advance(DAY);
          const now = clock.now();
          await Promise.all([
            ...stores.flatMap((s) => [s.reconcile(now), s.reconcile(now)]),
            ...ids.map((id, i) => stores[i % stores.length]!.checkIn(id, { posture: posture({ encrypted: false }) })),
          ]);
          const locks = (await stores[0]!.listCommands({ type: 'lock', limit: 1000 })).items;
          expect(locks.map((c) => c.deviceId).sort()).toEqual([...ids].sort());
          const audited = (await stores[0]!.listAudit({ actor: 'compliance:baseline', limit: 1000 })).items.filter((a) => a.action === 'command.lock');
          expect(audited).toHaveLength(ids.length);
        });

        it("holds an enrollment token's maxUses exactly under concurrent enrollments", async () => {
          const stores = await open();
          await fleet(stores, LOCK_AFTER_A_DAY, 0);
          const { secret } = await stores[0]!.createEnrollmentToken({ profile: 'corp', maxUses: 5 }, ADMIN);
          const settled = await Promise.allSettled(Array.from({ length: 24 }, (_, i) =>
            stores[i % stores.length]!.enrollDevice({ token: secret, platform: 'android', serial: `M${i}`, osVersion: '14' }, 'contract')));
          const { ok, errors } = outcomes(settled);
          expect(ok).toHaveLength(5);
          expect(errors).toHaveLength(19);
          for (const e of errors) expect(e).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/has been used 5 of 5 times/) });
          const [token] = await stores[0]!.listEnrollmentTokens().then((t) => t.filter((x) => x.maxUses === 5));
          expect(token!.uses).toBe(5);
          expect((await stores[0]!.listDevices({ limit: 100 })).items).toHaveLength(5);
        });

        it('never queues a second pending wipe for one device, whichever writer takes the requests', async () => {
          const stores = await open();
          const [id] = await fleet(stores, LOCK_AFTER_A_DAY, 1, true);
          const results = await Promise.all(Array.from({ length: 12 }, (_, i) =>
            stores[i % stores.length]!.enqueueCommands({ deviceIds: [id!], type: 'wipe', idempotencyKey: `wipe-${i}` }, ADMIN)));
          const outcomesSeen = results.map((r) => r.results[0]!.outcome);
          expect(outcomesSeen.filter((o) => o === 'queued')).toHaveLength(1);
          expect(outcomesSeen.filter((o) => o === 'pending')).toHaveLength(11);
          const wipes = (await stores[0]!.listCommands({ deviceId: id, type: 'wipe' })).items;
          expect(wipes).toHaveLength(1);
          expect(new Set(results.map((r) => r.results[0]!.command!.id))).toEqual(new Set([wipes[0]!.id]));
        });

        it('delivers pending commands at check-in: queued ones sent, unreported ones again, expired ones expired and left out', async () => {
          const stores = await open();
          const [id] = await fleet(stores, LOCK_AFTER_A_DAY, 1, true);
          const queue = async (type: 'lock' | 'reboot', key: string) =>
            (await stores[0]!.enqueueCommands({ deviceIds: [id!], type, idempotencyKey: key }, ADMIN)).results[0]!.command!.id;
          const lock = await queue('lock', 'lock-1');
          const first = await stores[stores.length - 1]!.checkIn(id!, { posture: posture() });
          expect(first.commands.map((c) => [c.id, c.type])).toEqual([[lock, 'lock']]);
          expect((await stores[0]!.getCommand(lock)).status).toBe('sent');
          // Sent and not reported: it goes out again.
          clock.advance(29 * DAY);
          const reboot = await queue('reboot', 'reboot-1');
          expect((await stores[0]!.checkIn(id!, { posture: posture() })).commands.map((c) => c.id)).toEqual([lock, reboot]);
          // Past the lock's 30 days (not the reboot's): the lock is expired and no longer sent.
          clock.advance(2 * DAY);
          expect((await stores[stores.length - 1]!.checkIn(id!, { posture: posture() })).commands.map((c) => c.id)).toEqual([reboot]);
          expect((await stores[0]!.getCommand(lock)).status).toBe('expired');
          expect((await stores[0]!.getCommand(reboot)).status).toBe('sent');
        });

        it('refuses a check-in whose device was wiped after its credential check, and writes none of it', async () => {
          const stores = await open();
          clock.set('2026-01-01T00:00:00.000Z');
          await stores[0]!.applyChanges(createAll(LOCK_AFTER_A_DAY), ADMIN);
          const { secret } = await stores[0]!.createEnrollmentToken({ profile: 'corp' }, ADMIN);
          const e = await stores[0]!.enrollDevice({ token: secret, platform: 'android', serial: 'W1', osVersion: '14' }, 'contract');
          const session = (await stores[0]!.authenticateDeviceSession(e.credential))!;
          expect(session.id).toBe(e.deviceId);
          // Meanwhile (another request, another replica): a wipe is sent and acknowledged.
          const other = stores[stores.length - 1]!;
          const wipe = (await other.enqueueCommands({ deviceIds: [e.deviceId], type: 'wipe', idempotencyKey: 'wipe-w1' }, ADMIN)).results[0]!.command!.id;
          await other.checkIn(e.deviceId, { posture: posture() });
          await other.reportCommandResult(e.deviceId, wipe, { status: 'acknowledged' });
          const refused = await stores[0]!.checkIn(e.deviceId, { posture: posture({ osVersion: '15' }) }, session).then(() => undefined, (error: unknown) => error);
          expect(refused).toBeInstanceOf(BackendError);
          expect((refused as BackendError).code).toBe('unauthorized');
          const device = await stores[0]!.getDevice(e.deviceId);
          expect(device.state).toBe('wiped');
          expect(device.osVersion).toBe('14');
          expect(await stores[0]!.authenticateDeviceSession(e.credential)).toBeUndefined();
        });

        it('answers concurrent credential checks each with its own device, whichever share a statement', async () => {
          const stores = await open();
          clock.set('2026-01-01T00:00:00.000Z');
          await stores[0]!.applyChanges(createAll(LOCK_AFTER_A_DAY), ADMIN);
          const { secret } = await stores[0]!.createEnrollmentToken({ profile: 'corp' }, ADMIN);
          const enrolled = [];
          for (let i = 0; i < 24; i++) enrolled.push(await stores[i % stores.length]!.enrollDevice({ token: secret, platform: 'android', serial: `K${i}`, osVersion: '14' }, 'contract'));
          // One wiped device: its credential no longer opens anything.
          const wiped = enrolled.pop()!;
          const wipe = (await stores[0]!.enqueueCommands({ deviceIds: [wiped.deviceId], type: 'wipe', idempotencyKey: 'wipe-k' }, ADMIN)).results[0]!.command!.id;
          await stores[0]!.checkIn(wiped.deviceId, { posture: posture() });
          await stores[0]!.reportCommandResult(wiped.deviceId, wipe, { status: 'acknowledged' });
          const shared = statementsShared(stores, credentialBatcher);
          // Every credential twice, strangers' and the wiped device's among them, all at once.
          const asked = [...enrolled.map((e) => e.credential), ...enrolled.map((e) => e.credential), wiped.credential,
            ...Array.from({ length: 8 }, (_, i) => `not-a-credential-${i}`)];
          const sessions = await Promise.all(asked.map((credential, i) => stores[i % stores.length]!.authenticateDeviceSession(credential)));
          const expected = [...enrolled.map((e) => e.deviceId), ...enrolled.map((e) => e.deviceId), ...Array.from({ length: 9 }, () => undefined)];
          expect(sessions.map((s) => s?.id)).toEqual(expected);
          for (const [i, s] of sessions.entries()) if (s) expect(s.row).toMatchObject({ id: expected[i], serial: `K${i % enrolled.length}`, state: 'enrolled' });
          // The two answers for one credential are two rows: a check-in changing one leaves the other as read.
          expect(sessions[0]!.row).not.toBe(sessions[enrolled.length]!.row);
          expect(sessions[0]!.row).toEqual(sessions[enrolled.length]!.row);
          shared(asked.length);
        });

        it('gives each of many devices checking in at once its own commands and its own posture, whichever share a statement', async () => {
          const stores = await open();
          const ids = await fleet(stores, LOCK_AFTER_A_DAY, 16, true);
          const own = new Map<string, string[]>(ids.map((id) => [id, []]));
          for (const [i, id] of ids.entries()) {
            for (const type of ['reboot', 'lock'] as const) {
              if (type === 'reboot' ? i % 2 === 0 : i % 3 === 0) {
                own.get(id)!.push((await stores[0]!.enqueueCommands({ deviceIds: [id], type, idempotencyKey: `${type}-${i}` }, ADMIN)).results[0]!.command!.id);
              }
            }
          }
          const shared = statementsShared(stores, writeBatcher);
          // Every device twice at once, with two OS versions: two writes of one device never share a statement.
          const asked = [...ids.map((id) => [id, '15']), ...ids.map((id) => [id, '16'])] as Array<[string, string]>;
          const responses = await Promise.all(asked.map(([id, os], i) => stores[i % stores.length]!.checkIn(id, { posture: posture({ osVersion: os, encrypted: true }) })));
          const delivered = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]));
          for (const [i, r] of responses.entries()) {
            expect(r.deviceId).toBe(asked[i]![0]);
            for (const c of r.commands) delivered.get(r.deviceId)!.add(c.id);
          }
          for (const id of ids) {
            expect([...delivered.get(id)!].sort()).toEqual([...own.get(id)!].sort());
            for (const c of own.get(id)!) expect((await stores[0]!.getCommand(c)).status).toBe('sent');
            const device = await stores[0]!.getDevice(id);
            expect(['15', '16']).toContain(device.osVersion);
            expect(device.compliance.status).toBe('compliant');
          }
          // What the check-ins stored is what evaluating the devices afresh gives.
          const evaluating = new FleetService(stores[0]!.engine, { now: clock.now, storedCompliance: false });
          expect((await stores[0]!.listCompliance({ limit: 100 })).items).toEqual((await evaluating.listCompliance({ limit: 100 })).items);
          shared(asked.length);
        });

        it('stores a check-in\'s evaluation only while the row still holds what it was evaluated from', async () => {
          const stores = await open();
          const [id] = await fleet(stores, LOCK_AFTER_A_DAY, 1, true);
          const engine = stores[stores.length - 1]!.engine;
          // The whole row: the check-in's own read leaves out the stored evaluation it only writes.
          const read = async () => (await engine.transaction((sql) => deviceById(sql, id!), { readOnly: true }))!;
          const row = await read();
          expect(row).toMatchObject({ compliance_status: 'compliant', noncompliant_since: null });
          let n = 0;
          const write = (over: { inputs?: Partial<DeviceRow>; status?: string; statusRead?: string | null; state?: string } = {}): CheckInWrite => {
            const at = new Date(Date.parse('2026-01-01T01:00:00.000Z') + ++n * 1000).toISOString();
            return {
              id: id!, state: over.state ?? 'enrolled', credentialHash: row.credential_hash!, at, posture: row.posture!, model: null, appliedConfigVersion: null,
              inputs: { ...row, ...over.inputs }, statusRead: over.statusRead === undefined ? 'compliant' : over.statusRead,
              evaluation: { body: row.compliance!, status: over.status ?? 'compliant', gen: `gen-${n}`, from: at, until: FOREVER },
            };
          };
          // Inputs as read: stored.
          const w1 = write();
          expect(await writeCheckIn(engine, w1)).toEqual([]);
          expect(await read()).toMatchObject({ last_check_in: w1.at, compliance_gen: 'gen-1', compliance_status: 'compliant' });
          // An episode opened meanwhile (an input): the check-in is written, its evaluation is not kept.
          const w2 = write({ inputs: { noncompliant_since: '2025-12-31T00:00:00.000Z' } });
          expect(await writeCheckIn(engine, w2)).toEqual([]);
          expect(await read()).toMatchObject({ last_check_in: w2.at, compliance_gen: null });
          // A new status is written with its evaluation.
          const w3 = write({ status: 'noncompliant' });
          await writeCheckIn(engine, w3);
          expect(await read()).toMatchObject({ compliance_gen: 'gen-3', compliance_status: 'noncompliant' });
          // Evaluated as unchanged from a status another writer has replaced since: neither status nor evaluation kept.
          const w4 = write({ statusRead: 'compliant', status: 'compliant' });
          await writeCheckIn(engine, w4);
          expect(await read()).toMatchObject({ last_check_in: w4.at, compliance_gen: null, compliance_status: 'noncompliant' });
          // The device no longer in the state read: nothing written.
          const w5 = write({ state: 'retired' });
          expect(await writeCheckIn(engine, w5)).toBeUndefined();
          expect((await read()).last_check_in).toBe(w4.at);
        });

        it('gives every caller of one idempotency key the first result, executing it once', async () => {
          const stores = await open();
          const ids = await fleet(stores, LOCK_AFTER_A_DAY, 3, true);
          const request = { deviceIds: ids, type: 'lock' as const, reason: 'lost', idempotencyKey: 'same-key' };
          const results = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % stores.length]!.enqueueCommands(request, ADMIN)));
          for (const r of results) expect(r).toEqual(results[0]);
          expect((await stores[0]!.listCommands({ type: 'lock' })).items).toHaveLength(3);
          await expect(stores[0]!.enqueueCommands({ ...request, reason: 'other' }, ADMIN)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/already used for a different request/) });
        });

        it('lets one of several concurrent applies against one version win; the others get the stale-plan conflict', async () => {
          const stores = await open();
          await fleet(stores, LOCK_AFTER_A_DAY, 0);
          const policy = LOCK_AFTER_A_DAY[0]!;
          const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => stores[i % stores.length]!.applyChanges([{
            op: 'update', kind: policy.kind, name: policy.metadata.name, expectedVersion: 1,
            document: { ...policy, metadata: { ...policy.metadata, description: `writer ${i}` } } as ResourceDocument,
          }], ADMIN)));
          const { ok, errors } = outcomes(settled);
          expect(ok).toHaveLength(1);
          expect(errors).toHaveLength(7);
          for (const e of errors) {
            expect(e).toBeInstanceOf(BackendError);
            expect(e).toMatchObject({ code: 'conflict', message: expect.stringMatching(/changed since the plan was made: expected version 1, found version 2/) });
          }
          const [stored] = await stores[0]!.listResources('CompliancePolicy');
          expect(stored!.version).toBe(2);
          // Two creates of one new name: one wins.
          const group: ResourceDocument = { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'new-group' }, spec: { match: { platforms: ['ios'] } } };
          const creates = outcomes(await Promise.allSettled(stores.concat(stores).map((s) => s.applyChanges(createAll([group]), ADMIN))));
          expect(creates.ok).toHaveLength(1);
          for (const e of creates.errors) expect(e).toMatchObject({ code: 'conflict', message: expect.stringMatching(/already exists/) });
        });

        it('hands a singleton lease to one holder at a time, with a new epoch for each new holder', async () => {
          const stores = await open();
          const engines = stores.map((s) => s.engine);
          const t0 = '2026-01-01T00:00:00.000Z';
          const later = '2026-01-01T00:00:30.000Z';
          const taken = await Promise.all(Array.from({ length: 6 }, (_, i) =>
            engines[i % engines.length]!.transaction((sql) => takeLease(sql, 'notify', `holder-${i}`, t0, later))));
          const holders = taken.filter((l) => l !== undefined);
          expect(holders).toHaveLength(1);
          expect(holders[0]!.epoch).toBe(1);
          const other = holders[0]!.holder === 'holder-0' ? 'holder-1' : 'holder-0';
          // Renewal keeps the epoch; another holder waits until it expires, then takes it with the next epoch.
          expect(await engines[0]!.transaction((sql) => takeLease(sql, 'notify', holders[0]!.holder, t0, later))).toMatchObject({ epoch: 1 });
          expect(await engines[0]!.transaction((sql) => takeLease(sql, 'notify', other, '2026-01-01T00:00:10.000Z', later))).toBeUndefined();
          const next = await engines[engines.length - 1]!.transaction((sql) => takeLease(sql, 'notify', other, later, '2026-01-01T00:01:00.000Z'));
          expect(next).toMatchObject({ holder: other, epoch: 2 });
          // The old holder cannot release what it no longer holds; the new one can.
          expect(await engines[0]!.transaction((sql) => releaseLease(sql, holders[0]!, later))).toBe(false);
          expect(await engines[0]!.transaction((sql) => releaseLease(sql, next!, later))).toBe(true);
        });

        it('enrolls one new serial once under concurrent enrollments of it; the others are refused and take no use of the token', async () => {
          const stores = await open();
          await fleet(stores, LOCK_AFTER_A_DAY, 0);
          const { token, secret } = await stores[0]!.createEnrollmentToken({ profile: 'corp' }, ADMIN);
          const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) =>
            stores[i % stores.length]!.enrollDevice({ token: secret, platform: 'android', serial: 'SAME', osVersion: '14' }, 'contract')));
          const { ok, errors } = outcomes(settled);
          expect(ok).toHaveLength(1);
          expect(errors).toHaveLength(7);
          for (const e of errors) expect(e).toMatchObject({ code: 'conflict', message: expect.stringMatching(/belongs to an enrolled device/) });
          expect((await stores[0]!.listDevices({ limit: 100 })).items.map((d) => d.id)).toEqual([ok[0]!.deviceId]);
          expect((await stores[0]!.listEnrollmentTokens()).find((t) => t.id === token.id)!.uses).toBe(1);
          expect(await stores[0]!.authenticateDevice(ok[0]!.credential)).toBe(ok[0]!.deviceId);
          const audit = (await stores[0]!.listAudit({ limit: 1000 })).items;
          expect(audit.filter((a) => a.action === 'enroll')).toHaveLength(1);
          expect(audit.filter((a) => a.action === 'enroll.refused')).toHaveLength(7);
        });

        it('records a revocation once under concurrent revokes, of an enrollment token and of an API token', async () => {
          const stores = await open();
          await fleet(stores, LOCK_AFTER_A_DAY, 0);
          const { token } = await stores[0]!.createEnrollmentToken({ profile: 'corp' }, ADMIN);
          const { token: api, secret } = await stores[0]!.createApiToken({ name: 'ci', role: 'operator' }, ADMIN);
          expect(await stores[stores.length - 1]!.authenticateApiToken(secret)).toMatchObject({ id: api.id, role: 'operator' });
          const revoked = await Promise.all(Array.from({ length: 6 }, (_, i) => stores[i % stores.length]!.revokeEnrollmentToken(token.id, ADMIN)));
          const apiRevoked = await Promise.all(Array.from({ length: 6 }, (_, i) => stores[i % stores.length]!.revokeApiToken(api.id, ADMIN)));
          for (const t of [...revoked, ...apiRevoked]) expect(t.revoked).toBe(true);
          const audit = (await stores[0]!.listAudit({ limit: 1000 })).items;
          expect(audit.filter((a) => a.action === 'token.revoke')).toHaveLength(1);
          expect(audit.filter((a) => a.action === 'api-token.revoke')).toHaveLength(1);
          expect(await stores[0]!.authenticateApiToken(secret)).toBeUndefined();
        });

        it('cancels a command once under concurrent cancels; the others are told it is cancelled already', async () => {
          const stores = await open();
          const [id] = await fleet(stores, LOCK_AFTER_A_DAY, 1, true);
          const { results: [queued] } = await stores[0]!.enqueueCommands({ deviceIds: [id!], type: 'lock', idempotencyKey: 'lock-1' }, ADMIN);
          const { ok, errors } = outcomes(await Promise.allSettled(Array.from({ length: 6 }, (_, i) => stores[i % stores.length]!.cancelCommand(queued!.command!.id, ADMIN))));
          expect(ok.map((c) => c.status)).toEqual(['cancelled']);
          expect(errors).toHaveLength(5);
          for (const e of errors) expect(e).toMatchObject({ code: 'conflict', message: expect.stringMatching(/is already cancelled/) });
          expect((await stores[0]!.listAudit({ limit: 1000 })).items.filter((a) => a.action === 'command.cancel')).toHaveLength(1);
        });

        it("records a device's command result once under concurrent reports of it (a wipe ends the enrollment once)", async () => {
          const stores = await open();
          const [id] = await fleet(stores, LOCK_AFTER_A_DAY, 1, true);
          const { results: [lock] } = await stores[0]!.enqueueCommands({ deviceIds: [id!], type: 'lock', idempotencyKey: 'lock-1' }, ADMIN);
          const { results: [wipe] } = await stores[0]!.enqueueCommands({ deviceIds: [id!], type: 'wipe', idempotencyKey: 'wipe-1' }, ADMIN);
          // Retried reports through any writer are accepted; one of them records the result.
          await Promise.all(Array.from({ length: 6 }, (_, i) => stores[i % stores.length]!.reportCommandResult(id!, wipe!.command!.id, { status: 'acknowledged' })));
          const audit = (await stores[0]!.listAudit({ limit: 1000 })).items;
          expect(audit.filter((a) => a.action === 'command.result')).toHaveLength(1);
          expect(audit.filter((a) => a.action === 'device.wiped')).toHaveLength(1);
          expect((await stores[0]!.getDevice(id!)).state).toBe('wiped');
          expect(await stores[0]!.getCommand(lock!.command!.id)).toMatchObject({ status: 'cancelled', detail: 'device wiped' });
          await expect(stores[0]!.reportCommandResult(id!, wipe!.command!.id, { status: 'failed' })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/already acknowledged/) });
        });
      });
    }

    it('rolls back a unit of work that throws, and later units see none of it', async () => {
      const [store] = await one();
      await store!.applyChanges(createAll(LOCK_AFTER_A_DAY), ADMIN);
      await expect(store!.engine.transaction(async (sql) => {
        await sql.run("UPDATE resources SET version = 99 WHERE kind = 'Group' OR kind = 'CompliancePolicy'");
        throw new Error('boom');
      })).rejects.toThrow('boom');
      expect((await store!.listResources()).map((r) => r.version)).toEqual([1, 1]);
    });

    it('never lets a concurrent unit of work see another one\'s uncommitted writes', async () => {
      const [store] = await one();
      await store!.applyChanges(createAll(LOCK_AFTER_A_DAY), ADMIN);
      const seen: number[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const writer = store!.engine.transaction(async (sql) => {
        await sql.run("UPDATE resources SET version = 7 WHERE kind = 'CompliancePolicy'");
        await gate;
        throw new Error('rolled back');
      });
      const reader = store!.engine.transaction(async (sql) => {
        seen.push((await sql.get<{ version: number }>("SELECT version FROM resources WHERE kind = 'CompliancePolicy'"))!.version);
      }, { readOnly: true });
      release();
      await expect(writer).rejects.toThrow('rolled back');
      await reader;
      expect(seen).toEqual([1]);
    });
  });
}
