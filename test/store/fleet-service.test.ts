// FleetService on real SQLite files in temp dirs, with an injectable clock for time rules.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { BackendError } from '../../src/errors.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { DB_FILE } from '../../src/store/sqlite/files.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import { tempDir } from '../helpers/cli.js';
import { ADMIN, DAY, createAll, docs, enrollDevice, posture, testClock } from './fixtures.js';

const BYOD: ResourceDocument = { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'byod' }, spec: { platforms: ['android'], ownership: 'personal' } };
const cleanups: Array<() => unknown> = [];
const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function open(clock = testClock()) {
  const dir = tempDir('emmctl-store-');
  const dataDir = join(dir.path, 'data');
  const store = await FleetService.open(dataDir, { now: clock.now });
  cleanups.push(() => dir.cleanup());
  cleanups.push(() => store.close());
  return { store, dataDir, clock };
}

async function seeded(clock = testClock()) {
  const ctx = await open(clock);
  await ctx.store.applyChanges(createAll(), ADMIN);
  return ctx;
}

async function expectBackendError(fn: () => unknown, code: string, message?: RegExp) {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe(code);
    if (message) expect((error as Error).message).toMatch(message);
    return error as BackendError;
  }
  throw new Error(`expected BackendError(${code})`);
}

describe('opening and migrations', () => {
  it('narrows an existing data dir of ours that others can read to owner-only, and the database to 0600', async () => {
    const dir = tempDir('emmctl-store-mode-');
    cleanups.push(dir.cleanup);
    const dataDir = join(dir.path, 'data');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const store = await FleetService.open(dataDir);
    await store.close();
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, DB_FILE)).mode & 0o777).toBe(0o600);

    // An existing database file with loose modes is narrowed too, on every open.
    chmodSync(dataDir, 0o750);
    chmodSync(join(dataDir, DB_FILE), 0o644);
    (await FleetService.open(dataDir)).close();
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, DB_FILE)).mode & 0o777).toBe(0o600);
  });

  it('leaves the mode of a folder that holds other files alone (--data-dir ~ is not ours to chmod), but still makes the database 0600', async () => {
    const dir = tempDir('emmctl-store-mode-');
    cleanups.push(dir.cleanup);
    const dataDir = join(dir.path, 'project');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    writeFileSync(join(dataDir, 'notes.txt'), 'kept');
    (await FleetService.open(dataDir)).close();
    expect(statSync(dataDir).mode & 0o777).toBe(0o755);
    expect(statSync(join(dataDir, DB_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dataDir, 'notes.txt'), 'utf8')).toBe('kept');
  });

  it('creates an owner-only data dir and database, migrates, and keeps data across re-open', async () => {
    const { store, dataDir } = await seeded();
    const dev = await enrollDevice(store);
    expect(await store.schemaVersion()).toBe(LATEST);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    for (const f of [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`]) {
      expect(existsSync(join(dataDir, f)), f).toBe(true);
      expect(statSync(join(dataDir, f)).mode & 0o777, f).toBe(0o600);
    }
    await store.close();

    const again = await FleetService.open(dataDir);
    cleanups.push(() => again.close());
    expect(await again.schemaVersion()).toBe(LATEST);
    expect((await again.listResources()).map((r) => `${r.kind}/${r.name}@${r.version}`)).toEqual([
      'CompliancePolicy/baseline@1', 'EnrollmentProfile/corp@1', 'Group/corp-android@1', 'Group/sales@1', 'Policy/android-baseline@1',
    ]);
    expect((await again.getDevice(dev.deviceId)).serial).toBe(dev.serial);
    expect(await again.authenticateDevice(dev.credential)).toBe(dev.deviceId);
    const db = new Database(join(dataDir, DB_FILE), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT count(*) AS n FROM migrations').get()).toEqual({ n: MIGRATIONS.length });
    await db.close();
  });

  it('migrates a store at an older schema version in place', async () => {
    const { store, dataDir } = await seeded();
    const d = await enrollDevice(store, { posture: { osVersion: '9.1' } });
    await store.close();
    // Rewind to schema 1 with the key format it used (four fixed parts) to replay migration 2.
    const db = new Database(join(dataDir, DB_FILE));
    db.prepare('DELETE FROM migrations WHERE version > 1').run();
    // Undo what later migrations created, so replaying them finds schema 1.
    db.exec(`DROP TABLE notify_outbox; DROP TABLE escalations;
      CREATE TABLE escalations (device_id TEXT NOT NULL, policy TEXT NOT NULL, step INTEGER NOT NULL, episode_start TEXT NOT NULL, fired_at TEXT NOT NULL, PRIMARY KEY (device_id, policy, step, episode_start));`);
    db.prepare("UPDATE devices SET os_key = '0000000009.0000000001.0000000000.0000000000'").run();
    db.prepare('ALTER TABLE resources DROP COLUMN secrets').run();
    db.prepare("DELETE FROM meta WHERE key = 'store_id'").run();
    await db.close();
    const again = await FleetService.open(dataDir);
    cleanups.push(() => again.close());
    expect(await again.schemaVersion()).toBe(LATEST);
    expect((await again.listDevices({ filters: [{ field: 'os', op: '<', value: '10' }] })).items.map((x) => x.id)).toEqual([d.deviceId]);
    expect((await again.listDevices({ filters: [{ field: 'os', op: '=', value: '9.1.0' }] })).items.map((x) => x.id)).toEqual([d.deviceId]);
  });

  it('moves secret values an older store kept inside documents out of them (migration 3)', async () => {
    const { store, dataDir } = await seeded();
    const before = await store.storeId();
    await store.close();
    // Schema 2 stored the resolved value in the document, where every admin read returned it.
    const db = new Database(join(dataDir, DB_FILE));
    db.prepare('DELETE FROM migrations WHERE version > 2').run();
    db.prepare('ALTER TABLE resources DROP COLUMN secrets').run();
    db.exec(`DROP TABLE notify_outbox; DROP TABLE escalations;
      CREATE TABLE escalations (device_id TEXT NOT NULL, policy TEXT NOT NULL, step INTEGER NOT NULL, episode_start TEXT NOT NULL, fired_at TEXT NOT NULL, PRIMARY KEY (device_id, policy, step, episode_start));`);
    const doc = docs().find((d) => d.kind === 'Policy')!;
    const withPsk = { ...doc, spec: { ...doc.spec, settings: { wifi: [{ ssid: 'corp', security: 'wpa2-personal', password: 'old-store-psk' }] } } };
    db.prepare("UPDATE resources SET document = ? WHERE kind = 'Policy'").run(JSON.stringify(withPsk));
    await db.close();
    const again = await FleetService.open(dataDir);
    cleanups.push(() => again.close());
    expect(await again.storeId()).toBe(before);
    const listed = JSON.stringify(await again.listResources());
    expect(listed).not.toContain('old-store-psk');
    expect((await again.listResources('Policy'))[0]!.secrets).toEqual([{ path: 'spec.settings.wifi[0].password', ref: '(sensitive)', digest: expect.stringMatching(/^scrypt1\$/) }]);
    const d = await enrollDevice(again);
    expect(JSON.stringify(await again.getDevice(d.deviceId))).not.toContain('old-store-psk');
    const checkIn = await again.checkIn(d.deviceId, { posture: posture() });
    expect(checkIn.configuration.settings.wifi).toEqual([expect.objectContaining({ password: 'old-store-psk' })]);
  });

  it('refuses a store written by a newer schema', async () => {
    const { store, dataDir } = await open();
    await store.close();
    const db = new Database(join(dataDir, DB_FILE));
    db.prepare("INSERT INTO migrations (version, name, applied_at) VALUES (99, 'future', 'x')").run();
    await db.close();
    await expectBackendError(() => FleetService.open(dataDir), 'unavailable', new RegExp(`schema version 99, newer than this emmctl understands \\(${LATEST}\\)`));
  });

  it('reports an unusable data dir clearly', async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const file = join(dir.path, 'not-a-dir');
    writeFileSync(file, 'x');
    const err = await expectBackendError(() => FleetService.open(file), 'unavailable', /cannot open the store at .*not-a-dir/);
    expect(err.hint).toMatch(/--data-dir/);
  });
});

describe('resources', () => {
  it('versions every change and audits each one', async () => {
    const { store } = await seeded();
    const [group] = docs();
    const updated = { ...group!, metadata: { name: 'corp-android', description: 'changed' } } as typeof group;
    const applied = await store.applyChanges([{ op: 'update', kind: 'Group', name: 'corp-android', document: updated!, expectedVersion: 1 }], ADMIN);
    expect(applied).toEqual([{ op: 'update', kind: 'Group', name: 'corp-android', version: 2 }]);
    const stored = (await store.listResources('Group')).find((r) => r.name === 'corp-android')!;
    expect(stored.version).toBe(2);
    expect(stored.document.metadata.description).toBe('changed');
    const audit = (await store.listAudit({ actor: ADMIN.name })).items.filter((a) => a.action === 'apply');
    expect(audit).toHaveLength(6);
    expect(audit[5]).toMatchObject({ target: 'Group/corp-android', actor: 'local:tester', source: 'local', detail: { op: 'update', version: 2 } });
  });

  it('rejects a stale version naming both versions, and applies nothing of the set', async () => {
    const { store } = await seeded();
    const before = await store.listResources();
    const sales = docs()[1]!;
    const err = await expectBackendError(() => store.applyChanges([
      { op: 'delete', kind: 'Policy', name: 'android-baseline', expectedVersion: 1 },
      { op: 'update', kind: 'Group', name: 'sales', document: sales, expectedVersion: 3 },
    ], ADMIN), 'conflict', /Group\/sales changed since the plan was made: expected version 3, found version 1/);
    expect(err.hint).toMatch(/plan/);
    expect(await store.listResources()).toEqual(before);
    await expectBackendError(() => store.applyChanges(createAll(docs().slice(0, 1)), ADMIN), 'conflict', /Group\/corp-android already exists \(version 1\)/);
    await expectBackendError(() => store.applyChanges([{ op: 'delete', kind: 'Group', name: 'nope', expectedVersion: 1 }], ADMIN), 'conflict', /Group\/nope does not exist/);
  });

  it('rejects a change set that leaves a dangling group reference', async () => {
    const { store } = await seeded();
    await expectBackendError(() => store.applyChanges([{ op: 'delete', kind: 'Group', name: 'corp-android', expectedVersion: 1 }], ADMIN),
      'invalid', /Policy\/android-baseline refers to group "corp-android" that would not exist after this change/);
    // Deleting the policy in the same set makes it fine.
    await store.applyChanges([
      { op: 'delete', kind: 'Policy', name: 'android-baseline', expectedVersion: 1 },
      { op: 'delete', kind: 'Group', name: 'corp-android', expectedVersion: 1 },
    ], ADMIN);
    expect((await store.listResources()).map((r) => r.name)).not.toContain('corp-android');
  });

  it('rejects malformed changes before touching anything', async () => {
    const { store } = await open();
    const doc = docs()[0]!;
    await expectBackendError(() => store.applyChanges([{ op: 'create', kind: 'Group', name: 'other', document: doc }], ADMIN), 'invalid', /has kind "Group" and name "corp-android"/);
    await expectBackendError(() => store.applyChanges([{ op: 'create', kind: 'Widget' as never, name: 'x', document: doc }], ADMIN), 'invalid', /unknown resource kind "Widget"/);
    expect(await store.listResources()).toEqual([]);
  });
});

describe('enrollment', () => {
  it('honours the profile: TTL, max uses, labels, ownership and allowed platforms', async () => {
    const { store, clock } = await seeded();
    const { token, secret } = await store.createEnrollmentToken({ profile: 'corp', maxUses: 2 }, ADMIN);
    expect(secret).toMatch(/^emm_et_[A-Za-z0-9_-]{32}$/);
    expect(token).toMatchObject({ profile: 'corp', maxUses: 2, uses: 0, revoked: false, createdBy: 'local:tester', expiresAt: '2026-01-03T00:00:00.000Z' });
    expect((await store.listEnrollmentTokens())[0]).not.toHaveProperty('secret');
    const a = await enrollDevice(store, { token: secret });
    expect(a.credential).toMatch(/^emm_dc_/);
    const dev = await store.getDevice(a.deviceId);
    expect(dev).toMatchObject({ state: 'enrolled', ownership: 'corporate', labels: { source: 'corp-profile' }, profile: 'corp' });
    await expectBackendError(() => store.enrollDevice({ token: secret, platform: 'windows', serial: 'W1', osVersion: '10.0.19045' }, 't'), 'invalid', /platform "windows" may not enroll with profile "corp" \(allowed: android, ios\)/);
    await enrollDevice(store, { token: secret });
    await expectBackendError(() => enrollDevice(store, { token: secret }), 'unauthorized', /used 2 of 2 times/);
    expect((await store.listEnrollmentTokens())[0]!.uses).toBe(2);

    const short = (await store.createEnrollmentToken({ profile: 'corp', expiresInSeconds: 60 }, ADMIN)).secret;
    clock.advance(61_000);
    await expectBackendError(() => enrollDevice(store, { token: short }), 'unauthorized', /expired at 2026-01-01T00:01:00.000Z/);
    const revoked = await store.createEnrollmentToken({ profile: 'corp' }, ADMIN);
    await store.revokeEnrollmentToken(revoked.token.id, ADMIN);
    await expectBackendError(() => enrollDevice(store, { token: revoked.secret }), 'unauthorized', /was revoked/);
    await expectBackendError(() => enrollDevice(store, { token: 'emm_et_bogus' }), 'unauthorized', /unknown enrollment token/);
    await expectBackendError(() => store.createEnrollmentToken({ profile: 'missing' }, ADMIN), 'not_found', /enrollment profile "missing" does not exist/);
    // Only hashes on disk.
    const db = new Database(store.path, { readonly: true });
    const dump = JSON.stringify(db.prepare('SELECT * FROM enrollment_tokens').all()) + JSON.stringify(db.prepare('SELECT * FROM devices').all());
    await db.close();
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(a.credential);
  });

  it('rejects malformed enrollments and check-ins without changing anything', async () => {
    const { store } = await seeded();
    const { secret } = await store.createEnrollmentToken({ profile: 'corp' }, ADMIN);
    await expectBackendError(() => store.enrollDevice({ token: secret, platform: 'android', serial: 'X', osVersion: '14', ownership: 'borrowed' as never }, 't'), 'invalid', /unknown ownership "borrowed"/);
    await expectBackendError(() => store.enrollDevice({ token: secret, platform: 'android', serial: '', osVersion: '14' }, 't'), 'invalid', /needs token, platform, serial and osVersion/);
    expect((await store.listEnrollmentTokens())[0]!.uses).toBe(0);
    const d = await enrollDevice(store, { token: secret });
    await expectBackendError(() => store.checkIn(d.deviceId, { posture: { ...posture(), encrypted: 'yes' as never } }), 'invalid', /posture/);
    expect((await store.getDevice(d.deviceId)).posture?.encrypted).toBe(true);
  });

  it('bounds every device-supplied field on the store path too, and stores only the posture fields it checked', async () => {
    const { store } = await seeded();
    const { secret } = await store.createEnrollmentToken({ profile: 'corp' }, ADMIN);
    await expectBackendError(() => store.enrollDevice({ token: secret, platform: 'android', serial: 'BIG-1', osVersion: '14', name: 'n'.repeat(1 << 20) }, 't'), 'invalid', /^enrollment\.name is too long: 1048576 characters, at most 128$/);
    await expectBackendError(() => store.enrollDevice({ token: secret, platform: 'android', serial: 's'.repeat(65), osVersion: '14' }, 't'), 'invalid', /^enrollment\.serial is too long/);
    expect((await store.listDevices({})).items).toEqual([]);
    const d = await enrollDevice(store, { token: secret });
    await expectBackendError(() => store.checkIn(d.deviceId, { posture: posture({ installedApps: Array.from({ length: 2001 }, (_, i) => `a${i}`) }) }), 'invalid', /^posture\.installedApps has 2001 entries/);
    await store.checkIn(d.deviceId, { posture: { ...posture(), junk: 'x'.repeat(100_000) } as never });
    expect((await store.getDevice(d.deviceId)).posture).toEqual(posture());
    await expectBackendError(() => store.preregisterDevices([{ serial: 'P-1', platform: 'android', name: 'n'.repeat(129) }], ADMIN), 'invalid', /^row 1: name is too long/);
    await expectBackendError(() => store.preregisterDevices([{ serial: 'P-1', platform: 'android', labels: { k: 'v'.repeat(257) } }], ADMIN), 'invalid', /^row 1: label k is too long/);
  });

  it('never lets an enrollment take over an enrolled device: 409, audited, nothing changed', async () => {
    const { store } = await seeded();
    await store.applyChanges(createAll([BYOD]), ADMIN);
    const victim = await enrollDevice(store, { serial: 'SAME-1' });
    const lock = (await store.enqueueCommands({ deviceIds: [victim.deviceId], type: 'lock', idempotencyKey: 'k-victim' }, ADMIN)).results[0]!.command!;
    for (const profile of ['corp', 'byod']) {
      const token = await store.createEnrollmentToken({ profile }, ADMIN);
      await expectBackendError(() => store.enrollDevice({ token: token.secret, platform: 'android', serial: 'SAME-1', osVersion: '14', ownership: 'personal' }, '10.0.0.66'),
        'conflict', /serial "SAME-1" belongs to an enrolled device/);
      expect((await store.listEnrollmentTokens()).find((t) => t.id === token.token.id)!.uses).toBe(0);
    }
    expect(await store.authenticateDevice(victim.credential)).toBe(victim.deviceId);
    expect(await store.getDevice(victim.deviceId)).toMatchObject({ ownership: 'corporate', profile: 'corp', state: 'enrolled' });
    expect((await store.checkIn(victim.deviceId, { posture: posture() })).commands.map((c) => c.id)).toEqual([lock.id]);
    const refused = (await store.listAudit({})).items.filter((a) => a.action === 'enroll.refused');
    expect(refused).toHaveLength(2);
    expect(refused[1]).toMatchObject({ source: '10.0.0.66', target: `device/${victim.deviceId}`, detail: { serial: 'SAME-1', profile: 'byod', reason: 'enrolled', state: 'enrolled' } });
    expect((await store.listDevices({ filters: [{ field: 'serial', op: '=', value: 'SAME-1' }] })).items).toHaveLength(1);
  });

  it('a release lets the next enrollment take the device over within its window, cancelling its pending commands', async () => {
    const clock = testClock();
    const { store } = await seeded(clock);
    const victim = await enrollDevice(store, { serial: 'REL-1' });
    const lock = (await store.enqueueCommands({ deviceIds: [victim.deviceId], type: 'lock', idempotencyKey: 'k-rel' }, ADMIN)).results[0]!.command!;
    const released = await store.releaseDevice(victim.deviceId, { expiresInSeconds: 3600 }, ADMIN);
    expect(released.releasedUntil).toBe(new Date(clock.now().getTime() + 3600_000).toISOString());
    expect(await store.authenticateDevice(victim.credential)).toBe(victim.deviceId); // still the device until someone enrolls
    clock.advance(3601_000);
    const token = (await store.createEnrollmentToken({ profile: 'corp' }, ADMIN)).secret;
    await expectBackendError(() => store.enrollDevice({ token, platform: 'android', serial: 'REL-1', osVersion: '14' }, 't'), 'conflict', /belongs to an enrolled device/);
    expect((await store.listAudit({ order: 'desc', limit: 1 })).items[0]).toMatchObject({ action: 'enroll.refused', detail: { reason: 'release-expired' } });

    await store.releaseDevice(victim.deviceId, {}, ADMIN);
    expect((await store.listAudit({ order: 'desc', limit: 1 })).items[0]).toMatchObject({ action: 'device.release', actor: ADMIN.name, target: `device/${victim.deviceId}` });
    const again = await store.enrollDevice({ token, platform: 'android', serial: 'REL-1', osVersion: '14' }, 't');
    expect(again.deviceId).toBe(victim.deviceId);
    expect(await store.authenticateDevice(victim.credential)).toBeUndefined();
    expect(await store.getCommand(lock.id)).toMatchObject({ status: 'cancelled', detail: 'device enrolled again' });
    expect((await store.getDevice(victim.deviceId)).releasedUntil).toBeUndefined();
    // The release is spent: a second enrollment is refused again.
    await expectBackendError(() => store.enrollDevice({ token, platform: 'android', serial: 'REL-1', osVersion: '14' }, 't'), 'conflict');
    expect((await store.listAudit({})).items.find((a) => a.action === 'enroll' && a.detail?.reenrolled === 'released')).toBeDefined();
  });

  it('only enrolled devices are released; wiped ones enroll again without a release', async () => {
    const { store } = await seeded();
    await expectBackendError(() => store.releaseDevice('dev_nope', {}, ADMIN), 'not_found');
    await store.preregisterDevices([{ serial: 'PRE-R', platform: 'android' }], ADMIN);
    const pre = (await store.listDevices({ filters: [{ field: 'serial', op: '=', value: 'PRE-R' }] })).items[0]!;
    await expectBackendError(() => store.releaseDevice(pre.id, {}, ADMIN), 'conflict', /preregistered/);
    await expectBackendError(() => store.releaseDevice(pre.id, { expiresInSeconds: 31 * 86_400 }, ADMIN), 'invalid', /30 days/);
    const d = await enrollDevice(store, { serial: 'WIPE-1' });
    const wipe = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'wipe', idempotencyKey: 'k-w' }, ADMIN)).results[0]!.command!;
    await store.checkIn(d.deviceId, { posture: posture() });
    await store.reportCommandResult(d.deviceId, wipe.id, { status: 'acknowledged' });
    await expectBackendError(() => store.releaseDevice(d.deviceId, {}, ADMIN), 'conflict', /wiped/);
    const again = await enrollDevice(store, { serial: 'WIPE-1' });
    expect(again.deviceId).toBe(d.deviceId);
    expect((await store.getDevice(d.deviceId)).state).toBe('enrolled');
  });

  it('audits enrollments refused for a known token (revoked, wrong platform), not for an unknown secret', async () => {
    const { store } = await seeded();
    const t = await store.createEnrollmentToken({ profile: 'corp' }, ADMIN);
    await expectBackendError(() => store.enrollDevice({ token: t.secret, platform: 'windows', serial: 'W-1', osVersion: '10.0' }, '192.0.2.1'), 'invalid', /platform "windows" may not enroll/);
    await store.revokeEnrollmentToken(t.token.id, ADMIN);
    await expectBackendError(() => store.enrollDevice({ token: t.secret, platform: 'android', serial: 'W-2', osVersion: '14' }, '192.0.2.1'), 'unauthorized', /revoked/);
    await expectBackendError(() => store.enrollDevice({ token: 'emm_et_nope', platform: 'android', serial: 'W-3', osVersion: '14' }, '192.0.2.1'), 'unauthorized', /unknown enrollment token/);
    const refused = (await store.listAudit({})).items.filter((a) => a.action === 'enroll.refused');
    expect(refused.map((a) => [a.target, a.detail?.reason, a.detail?.serial])).toEqual([
      [`enrollment-token/${t.token.id}`, 'platform-not-allowed', 'W-1'],
      [`enrollment-token/${t.token.id}`, 'token-revoked', 'W-2'],
    ]);
    expect((await store.listDevices({})).items).toEqual([]);
  });

  it('a pre-registered serial is claimed only with a profile of its platform and ownership', async () => {
    const { store } = await seeded();
    await store.applyChanges(createAll([BYOD]), ADMIN);
    await store.preregisterDevices([{ serial: 'PRE-C', platform: 'android', ownership: 'corporate', labels: { team: 'sales' } }, { serial: 'PRE-I', platform: 'ios' }], ADMIN);
    const byod = (await store.createEnrollmentToken({ profile: 'byod' }, ADMIN)).secret;
    await expectBackendError(() => store.enrollDevice({ token: byod, platform: 'android', serial: 'PRE-C', osVersion: '14' }, 't'), 'conflict', /pre-registered for another platform or ownership/);
    const corp = (await store.createEnrollmentToken({ profile: 'corp' }, ADMIN)).secret;
    // corp takes android and ios, but PRE-I was registered as an iPhone.
    await expectBackendError(() => store.enrollDevice({ token: corp, platform: 'android', serial: 'PRE-I', osVersion: '14' }, 't'), 'conflict', /pre-registered/);
    expect((await store.listAudit({})).items.filter((a) => a.action === 'enroll.refused').map((a) => a.detail?.reason)).toEqual(['preregistered-mismatch', 'preregistered-mismatch']);
    const claimed = await store.enrollDevice({ token: corp, platform: 'android', serial: 'PRE-C', osVersion: '14', ownership: 'personal' }, 't');
    expect(await store.getDevice(claimed.deviceId)).toMatchObject({ state: 'enrolled', ownership: 'corporate', labels: { team: 'sales' } });
  });

  it('a preregistered serial becomes enrolled, keeping its owner and labels', async () => {
    const { store } = await seeded();
    expect(await store.preregisterDevices([
      { serial: 'PRE-1', platform: 'android', owner: 'ana@example.com', labels: { team: 'sales' } },
      { serial: 'PRE-2', platform: 'ios' },
    ], ADMIN)).toEqual({ created: 2, updated: 0 });
    expect(await store.preregisterDevices([{ serial: 'PRE-2', platform: 'ios', owner: 'bo@example.com' }], ADMIN)).toEqual({ created: 0, updated: 1 });
    const pre = (await store.listDevices({ filters: [{ field: 'state', op: '=', value: 'preregistered' }] })).items;
    expect(pre.map((d) => d.serial).sort()).toEqual(['PRE-1', 'PRE-2']);
    const skipped = await store.enqueueCommands({ deviceIds: [pre[0]!.id], type: 'lock', idempotencyKey: 'k-pre' }, ADMIN);
    expect(skipped.results[0]).toMatchObject({ outcome: 'skipped', message: expect.stringMatching(/preregistered/) });
    const e = await enrollDevice(store, { serial: 'PRE-1' });
    const dev = await store.getDevice(e.deviceId);
    expect(dev).toMatchObject({ serial: 'PRE-1', state: 'enrolled', owner: 'ana@example.com', labels: { team: 'sales', source: 'corp-profile' } });
    expect(dev.groups).toContain('sales');
    expect((await store.listDevices({})).items).toHaveLength(2);
  });
});

describe('commands', () => {
  it('runs the lifecycle queued → sent → acknowledged, and cancels only pending ones', async () => {
    const { store } = await seeded();
    const d = await enrollDevice(store);
    const r = await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'lock', reason: 'lost', idempotencyKey: 'k1' }, ADMIN);
    const cmd = r.results[0]!.command!;
    expect(r.results[0]!.outcome).toBe('queued');
    expect(cmd).toMatchObject({ status: 'queued', reason: 'lost', requestedBy: 'local:tester', deviceId: d.deviceId });
    const ci = await store.checkIn(d.deviceId, { posture: posture() });
    expect(ci.commands).toEqual([{ id: cmd.id, type: 'lock', reason: 'lost', createdAt: cmd.createdAt }]);
    expect((await store.getCommand(cmd.id)).status).toBe('sent');
    // Not acknowledged yet: delivered again.
    expect((await store.checkIn(d.deviceId, { posture: posture() })).commands.map((c) => c.id)).toEqual([cmd.id]);
    await store.reportCommandResult(d.deviceId, cmd.id, { status: 'acknowledged' });
    await store.reportCommandResult(d.deviceId, cmd.id, { status: 'acknowledged' }); // retried report is harmless
    expect((await store.getCommand(cmd.id)).status).toBe('acknowledged');
    expect((await store.checkIn(d.deviceId, { posture: posture() })).commands).toEqual([]);
    await expectBackendError(() => store.cancelCommand(cmd.id, ADMIN), 'conflict', /already acknowledged/);
    await expectBackendError(() => store.reportCommandResult(d.deviceId, cmd.id, { status: 'failed' }), 'conflict', /already acknowledged/);

    const reboot = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'reboot', idempotencyKey: 'k2' }, ADMIN)).results[0]!.command!;
    expect((await store.cancelCommand(reboot.id, ADMIN)).status).toBe('cancelled');
    expect((await store.checkIn(d.deviceId, { posture: posture() })).commands).toEqual([]);
    const failing = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'reboot', idempotencyKey: 'k3' }, ADMIN)).results[0]!.command!;
    await store.checkIn(d.deviceId, { posture: posture() });
    await store.reportCommandResult(d.deviceId, failing.id, { status: 'failed', detail: 'busy' });
    expect(await store.getCommand(failing.id)).toMatchObject({ status: 'failed', detail: 'busy' });
    expect((await store.listCommands({ deviceId: d.deviceId })).items.map((c) => c.status)).toEqual(['acknowledged', 'cancelled', 'failed']);
    expect((await store.listAudit({})).items.map((a) => a.action)).toEqual(expect.arrayContaining(['command.lock', 'command.cancel', 'command.result']));
  });

  it('never queues twice for one idempotency key, and never a second pending command of a type', async () => {
    const { store } = await seeded();
    const a = await enrollDevice(store);
    const b = await enrollDevice(store);
    const req = { deviceIds: [a.deviceId, b.deviceId], type: 'wipe' as const, reason: 'stolen', idempotencyKey: 'same' };
    const first = await store.enqueueCommands(req, ADMIN);
    const second = await store.enqueueCommands(req, ADMIN);
    expect(second).toEqual(first);
    expect((await store.listCommands({})).items).toHaveLength(2);
    await expectBackendError(() => store.enqueueCommands({ ...req, type: 'lock' }, ADMIN), 'conflict', /already used for a different request/);
    const again = await store.enqueueCommands({ ...req, idempotencyKey: 'other' }, ADMIN);
    expect(again.results.map((r) => r.outcome)).toEqual(['pending', 'pending']);
    expect(again.results[0]!.command!.id).toBe(first.results[0]!.command!.id);
    expect((await store.listCommands({})).items).toHaveLength(2);
    await expectBackendError(() => store.enqueueCommands({ ...req, deviceIds: [a.deviceId, 'dev_missing'], idempotencyKey: 'x' }, ADMIN), 'not_found', /dev_missing/);
    expect((await store.listCommands({})).items).toHaveLength(2);
  });

  it('expires commands nobody picked up, on reconcile', async () => {
    const { store, clock } = await seeded();
    const d = await enrollDevice(store);
    const cmd = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'reboot', idempotencyKey: 'e1' }, ADMIN)).results[0]!.command!;
    clock.advance(29 * DAY);
    expect((await store.reconcile()).expired).toBe(0);
    clock.advance(2 * DAY);
    expect((await store.reconcile()).expired).toBe(1);
    expect((await store.getCommand(cmd.id)).status).toBe('expired');
  });

  it('never delivers an expired command at check-in', async () => {
    const { store, clock } = await seeded();
    const d = await enrollDevice(store);
    const old = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'reboot', idempotencyKey: 'e2' }, ADMIN)).results[0]!.command!;
    clock.advance(31 * DAY);
    const fresh = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'lock', idempotencyKey: 'e3' }, ADMIN)).results[0]!.command!;
    expect((await store.checkIn(d.deviceId, { posture: posture() })).commands.map((c) => c.id)).toEqual([fresh.id]);
    expect((await store.getCommand(old.id)).status).toBe('expired');
  });

  it('an acknowledged wipe marks the device wiped and revokes its credential', async () => {
    const { store } = await seeded();
    const d = await enrollDevice(store);
    const wipe = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'wipe', idempotencyKey: 'w' }, ADMIN)).results[0]!.command!;
    const lock = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'lock', idempotencyKey: 'l' }, ADMIN)).results[0]!.command!;
    await store.checkIn(d.deviceId, { posture: posture() });
    await store.reportCommandResult(d.deviceId, wipe.id, { status: 'acknowledged' });
    expect((await store.getDevice(d.deviceId)).state).toBe('wiped');
    expect((await store.getCommand(lock.id)).status).toBe('cancelled');
    expect(await store.authenticateDevice(d.credential)).toBeUndefined();
    await expectBackendError(() => store.checkIn(d.deviceId, { posture: posture() }), 'unauthorized');
    expect((await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'lock', idempotencyKey: 'l2' }, ADMIN)).results[0]!.outcome).toBe('skipped');
  });

  it('an acknowledged retire removes the corporate configuration', async () => {
    const { store } = await seeded();
    const d = await enrollDevice(store);
    expect(Object.keys(d.checkIn.configuration.settings).sort()).toEqual(['camera', 'passcode']);
    const retire = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'retire', idempotencyKey: 'r' }, ADMIN)).results[0]!.command!;
    await store.checkIn(d.deviceId, { posture: posture() });
    await store.reportCommandResult(d.deviceId, retire.id, { status: 'acknowledged' });
    const after = await store.checkIn(d.deviceId, { posture: posture() });
    expect(after.configuration.settings).toEqual({});
    expect(after.configuration.version).not.toBe(d.checkIn.configuration.version);
    expect(await store.getDevice(d.deviceId)).toMatchObject({ state: 'retired', effectiveConfiguration: { settings: {} } });
  });
});

describe('compliance escalation', () => {
  it('locks once at 3 days, retires once at 30 days, and ends the episode on compliance', async () => {
    const { store, clock } = await seeded();
    const d = await enrollDevice(store, { posture: { encrypted: false } });
    const commands = async () => (await store.listCommands({ deviceId: d.deviceId })).items;
    expect((await store.getDevice(d.deviceId)).compliance).toMatchObject({ status: 'noncompliant', noncompliantSince: '2026-01-01T00:00:00.000Z' });
    clock.advance(3 * DAY - 60_000);
    await store.checkIn(d.deviceId, { posture: posture({ encrypted: false }) });
    expect(await commands()).toEqual([]);
    clock.advance(60_000);
    const ci = await store.checkIn(d.deviceId, { posture: posture({ encrypted: false }) });
    expect(ci.commands.map((c) => c.type)).toEqual(['lock']);
    expect((await commands())[0]).toMatchObject({ type: 'lock', requestedBy: 'compliance:baseline' });
    await store.reportCommandResult(d.deviceId, ci.commands[0]!.id, { status: 'acknowledged' });
    clock.advance(DAY);
    await store.checkIn(d.deviceId, { posture: posture({ encrypted: false }) });
    expect((await store.reconcile()).devices).toBe(1);
    expect((await commands()).map((c) => c.type)).toEqual(['lock']);
    clock.set('2026-01-31T00:00:00.000Z');
    // Escalation also runs for a device that stopped checking in (the server's tick).
    await store.reconcile();
    await store.reconcile();
    expect((await commands()).map((c) => c.type)).toEqual(['lock', 'retire']);
    expect((await store.listAudit({ actor: 'compliance:baseline' })).items.map((a) => a.action)).toEqual(['compliance.markNoncompliant', 'command.lock', 'command.retire']);

    // Compliant again: the episode ends; a new failure starts a new one that escalates afresh.
    const retire = (await commands())[1]!;
    await store.cancelCommand(retire.id, ADMIN);
    await store.checkIn(d.deviceId, { posture: posture() });
    expect((await store.getDevice(d.deviceId)).compliance).toMatchObject({ status: 'compliant' });
    expect((await store.getDevice(d.deviceId)).compliance.noncompliantSince).toBeUndefined();
    clock.advance(DAY);
    await store.checkIn(d.deviceId, { posture: posture({ osVersion: '12' }) });
    clock.advance(3 * DAY);
    await store.checkIn(d.deviceId, { posture: posture({ osVersion: '12' }) });
    expect((await commands()).map((c) => c.type)).toEqual(['lock', 'retire', 'lock']);
  });

  it('escalates a device that stopped checking in, from the periodic reconcile', async () => {
    const clock = testClock();
    const { store } = await open(clock);
    const stale = docs().map((d) => d.kind === 'CompliancePolicy'
      ? { ...d, spec: { assign: ['all'], rules: { maxCheckInAgeDays: 14 }, actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '3d', do: 'lock' }] } } as typeof d
      : d);
    await store.applyChanges(createAll(stale), ADMIN);
    const d = await enrollDevice(store);
    clock.advance(14 * DAY);
    await store.reconcile();
    expect((await store.getDevice(d.deviceId)).compliance.status).toBe('compliant');
    clock.advance(DAY);
    await store.reconcile();
    expect((await store.getDevice(d.deviceId)).compliance).toMatchObject({ status: 'noncompliant', noncompliantSince: '2026-01-16T00:00:00.000Z' });
    clock.advance(3 * DAY);
    await store.reconcile();
    await store.reconcile();
    expect((await store.listCommands({})).items.map((c) => [c.type, c.requestedBy])).toEqual([['lock', 'compliance:baseline']]);
    // Checking in again ends the episode and delivers the lock.
    const ci = await store.checkIn(d.deviceId, { posture: posture() });
    expect(ci.commands.map((c) => c.type)).toEqual(['lock']);
    expect((await store.getDevice(d.deviceId)).compliance.status).toBe('compliant');
  });

  it('a wiped device can enroll again as the same record', async () => {
    const { store } = await seeded();
    const d = await enrollDevice(store, { serial: 'WIPE-1' });
    const wipe = (await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'wipe', idempotencyKey: 'w1' }, ADMIN)).results[0]!.command!;
    await store.checkIn(d.deviceId, { posture: posture() });
    await store.reportCommandResult(d.deviceId, wipe.id, { status: 'acknowledged' });
    const again = await enrollDevice(store, { serial: 'WIPE-1' });
    expect(again.deviceId).toBe(d.deviceId);
    expect((await store.getDevice(d.deviceId)).state).toBe('enrolled');
    expect(await store.authenticateDevice(again.credential)).toBe(d.deviceId);
    expect((await store.listAudit({ actor: `device:${d.deviceId}` })).items.map((a) => a.action)).toEqual(['enroll', 'command.result', 'device.wiped', 'enroll']);
  });

  it('reconciles in steps when asked, covering every device once', async () => {
    const { store, clock } = await seeded();
    const devices = await Promise.all(Array.from({ length: 7 }, () => enrollDevice(store, { posture: { encrypted: false } })));
    clock.advance(3 * DAY);
    const now = clock.now();
    const steps: number[] = [];
    let step = await store.reconcile(now, { maxDevices: 3 });
    steps.push(step.devices);
    while (step.next) {
      step = await store.reconcile(now, { maxDevices: 3, after: step.next });
      steps.push(step.devices);
    }
    expect(steps).toEqual([3, 3, 1]);
    expect((await store.listCommands({ type: 'lock', limit: 100 })).items.map((c) => c.deviceId).sort()).toEqual(devices.map((d) => d.deviceId).sort());
  });

  it('does not escalate a compliant device or one in grace before its step', async () => {
    const { store, clock } = await seeded();
    const ok = await enrollDevice(store);
    clock.advance(40 * DAY);
    await store.checkIn(ok.deviceId, { posture: posture() });
    await store.reconcile();
    expect((await store.listCommands({})).items).toEqual([]);
    expect((await store.listCompliance({})).items.map((c) => c.status)).toEqual(['compliant']);
  });
});

describe('device listing', () => {
  async function fleet() {
    const ctx = await seeded();
    const { store } = ctx;
    const specs = [
      { platform: 'android' as const, os: '9', owner: 'ana@example.com' },
      { platform: 'android' as const, os: '13', owner: 'bo@example.com' },
      { platform: 'android' as const, os: '14.1', owner: 'cy@other.org', encrypted: false },
      { platform: 'ios' as const, os: '17.4.1', owner: 'di@example.com' },
      { platform: 'ios' as const, os: '16.7', owner: undefined },
    ];
    const ids: string[] = [];
    for (const [i, s] of specs.entries()) ids.push((await enrollDevice(store, { platform: s.platform, serial: `L${i}`, owner: s.owner, posture: { osVersion: s.os, encrypted: s.encrypted ?? true } })).deviceId);
    return { ...ctx, ids };
  }
  const f = (field: string, op: '=' | '!=' | '<' | '<=' | '>' | '>=', value: string) => ({ field, op, value });

  it('filters in SQL with numeric version comparison, owner globs and labels', async () => {
    const { store, ids } = await fleet();
    const serials = async (filters: ReturnType<typeof f>[], sort?: string) => (await store.listDevices({ filters, sort })).items.map((d) => d.serial);
    expect(await serials([f('os', '<', '14')], 'osVersion')).toEqual(['L0', 'L1']);
    expect(await serials([f('os', '>=', '14')], '-osVersion')).toEqual(['L3', 'L4', 'L2']);
    expect(await serials([f('os', '<', '14'), f('platform', '=', 'android')])).toEqual(['L0', 'L1']);
    expect(await serials([f('owner', '=', '*@example.com')], 'owner')).toEqual(['L0', 'L1', 'L3']);
    expect(await serials([f('owner', '=', 'other.org')])).toEqual(['L2']);
    expect(await serials([f('owner', '!=', 'example.com')], 'owner')).toEqual(['L4', 'L2']);
    expect(await serials([f('label.source', '=', 'corp-profile'), f('platform', '!=', 'ios')], 'name')).toEqual(['L0', 'L1', 'L2']);
    expect(await serials([f('id', '=', ids[3]!)])).toEqual(['L3']);
    expect(await serials([f('name', '=', 'ios-*')], 'name')).toEqual(['L3', 'L4']);
    expect(await serials([f('group', '=', 'corp-android')], 'name')).toEqual(['L0', 'L1', 'L2']);
    expect(await serials([f('compliance', '=', 'noncompliant')], 'name')).toEqual(['L0', 'L2', 'L4']);
    expect(await serials([f('compliance', '=', 'compliant')], 'name')).toEqual(['L1', 'L3']);
    expect(await serials([f('compliance', '!=', 'compliant'), f('group', '=', 'corp-android')], 'name')).toEqual(['L0', 'L2']);
    await expectBackendError(() => store.listDevices({ sort: 'colour' }), 'invalid', /cannot sort devices by "colour"/);
    await expectBackendError(() => store.listDevices({ filters: [f('compliance', '=', 'green')] }), 'invalid', /unknown compliance status "green"/);
  });

  it('follows OS updates reported at check-in', async () => {
    const { store, ids } = await fleet();
    const count = async (value: string) => (await store.listDevices({ filters: [f('os', '<', value), f('platform', '=', 'android')] })).items.length;
    expect(await count('13')).toBe(1);
    await store.checkIn(ids[0]!, { posture: posture({ osVersion: '15' }) });
    await store.checkIn(ids[1]!, { posture: posture({ osVersion: '12.1' }) });
    expect((await store.listDevices({ filters: [f('os', '<', '13')] })).items.map((d) => d.id)).toEqual([ids[1]]);
    expect((await store.getDevice(ids[0]!)).osVersion).toBe('15');
    expect(await count('16')).toBe(3);
  });

  it('pages with opaque cursors in any sort order, each device exactly once', async () => {
    const { store } = await fleet();
    for (const sort of ['name', '-name', 'owner', '-osVersion', 'lastCheckIn', 'platform', '-enrolledAt']) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.listDevices({ sort, limit: 2, cursor });
        seen.push(...page.items.map((d) => d.serial!));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      const all = (await store.listDevices({ sort, limit: 100 })).items.map((d) => d.serial!);
      expect(seen, sort).toEqual(all);
      expect(new Set(seen).size).toBe(5);
      expect(pages).toBe(3);
    }
    const compliancePages: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listCompliance({ limit: 1, cursor, filters: [f('compliance', '!=', 'compliant')] });
      compliancePages.push(...page.items.map((c) => c.status));
      cursor = page.nextCursor;
    } while (cursor);
    expect(compliancePages).toEqual(['noncompliant', 'noncompliant', 'noncompliant']);
    const cur = (await store.listDevices({ sort: 'name', limit: 1 })).nextCursor!;
    await expectBackendError(() => store.listDevices({ sort: 'owner', cursor: cur }), 'invalid', /cursor/);
    await expectBackendError(() => store.listDevices({ cursor: 'garbage!' }), 'invalid', /cursor/);
  });

  it('keeps cursors small whatever the sort key holds, and says so when a long key moved under a cursor', async () => {
    const { store, ids, dataDir } = await fleet();
    // A store written before the device field limits: long names and owners are already in it.
    const db = new Database(join(dataDir, DB_FILE));
    ids.forEach((id, i) => db.prepare('UPDATE devices SET name = ?, owner = ? WHERE id = ?').run(`${i}-${'n'.repeat(13_000)}`, `${'o'.repeat(5000)}${i}@example.com`, id));
    for (const sort of ['name', '-name', 'owner', '-owner']) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listDevices({ sort, limit: 2, cursor });
        seen.push(...page.items.map((d) => d.id));
        cursor = page.nextCursor;
        if (cursor) expect(cursor.length, sort).toBeLessThan(200);
      } while (cursor);
      expect(seen, sort).toEqual((await store.listDevices({ sort, limit: 100 })).items.map((d) => d.id));
    }
    const first = await store.listDevices({ sort: 'name', limit: 2 });
    db.prepare('UPDATE devices SET name = ? WHERE id = ?').run(`1-${'m'.repeat(13_000)}`, first.items[1]!.id);
    await db.close();
    await expectBackendError(() => store.listDevices({ sort: 'name', limit: 2, cursor: first.nextCursor }), 'conflict', /changed since the page was listed/);
  });

  it('lists compliance with failures, policies and the episode start', async () => {
    const { store } = await fleet();
    const rows = (await store.listCompliance({ sort: 'name' })).items;
    const l0 = rows.find((r) => r.osVersion === '9')!;
    expect(l0).toMatchObject({ platform: 'android', owner: 'ana@example.com', status: 'noncompliant', policies: ['baseline'], state: 'enrolled' });
    expect(l0.failures).toEqual([expect.objectContaining({ policy: 'baseline', rule: 'minOsVersion', actual: '9' })]);
    expect(l0.noncompliantSince).toBeDefined();
  });
});

describe('API tokens', () => {
  it('stores only a hash, authenticates, expires and revokes', async () => {
    const { store, clock } = await open();
    const { token, secret } = await store.createApiToken({ name: 'ci', role: 'operator', expiresInSeconds: 3600 }, ADMIN);
    expect(secret).toMatch(/^emm_at_/);
    expect(await store.authenticateApiToken(secret)).toMatchObject({ id: token.id, role: 'operator', lastUsedAt: '2026-01-01T00:00:00.000Z' });
    expect(await store.authenticateApiToken('emm_at_wrong')).toBeUndefined();
    clock.advance(3601_000);
    expect(await store.authenticateApiToken(secret)).toBeUndefined();
    const other = await store.createApiToken({ name: 'admin', role: 'admin' }, ADMIN);
    expect((await store.revokeApiToken(other.token.id, ADMIN)).revoked).toBe(true);
    expect(await store.authenticateApiToken(other.secret)).toBeUndefined();
    expect((await store.listApiTokens()).map((t) => t.name)).toEqual(['ci', 'admin']);
    expect((await store.listAudit({})).items.map((a) => a.action)).toEqual(['api-token.create', 'api-token.create', 'api-token.revoke']);
    await expectBackendError(() => store.createApiToken({ name: 'x', role: 'root' as never }, ADMIN), 'invalid', /unknown role "root"/);
  });
});
