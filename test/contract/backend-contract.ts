// The Backend contract: what every driver (embedded, HTTP, later real EMM APIs) must do, run as
// one vitest suite per driver. Devices enter only through the real device path (enrollment
// token → enroll → check-in), so the fixture provides the driver's agent side next to the Backend.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, DeviceFilter, ResourceChange } from '../../src/backends/backend.js';
import type { CheckInRequest, CheckInResponse, CommandResultReport, EnrollRequest, EnrollResponse } from '../../src/model/protocol.js';
import type { Posture } from '../../src/model/fleet.js';
import type { Platform, ResourceDocument } from '../../src/model/policy.generated.js';

/** The device side of a driver: the embedded one calls the store, the HTTP one the /v1/agent API. */
export interface ContractAgent {
  enroll(request: EnrollRequest): Promise<EnrollResponse>;
  checkIn(credential: string, request: CheckInRequest): Promise<CheckInResponse>;
  reportResult(credential: string, commandId: string, report: CommandResultReport): Promise<void>;
}

export interface ContractFixture {
  backend: Backend;
  agent: ContractAgent;
  cleanup(): Promise<void>;
}

export interface SeedDevice {
  serial: string;
  platform: Platform;
  owner?: string;
  posture?: Partial<Posture>;
}

export interface SeededDevice extends SeedDevice {
  deviceId: string;
  credential: string;
  checkIn: CheckInResponse;
}

export function contractPosture(over: Partial<Posture> = {}): Posture {
  return { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: ['com.example.vpn'], ...over };
}

/** Enrolls each device with one fresh token of `profile` and checks it in once. */
export async function seedDevices(fixture: ContractFixture, devices: SeedDevice[], profile = 'contract-corp'): Promise<SeededDevice[]> {
  const { secret } = await fixture.backend.createEnrollmentToken({ profile });
  const out: SeededDevice[] = [];
  for (const d of devices) {
    const posture = contractPosture(d.posture);
    const enrolled = await fixture.agent.enroll({ token: secret, platform: d.platform, serial: d.serial, owner: d.owner, osVersion: posture.osVersion });
    const checkIn = await fixture.agent.checkIn(enrolled.credential, { posture });
    out.push({ ...d, deviceId: enrolled.deviceId, credential: enrolled.credential, checkIn });
  }
  return out;
}

const DEFAULT_DOCS: ResourceDocument[] = [
  { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'contract-android' }, spec: { match: { platforms: ['android'] } } },
  { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'contract-example' }, spec: { match: { owners: ['example.com'] } } },
  {
    apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name: 'contract-android-baseline' },
    spec: { assign: ['contract-android'], settings: { camera: 'disabled', screenCapture: 'disabled' } },
  },
  {
    apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'contract-baseline' },
    spec: { assign: ['all'], rules: { minOsVersion: { android: '13', ios: '17.0' }, encryption: 'required' } },
  },
  {
    apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'contract-corp' },
    spec: { platforms: ['android', 'ios'], ownership: 'corporate', labels: { fleet: 'contract' } },
  },
];

export const CONTRACT_DOCS = DEFAULT_DOCS;

const creates = (docs: ResourceDocument[]): ResourceChange[] => docs.map((d) => ({ op: 'create', kind: d.kind, name: d.metadata.name, document: d }));
const f = (field: string, op: DeviceFilter['op'], value: string): DeviceFilter => ({ field, op, value });

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected the call to fail');
}

/**
 * What a driver can do beyond the core of the contract. emmctl's own stores do all of it (the
 * defaults); a driver over another EMM (Intune) declares what it cannot, and the cases that need
 * it are skipped under a title that says why — never silently.
 */
export interface ContractCapabilities {
  /** Versions count changes (1, 2, …); otherwise they are opaque and change with every change. */
  countedVersions?: boolean;
  /** Devices enroll and check in through emmctl's agent API: the device and command cases. */
  agent?: boolean | string;
  /** Secret values are kept apart with a digest, and an apply key replays its first result. */
  secrets?: boolean | string;
  /** The documents of the resource cases (default CONTRACT_DOCS); same names and order. */
  docs?: ResourceDocument[];
}

export function backendContract(name: string, open: () => Promise<ContractFixture>, capabilities: ContractCapabilities = {}): void {
  const caps = { countedVersions: true, agent: true, secrets: true, ...capabilities };
  const CONTRACT_DOCS = caps.docs ?? DEFAULT_DOCS;
  const unless = (cap: boolean | string) => (cap === true ? it : (t: string, fn: () => Promise<void>) => it.skip(`${t} — not on ${name}: ${typeof cap === 'string' ? cap : 'unsupported'}`, fn));
  describe(`Backend contract: ${name}`, () => {
    describe('resources', () => {
      let fx: ContractFixture;
      beforeAll(async () => {
        fx = await open();
      });
      afterAll(async () => {
        await fx.backend.close();
        await fx.cleanup();
      });

      it('creates, versions, updates and deletes resources', async () => {
        const applied = await fx.backend.applyChanges(creates(CONTRACT_DOCS));
        const v = (n: number) => (caps.countedVersions ? n : expect.any(Number));
        expect(applied.map((a) => [`${a.op} ${a.kind}/${a.name}`, a.version])).toEqual(CONTRACT_DOCS.map((d) => [`create ${d.kind}/${d.metadata.name}`, v(1)]));
        const all = await fx.backend.listResources();
        expect(all).toHaveLength(CONTRACT_DOCS.length);
        expect(all.every((r) => (caps.countedVersions ? r.version === 1 : Number.isSafeInteger(r.version) && r.version > 0) && typeof r.updatedAt === 'string')).toBe(true);
        const before = all.find((r) => r.kind === 'Policy' && r.name === 'contract-android-baseline')!.version;
        expect((await fx.backend.listResources('Group')).map((r) => r.name).sort()).toEqual(['contract-android', 'contract-example']);

        const policy = CONTRACT_DOCS[2]!;
        const changed = { ...policy, metadata: { ...policy.metadata, description: 'v2' } } as ResourceDocument;
        const [upd] = await fx.backend.applyChanges([{ op: 'update', kind: 'Policy', name: 'contract-android-baseline', document: changed, expectedVersion: before }]);
        expect(upd).toEqual({ op: 'update', kind: 'Policy', name: 'contract-android-baseline', version: v(2) });
        if (!caps.countedVersions) expect(upd!.version).not.toBe(before);
        const stored = (await fx.backend.listResources('Policy')).find((r) => r.name === 'contract-android-baseline')!;
        expect(stored).toMatchObject({ version: upd!.version, document: { metadata: { description: 'v2' } } });
      });

      it('refuses a stale version and applies nothing of the change set', async () => {
        const before = await fx.backend.listResources();
        const extra: ResourceDocument = { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'contract-extra' }, spec: { match: { ownership: 'personal' } } };
        const err = await rejection(fx.backend.applyChanges([
          ...creates([extra]),
          { op: 'update', kind: 'Policy', name: 'contract-android-baseline', document: CONTRACT_DOCS[2]!, expectedVersion: 1 },
        ]));
        expect(err.code).toBe('conflict');
        expect(err.message).toMatch(/Policy\/contract-android-baseline/);
        expect(err.message).toMatch(caps.countedVersions ? /expected version 1, found version 2/ : /expected version 1, found version \d+/);
        expect(await fx.backend.listResources()).toEqual(before);
      });

      it('refuses a change set that leaves a dangling reference', async () => {
        const version = async (n: string) => (await fx.backend.listResources('Group')).find((r) => r.name === n)!.version;
        const err = await rejection(fx.backend.applyChanges([{ op: 'delete', kind: 'Group', name: 'contract-android', expectedVersion: await version('contract-android') }]));
        expect(err.code).toBe('invalid');
        expect(err.message).toMatch(/contract-android/);
        expect((await fx.backend.listResources('Group')).map((r) => r.name)).toContain('contract-android');
        const [del] = await fx.backend.applyChanges([{ op: 'delete', kind: 'Group', name: 'contract-example', expectedVersion: await version('contract-example') }]);
        expect(del).toEqual({ op: 'delete', kind: 'Group', name: 'contract-example', version: null });
      });

      it('records every change in the audit log', async () => {
        const records = (await fx.backend.listAudit({ limit: 1000 })).items.filter((a) => a.action === 'apply');
        expect(records.map((r) => r.target)).toEqual([...CONTRACT_DOCS.map((d) => `${d.kind}/${d.metadata.name}`), 'Policy/contract-android-baseline', 'Group/contract-example']);
        expect(records.every((r) => r.actor && r.source && r.at)).toBe(true);
        expect((await fx.backend.listAudit({ since: new Date(Date.now() + 3_600_000).toISOString() })).items).toEqual([]);
        const page = await fx.backend.listAudit({ limit: 2 });
        expect(page.items).toHaveLength(2);
        const next = await fx.backend.listAudit({ limit: 2, cursor: page.nextCursor });
        expect(next.items[0]!.id).not.toBe(page.items[1]!.id);
      });

      it('reads the audit log newest first on request, paging backwards to the oldest record', async () => {
        const asc = (await fx.backend.listAudit({ limit: 1000 })).items.map((a) => a.id);
        expect(asc.length).toBeGreaterThan(3);
        const desc: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await fx.backend.listAudit({ order: 'desc', limit: 2, cursor });
          expect(page.items.length).toBeLessThanOrEqual(2);
          desc.push(...page.items.map((a) => a.id));
          cursor = page.nextCursor;
        } while (cursor);
        expect(desc).toEqual([...asc].reverse());
        const applies = (await fx.backend.listAudit({ order: 'desc', limit: 1000 })).items.filter((a) => a.action === 'apply');
        expect(applies[0]!.target).toBe('Group/contract-example');
        const err = await rejection(fx.backend.listAudit({ order: 'sideways' as 'asc' }));
        expect(err.code).toBe('invalid');
        expect(err.message).toMatch(/order must be asc or desc/);
      });

      it('names its store: a stable id created with the store', async () => {
        const id = await fx.backend.identity();
        expect(id).toEqual({ kind: fx.backend.kind, location: fx.backend.location, storeId: expect.stringMatching(/^st_[0-9a-f]{24}$/) });
        expect(await fx.backend.identity()).toEqual(id);
        const digest = `sha256:${'ab'.repeat(32)}`;
        const seal = await fx.backend.sealPlan(digest);
        expect(seal).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
        expect(await fx.backend.sealPlan(digest)).toBe(seal);
        expect(await fx.backend.sealPlan(`sha256:${'cd'.repeat(32)}`)).not.toBe(seal);
        expect((await rejection(fx.backend.sealPlan('not-a-digest'))).code).toBe('invalid');
      });

      unless(caps.secrets)('keeps secret values apart: reads give the reference and a digest, a keyed retry gives the first result', async () => {
        const doc: ResourceDocument = {
          apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name: 'contract-wifi' },
          spec: { assign: ['contract-android'], settings: { wifi: [{ ssid: 'c', security: 'wpa2-personal', password: '${env:CONTRACT_PSK}' }] } },
        };
        const change: ResourceChange = { op: 'create', kind: 'Policy', name: 'contract-wifi', document: doc, secrets: { 'spec.settings.wifi[0].password': 'contract-psk-value' } };
        const first = await fx.backend.applyChanges([change], { idempotencyKey: 'contract-key-1' });
        expect(await fx.backend.applyChanges([change], { idempotencyKey: 'contract-key-1' })).toEqual(first);
        const stored = (await fx.backend.listResources('Policy')).find((r) => r.name === 'contract-wifi')!;
        expect(JSON.stringify(stored)).not.toContain('contract-psk-value');
        expect(stored.document).toEqual(doc);
        expect(stored.secrets).toEqual([{ path: 'spec.settings.wifi[0].password', ref: '${env:CONTRACT_PSK}', digest: expect.stringMatching(/^scrypt1\$/) }]);
        const missing = await rejection(fx.backend.applyChanges([{ op: 'update', kind: 'Policy', name: 'contract-wifi', document: doc, expectedVersion: 1 }]));
        expect(missing.code).toBe('invalid');
        expect(missing.message).toMatch(/carries no value/);
        const [del] = await fx.backend.applyChanges([{ op: 'delete', kind: 'Policy', name: 'contract-wifi', expectedVersion: 1 }]);
        expect(del!.op).toBe('delete');
      });
    });

    describe.skipIf(caps.agent !== true)(`enrollment tokens and devices${caps.agent === true ? '' : ` — not on ${name}: ${caps.agent}`}`, () => {
      let fx: ContractFixture;
      let fleet: SeededDevice[];
      beforeAll(async () => {
        fx = await open();
        await fx.backend.applyChanges(creates(CONTRACT_DOCS));
        fleet = await seedDevices(fx, [
          { serial: 'C-A1', platform: 'android', owner: 'ana@example.com', posture: { osVersion: '9' } },
          { serial: 'C-A2', platform: 'android', owner: 'bo@example.com', posture: { osVersion: '13' } },
          { serial: 'C-A3', platform: 'android', owner: 'cy@other.org', posture: { osVersion: '14.1', encrypted: false } },
          { serial: 'C-I1', platform: 'ios', owner: 'di@example.com', posture: { osVersion: '17.4.1' } },
          { serial: 'C-I2', platform: 'ios', posture: { osVersion: '16.7' } },
        ]);
      });
      afterAll(async () => {
        await fx.backend.close();
        await fx.cleanup();
      });

      it('creates tokens whose secret is shown once, lists and revokes them', async () => {
        const created = await fx.backend.createEnrollmentToken({ profile: 'contract-corp', maxUses: 1, expiresInSeconds: 3600 });
        expect(created.secret.length).toBeGreaterThan(20);
        expect(created.token).toMatchObject({ profile: 'contract-corp', maxUses: 1, uses: 0, revoked: false });
        const listed = (await fx.backend.listEnrollmentTokens()).find((t) => t.id === created.token.id)!;
        expect(JSON.stringify(listed)).not.toContain(created.secret);
        await fx.agent.enroll({ token: created.secret, platform: 'android', serial: 'C-T1', osVersion: '14' });
        expect((await rejection(fx.agent.enroll({ token: created.secret, platform: 'android', serial: 'C-T2', osVersion: '14' }))).code).toBe('unauthorized');
        const other = await fx.backend.createEnrollmentToken({ profile: 'contract-corp' });
        expect((await fx.backend.revokeEnrollmentToken(other.token.id)).revoked).toBe(true);
        expect((await rejection(fx.agent.enroll({ token: other.secret, platform: 'android', serial: 'C-T3', osVersion: '14' }))).code).toBe('unauthorized');
        expect((await rejection(fx.backend.createEnrollmentToken({ profile: 'no-such-profile' }))).code).toBe('not_found');
        expect((await rejection(fx.backend.revokeEnrollmentToken('et_missing'))).code).toBe('not_found');
      });

      it('lists devices with filters', async () => {
        const serials = async (filters: DeviceFilter[]) => (await fx.backend.listDevices({ filters, sort: 'name', limit: 100 })).items.map((d) => d.serial).filter((s) => s?.startsWith('C-') && s !== 'C-T1');
        expect(await serials([f('platform', '=', 'android')])).toEqual(['C-A1', 'C-A2', 'C-A3']);
        expect(await serials([f('os', '<', '14')])).toEqual(['C-A1', 'C-A2']);
        expect(await serials([f('os', '>=', '16.7'), f('platform', '=', 'ios')])).toEqual(['C-I1', 'C-I2']);
        expect(await serials([f('owner', '=', '*@example.com')])).toEqual(['C-A1', 'C-A2', 'C-I1']);
        expect(await serials([f('label.fleet', '=', 'contract'), f('platform', '=', 'ios')])).toEqual(['C-I1', 'C-I2']);
        expect(await serials([f('group', '=', 'contract-android'), f('group', '=', 'contract-example')])).toEqual(['C-A1', 'C-A2']);
        expect(await serials([f('compliance', '=', 'noncompliant')])).toEqual(['C-A1', 'C-A3', 'C-I2']);
        expect(await serials([f('state', '=', 'enrolled'), f('ownership', '=', 'corporate'), f('serial', '=', 'C-A2')])).toEqual(['C-A2']);
      });

      it('sorts and pages with cursors, every device once', async () => {
        for (const sort of ['name', '-osVersion', 'owner', '-lastCheckIn']) {
          const all = (await fx.backend.listDevices({ sort, limit: 100 })).items.map((d) => d.id);
          const paged: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await fx.backend.listDevices({ sort, limit: 2, cursor });
            expect(page.items.length).toBeLessThanOrEqual(2);
            paged.push(...page.items.map((d) => d.id));
            cursor = page.nextCursor;
          } while (cursor);
          expect(paged, sort).toEqual(all);
          expect(new Set(paged).size).toBe(all.length);
        }
        const byOs = (await fx.backend.listDevices({ sort: 'osVersion', filters: [f('platform', '=', 'android')] })).items.map((d) => d.osVersion);
        expect(byOs).toEqual(['9', '13', '14', '14.1']);
      });

      it('reports compliance per device with failing rules', async () => {
        const rows = (await fx.backend.listCompliance({ sort: 'name', limit: 100 })).items;
        const byId = new Map(rows.map((r) => [r.deviceId, r]));
        const [a1, a2, a3, i1, i2] = fleet.map((d) => byId.get(d.deviceId)!);
        expect(a1).toMatchObject({ status: 'noncompliant', platform: 'android', osVersion: '9', owner: 'ana@example.com', policies: ['contract-baseline'] });
        expect(a1!.failures).toEqual([expect.objectContaining({ policy: 'contract-baseline', rule: 'minOsVersion', actual: '9' })]);
        expect(a2!.status).toBe('compliant');
        expect(a3!.failures.map((x) => x.rule)).toEqual(['encryption']);
        expect(i1!.status).toBe('compliant');
        expect(i2!.status).toBe('noncompliant');
      });

      it('pages compliance under a compliance filter', async () => {
        const statuses: string[] = [];
        const ids: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await fx.backend.listCompliance({ limit: 1, cursor, sort: '-name', filters: [f('compliance', '!=', 'compliant'), f('compliance', '!=', 'unknown'), f('label.fleet', '=', 'contract')] });
          statuses.push(...page.items.map((c) => c.status));
          ids.push(...page.items.map((c) => c.deviceId));
          cursor = page.nextCursor;
        } while (cursor);
        expect(statuses).toEqual(['noncompliant', 'noncompliant', 'noncompliant']);
        expect(ids).toEqual([fleet[4]!.deviceId, fleet[2]!.deviceId, fleet[0]!.deviceId]);
      });

      it('evaluates a what-if at a later instant, read-only, and refuses one in the past', async () => {
        const auditBefore = (await fx.backend.listAudit({ limit: 1000 })).items.length;
        const rows = (await fx.backend.listCompliance({ sort: 'name', limit: 100, at: '+40d' })).items;
        const a1 = rows.find((r) => r.deviceId === fleet[0]!.deviceId)!;
        expect(a1).toMatchObject({ status: 'noncompliant', stepsFired: [], stepsDue: [] });
        expect(Date.parse(a1.evaluatedAt!) - Date.now()).toBeGreaterThan(39 * 86_400_000);
        expect(rows.find((r) => r.deviceId === fleet[1]!.deviceId)).toMatchObject({ status: 'compliant' });
        const err = await rejection(fx.backend.listCompliance({ at: '2001-01-01T00:00:00Z' }));
        expect(err.code).toBe('invalid');
        expect(err.message).toContain('is in the past');
        expect((await fx.backend.listAudit({ limit: 1000 })).items).toHaveLength(auditBefore);
        expect(await fx.backend.notifyChannels?.()).toBe(0);
      });

      it('audits enrollments as the device', async () => {
        const enrolls = (await fx.backend.listAudit({ limit: 1000 })).items.filter((a) => a.action === 'enroll');
        for (const d of fleet) expect(enrolls.map((a) => a.target)).toContain(`device/${d.deviceId}`);
        expect(enrolls.find((a) => a.target === `device/${fleet[0]!.deviceId}`)!.actor).toBe(`device:${fleet[0]!.deviceId}`);
      });

      it('shows one device with groups, configuration and compliance', async () => {
        const dev = await fx.backend.getDevice(fleet[0]!.deviceId);
        expect(dev).toMatchObject({ id: fleet[0]!.deviceId, serial: 'C-A1', platform: 'android', state: 'enrolled', ownership: 'corporate', labels: { fleet: 'contract' }, owner: 'ana@example.com' });
        expect(dev.groups).toEqual(expect.arrayContaining(['all', 'contract-android', 'contract-example']));
        expect(dev.effectiveConfiguration.settings).toMatchObject({ camera: 'disabled', screenCapture: 'disabled' });
        expect(dev.effectiveConfiguration.version).toBe(fleet[0]!.checkIn.configuration.version);
        expect(dev.compliance.status).toBe('noncompliant');
        expect(dev.posture?.osVersion).toBe('9');
        expect((await rejection(fx.backend.getDevice('dev_missing'))).code).toBe('not_found');
      });

      it('refuses to enroll an enrolled serial again (audited) until an admin releases the device', async () => {
        const victim = fleet[1]!;
        const { secret } = await fx.backend.createEnrollmentToken({ profile: 'contract-corp' });
        const again = { token: secret, platform: 'android' as const, serial: 'C-A2', osVersion: '13' };
        expect((await rejection(fx.agent.enroll(again))).code).toBe('conflict');
        expect((await fx.agent.checkIn(victim.credential, { posture: contractPosture() })).deviceId).toBe(victim.deviceId);
        const refused = (await fx.backend.listAudit({ order: 'desc', limit: 5 })).items.find((a) => a.action === 'enroll.refused');
        expect(refused).toMatchObject({ target: `device/${victim.deviceId}`, detail: { serial: 'C-A2', reason: 'enrolled' } });

        const released = await fx.backend.releaseDevice(victim.deviceId, { expiresInSeconds: 600 });
        expect(released).toMatchObject({ id: victim.deviceId, state: 'enrolled', releasedUntil: expect.any(String) });
        const taken = await fx.agent.enroll(again);
        expect(taken.deviceId).toBe(victim.deviceId);
        expect((await fx.backend.listDevices({ filters: [f('serial', '=', 'C-A2')] })).items).toHaveLength(1);
        expect((await rejection(fx.agent.checkIn(victim.credential, { posture: contractPosture() }))).code).toBe('unauthorized');
        fleet[1] = { ...victim, credential: taken.credential, checkIn: await fx.agent.checkIn(taken.credential, { posture: contractPosture({ osVersion: '13' }) }) };
        expect((await rejection(fx.backend.releaseDevice('dev_missing'))).code).toBe('not_found');
      });

      it('pre-registers devices', async () => {
        expect(await fx.backend.preregisterDevices([{ serial: 'C-P1', platform: 'ios', owner: 'eve@example.com', labels: { desk: '7' } }])).toEqual({ created: 1, updated: 0 });
        const [pre] = (await fx.backend.listDevices({ filters: [f('serial', '=', 'C-P1')] })).items;
        expect(pre).toMatchObject({ state: 'preregistered', owner: 'eve@example.com', labels: { desk: '7' } });
      });
    });

    describe.skipIf(caps.agent !== true)(`commands${caps.agent === true ? '' : ` — not on ${name}: ${caps.agent}`}`, () => {
      let fx: ContractFixture;
      let fleet: SeededDevice[];
      beforeAll(async () => {
        fx = await open();
        await fx.backend.applyChanges(creates(CONTRACT_DOCS));
        fleet = await seedDevices(fx, [
          { serial: 'K-1', platform: 'android' },
          { serial: 'K-2', platform: 'android' },
          { serial: 'K-3', platform: 'ios', posture: { osVersion: '17.1' } },
        ]);
      });
      afterAll(async () => {
        await fx.backend.close();
        await fx.cleanup();
      });

      it('queues once per idempotency key and never a second pending command of a type', async () => {
        const ids = [fleet[0]!.deviceId, fleet[1]!.deviceId];
        const req = { deviceIds: ids, type: 'lock' as const, reason: 'contract', idempotencyKey: `contract-${Date.now()}` };
        const first = await fx.backend.enqueueCommands(req);
        expect(first.results.map((r) => [r.deviceId, r.outcome])).toEqual(ids.map((id) => [id, 'queued']));
        expect(first.results[0]!.command).toMatchObject({ type: 'lock', status: 'queued', reason: 'contract', deviceId: ids[0] });
        expect(await fx.backend.enqueueCommands(req)).toEqual(first);
        const again = await fx.backend.enqueueCommands({ ...req, idempotencyKey: `${req.idempotencyKey}-b` });
        expect(again.results.map((r) => r.outcome)).toEqual(['pending', 'pending']);
        expect(again.results[1]!.command!.id).toBe(first.results[1]!.command!.id);
        expect((await fx.backend.listCommands({ type: 'lock' })).items).toHaveLength(2);
        expect((await rejection(fx.backend.enqueueCommands({ ...req, deviceIds: ['dev_missing'], idempotencyKey: 'contract-missing' }))).code).toBe('not_found');
      });

      it('delivers commands at check-in and tracks them to a final state', async () => {
        const dev = fleet[0]!;
        const [lock] = (await fx.backend.listCommands({ deviceId: dev.deviceId })).items;
        const ci = await fx.agent.checkIn(dev.credential, { posture: contractPosture() });
        expect(ci.commands.map((c) => c.id)).toEqual([lock!.id]);
        expect((await fx.backend.getCommand(lock!.id)).status).toBe('sent');
        await fx.agent.reportResult(dev.credential, lock!.id, { status: 'acknowledged' });
        expect((await fx.backend.getCommand(lock!.id)).status).toBe('acknowledged');
        expect((await fx.backend.listCommands({ status: 'acknowledged' })).items.map((c) => c.id)).toEqual([lock!.id]);
        expect((await rejection(fx.backend.cancelCommand(lock!.id))).code).toBe('conflict');
        expect((await rejection(fx.backend.getCommand('cmd_missing'))).code).toBe('not_found');
      });

      it('cancels a queued command so the device never gets it', async () => {
        const dev = fleet[1]!;
        const [lock] = (await fx.backend.listCommands({ deviceId: dev.deviceId, status: 'queued' })).items;
        expect((await fx.backend.cancelCommand(lock!.id)).status).toBe('cancelled');
        expect((await fx.agent.checkIn(dev.credential, { posture: contractPosture() })).commands).toEqual([]);
      });

      it('a wiped device is marked wiped and can no longer check in', async () => {
        const dev = fleet[2]!;
        const r = await fx.backend.enqueueCommands({ deviceIds: [dev.deviceId], type: 'wipe', reason: 'stolen', idempotencyKey: `contract-wipe-${Date.now()}` });
        const wipe = r.results[0]!.command!;
        const ci = await fx.agent.checkIn(dev.credential, { posture: contractPosture({ osVersion: '17.1' }) });
        expect(ci.commands).toEqual([expect.objectContaining({ id: wipe.id, type: 'wipe', reason: 'stolen' })]);
        await fx.agent.reportResult(dev.credential, wipe.id, { status: 'acknowledged' });
        expect((await fx.backend.getDevice(dev.deviceId)).state).toBe('wiped');
        expect((await rejection(fx.agent.checkIn(dev.credential, { posture: contractPosture() }))).code).toBe('unauthorized');
        const skipped = await fx.backend.enqueueCommands({ deviceIds: [dev.deviceId], type: 'lock', idempotencyKey: `contract-after-wipe-${Date.now()}` });
        expect(skipped.results[0]!.outcome).toBe('skipped');
      });

      it('pages commands and audits who asked', async () => {
        const page = await fx.backend.listCommands({ limit: 2 });
        expect(page.items).toHaveLength(2);
        const rest = await fx.backend.listCommands({ limit: 2, cursor: page.nextCursor });
        expect(rest.items.length).toBeGreaterThan(0);
        expect(rest.items.map((c) => c.id)).not.toContain(page.items[0]!.id);
        const audit = (await fx.backend.listAudit({ limit: 1000 })).items;
        expect(audit.filter((a) => a.action === 'command.lock').map((a) => a.target)).toEqual([`device/${fleet[0]!.deviceId}`, `device/${fleet[1]!.deviceId}`]);
        expect(audit.find((a) => a.action === 'command.cancel')).toBeDefined();
        const lockActor = audit.find((a) => a.action === 'command.lock')!.actor;
        expect((await fx.backend.listAudit({ actor: lockActor, limit: 1000 })).items.every((a) => a.actor === lockActor)).toBe(true);
      });
    });
  });
}
