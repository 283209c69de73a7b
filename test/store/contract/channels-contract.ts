// The device-channel part of the store contract (migration 10, FleetService's "device channels"):
// run against any SqlEngine like store-contract.ts, with one engine and with two engines on one
// database (two processes, two replicas). The races are hammered with concurrent calls; the
// rules must come out exact however the calls interleave.
import { describe, expect, it } from 'vitest';
import type { ChannelDeviceIntake } from '../../../src/model/channels.js';
import type { ResourceDocument } from '../../../src/model/policy.generated.js';
import type { FleetService } from '../../../src/service/fleet-service.js';
import { ADMIN, DAY, createAll, posture, testClock } from '../fixtures.js';
import { storeShapes, type StoreContractOptions } from './store-contract.js';

const E = 'enterprises/LC0123abcd';

const DOCS: ResourceDocument[] = [
  { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'corp-android' }, spec: { match: { platforms: ['android'], ownership: 'corporate' } } },
  { apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name: 'android-baseline' }, spec: { assign: ['corp-android'], settings: { camera: 'disabled' } } },
  { apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'baseline' }, spec: { assign: ['all'], rules: { encryption: 'required' }, actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '1d', do: 'lock' }] } },
  { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'corp' }, spec: { platforms: ['android'], ownership: 'corporate', labels: { source: 'qr' } } },
  { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'ios-only' }, spec: { platforms: ['ios'], ownership: 'corporate' } },
];

function intake(n: number, over: Partial<ChannelDeviceIntake> = {}): ChannelDeviceIntake {
  return {
    channel: 'android', ref: `${E}/devices/d${n}`, tokenRef: `${E}/enrollmentTokens/t1`, serial: `R${n}`, ownership: 'corporate', mode: 'fm',
    model: 'Pixel 8', osVersion: '14', posture: posture({ osVersion: '14', encrypted: true }), reportedAt: '2026-01-01T00:10:00.000Z', failures: [], ...over,
  };
}

export function describeChannelContract(name: string, options: StoreContractOptions): void {
  const clock = testClock();
  const shapes = storeShapes(options, clock);

  /** The policy set applied, and an emmctl token whose AMAPI token is t1 (`maxUses` as given). */
  async function setup(stores: FleetService[], maxUses?: number) {
    clock.set('2026-01-01T00:30:00.000Z');
    await stores[0]!.applyChanges(createAll(DOCS), ADMIN);
    const { token } = await stores[0]!.createEnrollmentToken({ profile: 'corp', ...(maxUses ? { maxUses } : {}) }, ADMIN);
    await stores[0]!.recordChannelToken(token.id, 'android', `${E}/enrollmentTokens/t1`, `${E}/policies/initial`);
    return token;
  }

  describe(`device channels: ${name}`, () => {
    for (const [shape, open] of shapes) {
      describe(shape, () => {
        it('takes one new channel device in once from many concurrent intakes: one device, one token use, one enroll audit', async () => {
          const stores = await open();
          const token = await setup(stores);
          const results = await Promise.all(Array.from({ length: 12 }, (_, k) => stores[k % stores.length]!.intakeChannelDevice(intake(1), 'test')));
          expect(results.filter((r) => r.outcome === 'enrolled')).toHaveLength(1);
          // The others find it taken in, with the same report: nothing newer to take.
          expect(results.filter((r) => r.outcome === 'stale')).toHaveLength(11);
          expect(new Set(results.map((r) => r.deviceId)).size).toBe(1);
          const devices = (await stores[0]!.listDevices({ limit: 100 })).items;
          expect(devices).toHaveLength(1);
          expect(devices[0]).toMatchObject({ serial: 'R1', platform: 'android', ownership: 'corporate', state: 'enrolled', profile: 'corp', labels: { source: 'qr' }, lastCheckIn: '2026-01-01T00:10:00.000Z' });
          expect((await stores[0]!.listEnrollmentTokens()).find((t) => t.id === token.id)!.uses).toBe(1);
          const enrolls = (await stores[0]!.listAudit({ limit: 100 })).items.filter((a) => a.action === 'enroll');
          expect(enrolls).toHaveLength(1);
          expect(enrolls[0]!.detail).toMatchObject({ channel: 'android', ref: `${E}/devices/d1`, token: token.id, mode: 'fm' });
          // No agent credential: the device cannot speak the agent protocol.
          await expect(stores[0]!.checkIn(devices[0]!.id, { posture: posture() })).rejects.toMatchObject({ code: 'unauthorized' });
        });

        it("holds a token's maxUses exactly for channel enrollments, and audits each refusal", async () => {
          const stores = await open();
          const token = await setup(stores, 3);
          const results = await Promise.all(Array.from({ length: 10 }, (_, k) => stores[k % stores.length]!.intakeChannelDevice(intake(k), 'test')));
          expect(results.filter((r) => r.outcome === 'enrolled')).toHaveLength(3);
          const refused = results.filter((r) => r.outcome === 'refused');
          expect(refused).toHaveLength(7);
          for (const r of refused) expect(r.reason).toMatch(/has been used 3 of 3 times/);
          expect((await stores[0]!.listEnrollmentTokens()).find((t) => t.id === token.id)!.uses).toBe(3);
          expect((await stores[0]!.listDevices({ limit: 100 })).items).toHaveLength(3);
          const audited = (await stores[0]!.listAudit({ limit: 100 })).items.filter((a) => a.action === 'enroll.refused');
          expect(audited).toHaveLength(7);
          for (const a of audited) expect(a.detail).toMatchObject({ reason: 'token-used-up', channel: 'android', token: token.id });
          expect(await stores[0]!.channelTokensToDelete('android')).toEqual([{ tokenId: token.id, ref: `${E}/enrollmentTokens/t1` }]);
          await stores[0]!.markChannelTokenDeleted(token.id);
          expect(await stores[0]!.channelTokensToDelete('android')).toEqual([]);
        });

        it('lets exactly one of many concurrent senders begin a command, and never resends before a lookup', async () => {
          const stores = await open();
          await setup(stores);
          const { deviceId } = await stores[0]!.intakeChannelDevice(intake(1));
          const queued = await stores[0]!.enqueueCommands({ deviceIds: [deviceId!], type: 'lock', idempotencyKey: 'k1' }, ADMIN);
          const commandId = queued.results[0]!.command!.id;
          const toSend = await stores[0]!.channelCommandsToSend('android', 10);
          expect(toSend).toEqual([expect.objectContaining({ ref: `${E}/devices/d1`, mode: 'fm', command: expect.objectContaining({ id: commandId, type: 'lock', status: 'queued' }) })]);
          const begun = await Promise.all(Array.from({ length: 12 }, (_, k) => stores[k % stores.length]!.beginChannelSend(commandId, { method: 'issueCommand', body: { type: 'LOCK' } })));
          expect(begun.filter(Boolean)).toHaveLength(1);
          expect(await stores[0]!.channelCommandsToSend('android', 10)).toEqual([]);
          // The answer is lost: the command counts as sent, and the ledger says to look it up.
          await stores[0]!.markChannelUnknown(commandId);
          expect((await stores[0]!.getCommand(commandId)).status).toBe('sent');
          const [op] = await stores[0]!.channelOperationsToCheck('android', 10);
          expect(op).toMatchObject({ commandId, deviceId, ref: `${E}/devices/d1`, state: 'unknown', operation: null, attempts: 1, request: { method: 'issueCommand', body: { type: 'LOCK' } } });
          // The lookup proved nothing landed: of many retries with the attempts read, one may send.
          const retried = await Promise.all(Array.from({ length: 8 }, (_, k) => stores[k % stores.length]!.retryChannelSend(commandId, op!.attempts)));
          expect(retried.filter(Boolean)).toHaveLength(1);
          expect(await stores[0]!.retryChannelSend(commandId, 2)).toBe(false); // sending, not unknown
          await stores[0]!.recordChannelSent(commandId, `${E}/devices/d1/operations/op1`);
          const [sent] = await stores[0]!.channelOperationsToCheck('android', 10);
          expect(sent).toMatchObject({ state: 'sent', operation: `${E}/devices/d1/operations/op1`, attempts: 2 });
          await stores[0]!.finishChannelCommand(commandId, 'acknowledged', undefined, 'android');
          expect((await stores[0]!.getCommand(commandId)).status).toBe('acknowledged');
          expect(await stores[0]!.channelOperationsToCheck('android', 10)).toEqual([]);
        });

        it('ignores a report older than the one taken, and judges a known device as a check-in would', async () => {
          const stores = await open();
          await setup(stores);
          const { deviceId } = await stores[0]!.intakeChannelDevice(intake(1));
          const newer = intake(1, { reportedAt: '2026-01-01T00:20:00.000Z', posture: posture({ encrypted: false }) });
          const older = intake(1, { reportedAt: '2026-01-01T00:15:00.000Z', posture: posture({ encrypted: true }) });
          expect(await stores[0]!.intakeChannelDevice(newer)).toEqual({ outcome: 'updated', deviceId });
          expect(await stores[stores.length - 1]!.intakeChannelDevice(older)).toEqual({ outcome: 'stale', deviceId });
          const device = (await stores[0]!.listDevices({ limit: 10 })).items[0]!;
          expect(device).toMatchObject({ lastCheckIn: '2026-01-01T00:20:00.000Z', posture: { encrypted: false } });
          const [c] = (await stores[0]!.listCompliance({ limit: 10 })).items;
          expect(c).toMatchObject({ status: 'noncompliant', failures: [expect.objectContaining({ policy: 'baseline', rule: 'encryption' })] });
          // Escalation as for any device: a day on, the lock step queues a lock, for the channel to send.
          clock.advance(DAY);
          await stores[0]!.reconcile();
          const toSend = await stores[0]!.channelCommandsToSend('android', 10);
          expect(toSend.map((t) => [t.command.type, t.command.requestedBy, t.ref])).toEqual([['lock', 'compliance:baseline', `${E}/devices/d1`]]);
        });

        it("shows the channel's own non-compliance details as failures", async () => {
          const stores = await open();
          await setup(stores);
          const failure = { policy: 'android-baseline', rule: 'androidPolicy', expected: 'camera applied (AMAPI cameraAccess)', actual: 'not applied: MANAGEMENT_MODE' };
          const { deviceId } = await stores[0]!.intakeChannelDevice(intake(1, { failures: [failure] }));
          const detail = await stores[0]!.getDevice(deviceId!);
          expect(detail.compliance).toMatchObject({ status: 'noncompliant', failures: [{ ...failure, channel: 'android' }] });
          // Naming a Policy, a channel's failure is never a CompliancePolicy's, even one of the same name:
          // no escalation step of "baseline" (lock after a day) fires for it.
          const clash = { ...failure, policy: 'baseline' };
          await stores[0]!.intakeChannelDevice(intake(1, { reportedAt: '2026-01-01T00:10:30.000Z', failures: [clash] }));
          clock.advance(2 * DAY);
          await stores[0]!.reconcile();
          expect((await stores[0]!.getDevice(deviceId!)).compliance).toMatchObject({ status: 'noncompliant', failures: [{ ...clash, channel: 'android' }] });
          expect(await stores[0]!.channelCommandsToSend('android', 10)).toEqual([]);
          // A report without them clears them.
          await stores[0]!.intakeChannelDevice(intake(1, { reportedAt: '2026-01-01T00:11:00.000Z' }));
          expect((await stores[0]!.getDevice(deviceId!)).compliance).toMatchObject({ status: 'compliant', failures: [] });
        });

        it('refuses and audits a device of a revoked, unknown or wrong-platform token, writing no device', async () => {
          const stores = await open();
          const token = await setup(stores);
          const other = await stores[0]!.createEnrollmentToken({ profile: 'ios-only' }, ADMIN);
          await stores[0]!.recordChannelToken(other.token.id, 'android', `${E}/enrollmentTokens/t2`, `${E}/policies/initial`);
          await stores[0]!.revokeEnrollmentToken(token.id, ADMIN);
          expect(await stores[0]!.intakeChannelDevice(intake(1))).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/was revoked/) });
          expect(await stores[0]!.intakeChannelDevice(intake(2, { tokenRef: `${E}/enrollmentTokens/nope` }))).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/token emmctl did not make/) });
          expect(await stores[0]!.intakeChannelDevice(intake(3, { tokenRef: `${E}/enrollmentTokens/t2` }))).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/platform "android" may not enroll/) });
          expect((await stores[0]!.listDevices({ limit: 10 })).items).toEqual([]);
          const refusals = (await stores[0]!.listAudit({ limit: 100 })).items.filter((a) => a.action === 'enroll.refused').map((a) => a.detail!.reason);
          expect(refusals).toEqual(['token-revoked', 'unknown-token', 'platform-not-allowed']);
          // The token's expiry is judged when the device enrolled at Google, not when emmctl hears of it.
          const late = await stores[0]!.createEnrollmentToken({ profile: 'corp', expiresInSeconds: 60 }, ADMIN);
          await stores[0]!.recordChannelToken(late.token.id, 'android', `${E}/enrollmentTokens/t3`, `${E}/policies/initial`);
          clock.advance(120_000);
          expect(await stores[0]!.intakeChannelDevice(intake(4, { tokenRef: `${E}/enrollmentTokens/t3`, enrolledAt: '2026-01-01T00:30:30.000Z' }))).toMatchObject({ outcome: 'enrolled' });
          expect(await stores[0]!.intakeChannelDevice(intake(5, { tokenRef: `${E}/enrollmentTokens/t3`, enrolledAt: '2026-01-01T00:31:30.000Z' }))).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/expired/) });
        });

        it('an acknowledged wipe wipes the device; a device gone at Google leaves management', async () => {
          const stores = await open();
          await setup(stores);
          const a = (await stores[0]!.intakeChannelDevice(intake(1))).deviceId!;
          const b = (await stores[0]!.intakeChannelDevice(intake(2, { ownership: 'personal', mode: 'wpp' }))).deviceId!;
          const wipe = (await stores[0]!.enqueueCommands({ deviceIds: [a], type: 'wipe', idempotencyKey: 'w' }, ADMIN)).results[0]!.command!.id;
          expect(await stores[0]!.beginChannelSend(wipe, { method: 'delete' })).toBe(true);
          await stores[0]!.recordChannelSent(wipe, null);
          await stores[0]!.finishChannelCommand(wipe, 'acknowledged', 'factory reset', 'android');
          expect((await stores[0]!.listDevices({ limit: 10 })).items.find((d) => d.id === a)!.state).toBe('wiped');
          // Gone at Google without a command of ours: personal → retired (the work profile went).
          expect(await stores[0]!.intakeChannelDevice(intake(2, { ownership: 'personal', mode: 'wpp', gone: true }))).toEqual({ outcome: 'updated', deviceId: b });
          expect((await stores[0]!.listDevices({ limit: 10 })).items.find((d) => d.id === b)!.state).toBe('retired');
          expect(await stores[0]!.intakeChannelDevice(intake(1))).toMatchObject({ outcome: 'stale', deviceId: a });
          const actions = (await stores[0]!.listAudit({ limit: 100 })).items.map((x) => x.action);
          expect(actions.filter((x) => x === 'device.wiped' || x === 'device.retired')).toEqual(['device.wiped', 'device.retired']);
        });

        it('an agent enrollment that claims a wiped channel device\'s serial ends its channel record', async () => {
          const stores = await open();
          await setup(stores);
          const id = (await stores[0]!.intakeChannelDevice(intake(1))).deviceId!;
          await stores[0]!.intakeChannelDevice(intake(1, { gone: true }));
          expect((await stores[0]!.getDevice(id)).state).toBe('wiped');
          const { secret } = await stores[0]!.createEnrollmentToken({ profile: 'corp' }, ADMIN);
          const agent = await stores[stores.length - 1]!.enrollDevice({ token: secret, platform: 'android', serial: 'R1', osVersion: '14' }, 'test');
          expect(agent.deviceId).toBe(id);
          expect(await stores[0]!.channelConfigurations('android', { limit: 10 })).toEqual({ items: [] });
          // The AMAPI device is now unknown: a report of it is a new enrollment, refused (the serial is enrolled).
          expect(await stores[0]!.intakeChannelDevice(intake(1, { reportedAt: '2026-01-01T00:20:00.000Z' }))).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/belongs to an enrolled device/) });
        });

        it('takes a send whose sender died as unknown, and lets a wipe Google carried out after emmctl expired it still wipe the device', async () => {
          const stores = await open();
          await setup(stores);
          const id = (await stores[0]!.intakeChannelDevice(intake(1))).deviceId!;
          const wipe = (await stores[0]!.enqueueCommands({ deviceIds: [id], type: 'wipe', idempotencyKey: 'w' }, ADMIN)).results[0]!.command!.id;
          expect(await stores[0]!.beginChannelSend(wipe, { method: 'delete' })).toBe(true);
          // The sender dies before it records anything: within the stale time it is not the follower's...
          clock.advance(60_000);
          expect(await stores[0]!.channelOperationsToCheck('android', 10)).toEqual([]);
          // ...after it, the send is unknown: looked up, never simply sent again.
          clock.advance(61_000);
          expect(await stores[stores.length - 1]!.channelOperationsToCheck('android', 10)).toEqual([expect.objectContaining({ commandId: wipe, state: 'unknown', attempts: 1 })]);
          expect(await stores[0]!.beginChannelSend(wipe, { method: 'delete' })).toBe(false);
          // emmctl expires it meanwhile; the lookup then finds Google did delete the device.
          clock.advance(31 * DAY);
          await stores[0]!.reconcile();
          expect((await stores[0]!.getCommand(wipe)).status).toBe('expired');
          await stores[0]!.finishChannelCommand(wipe, 'acknowledged', 'factory reset', 'android');
          expect((await stores[0]!.getCommand(wipe)).status).toBe('expired');
          expect((await stores[0]!.getDevice(id)).state).toBe('wiped');
          const result = (await stores[0]!.listAudit({ limit: 100, order: 'desc' })).items.find((a) => a.action === 'command.result');
          expect(result!.detail).toMatchObject({ status: 'acknowledged', late: true, recorded: 'expired', channel: 'android' });
        });

        it('pages the configurations of enrolled channel devices, and keeps policy moves and published policies conditional', async () => {
          const stores = await open();
          await setup(stores);
          const ids: string[] = [];
          for (let k = 0; k < 5; k++) ids.push((await stores[0]!.intakeChannelDevice(intake(k))).deviceId!);
          const first = await stores[0]!.channelConfigurations('android', { limit: 3 });
          expect(first.items).toHaveLength(3);
          const rest = await stores[0]!.channelConfigurations('android', { after: first.next, limit: 3 });
          expect(rest.next).toBeUndefined();
          const all = [...first.items, ...rest.items];
          expect(all.map((x) => x.deviceId)).toEqual([...ids].sort());
          for (const x of all) expect(x).toMatchObject({ mode: 'fm', state: 'enrolled', configuration: { settings: { camera: 'disabled' }, sources: { camera: 'android-baseline' } } });
          const initial = await stores[0]!.profileConfiguration('corp');
          expect(initial).toEqual({ configuration: all[0]!.configuration, ownership: 'corporate' });
          const p = `${E}/policies/emmctl-r1-fm-${all[0]!.configuration.version}`;
          const moved = await Promise.all(stores.concat(stores).map((s) => s.recordChannelPolicy(ids[0]!, p, null)));
          expect(moved.filter(Boolean)).toHaveLength(1);
          expect((await stores[0]!.channelConfigurations('android', { limit: 10 })).items.find((x) => x.deviceId === ids[0])!.policy).toBe(p);
          await stores[0]!.recordPublishedPolicy('android', p, 'sha256:a');
          await stores[0]!.recordPublishedPolicy('android', `${E}/policies/initial`, 'sha256:b');
          await stores[0]!.recordPublishedPolicy('android', `${E}/policies/old`, 'sha256:c');
          expect(await stores[0]!.publishedPolicy('android', p)).toBe('sha256:a');
          // p: a device is on it; initial: a live token names it; old: nothing.
          expect(await stores[0]!.unreferencedPolicies('android', new Date('2999-01-01T00:00:00Z'))).toEqual([`${E}/policies/old`]);
          // Published at or after the cut-off: kept (a token being made may be about to name it).
          expect(await stores[0]!.unreferencedPolicies('android', new Date(0))).toEqual([]);
          await stores[0]!.forgetPublishedPolicy('android', `${E}/policies/old`);
          expect(await stores[0]!.publishedPolicy('android', `${E}/policies/old`)).toBeUndefined();
        });
      });
    }
  });
}
