// Escalation steps on a real store: a fired step is remembered as what it is (policy, after, do)
// within the episode, so editing the list of steps never skips or repeats one; and the store's
// compliance records show what fired, what is due and what comes next, also as a what-if.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { DB_FILE } from '../../src/store/sqlite/files.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { tempDir } from '../helpers/cli.js';
import { ADMIN, DAY, createAll, docs, enrollDevice, posture, testClock } from './fixtures.js';

const cleanups: Array<() => void> = [];
afterEach(async () => {
  while (cleanups.length) cleanups.pop()!();
});

type Step = { after: string; do: 'markNoncompliant' | 'notify' | 'lock' | 'retire' };
const FOUR: Step[] = [{ after: '0d', do: 'markNoncompliant' }, { after: '1d', do: 'notify' }, { after: '3d', do: 'lock' }, { after: '30d', do: 'retire' }];

function withActions(actions: Step[]): ResourceDocument[] {
  return docs().map((d) => (d.kind === 'CompliancePolicy' ? ({ ...d, spec: { ...d.spec, actions } } as ResourceDocument) : d));
}

async function seeded(actions: Step[] = FOUR) {
  const clock = testClock();
  const dir = tempDir('emmctl-steps-');
  const dataDir = join(dir.path, 'data');
  const store = await FleetService.open(dataDir, { now: clock.now });
  cleanups.push(() => dir.cleanup());
  cleanups.push(() => store.close());
  await store.applyChanges(createAll(withActions(actions)), ADMIN);
  return { store, clock, dataDir };
}

async function setActions(store: FleetService, actions: Step[]): Promise<void> {
  const current = (await store.listResources('CompliancePolicy')).find((r) => r.name === 'baseline')!;
  const document = withActions(actions).find((d) => d.kind === 'CompliancePolicy')!;
  await store.applyChanges([{ op: 'update', kind: 'CompliancePolicy', name: 'baseline', document, expectedVersion: current.version }], ADMIN);
}

/** `type` of each command queued for the device, oldest first. */
const commandTypes = async (store: FleetService, deviceId: string) => (await store.listCommands({ deviceId })).items.map((c) => c.type);
const stepsAudited = async (store: FleetService) => (await store.listAudit({ actor: 'compliance:baseline' })).items.map((a) => `${a.action}@${(a.detail as { step: { after: string } }).step.after}`);

describe('escalation steps are identified by what they are', () => {
  it('removing a fired 1d notify step still retires a device 31 days non-compliant, exactly once', async () => {
    const { store, clock } = await seeded();
    const d = await enrollDevice(store, { posture: { encrypted: false } });
    for (const t of [DAY, 3 * DAY]) {
      clock.set(new Date(Date.parse('2026-01-01T00:00:00.000Z') + t).toISOString());
      await store.reconcile();
    }
    expect(await commandTypes(store, d.deviceId)).toEqual(['lock']);
    await setActions(store, FOUR.filter((s) => s.do !== 'notify'));
    clock.set('2026-02-01T00:00:00.000Z');
    await store.reconcile();
    await store.reconcile();
    await store.checkIn(d.deviceId, { posture: posture({ encrypted: false }) });
    expect(await commandTypes(store, d.deviceId)).toEqual(['lock', 'retire']);
    expect(await stepsAudited(store)).toEqual(['compliance.markNoncompliant@0d', 'compliance.notify@1d', 'command.lock@3d', 'command.retire@30d']);
  });

  it('reordering and inserting steps repeats none and skips none', async () => {
    const { store, clock } = await seeded();
    const d = await enrollDevice(store, { posture: { encrypted: false } });
    clock.advance(3 * DAY);
    await store.reconcile();
    expect(await stepsAudited(store)).toEqual(['compliance.markNoncompliant@0d', 'compliance.notify@1d', 'command.lock@3d']);
    // Reversed, with a new 2d notify inserted among the fired ones: only the new step is due.
    await setActions(store, [FOUR[3]!, FOUR[2]!, { after: '2d', do: 'notify' }, FOUR[1]!, FOUR[0]!]);
    clock.advance(DAY);
    await store.reconcile();
    await store.checkIn(d.deviceId, { posture: posture({ encrypted: false }) });
    expect(await stepsAudited(store)).toEqual(['compliance.markNoncompliant@0d', 'compliance.notify@1d', 'command.lock@3d', 'compliance.notify@2d']);
    clock.set('2026-01-31T00:00:00.000Z');
    await store.reconcile();
    await store.reconcile();
    expect(await commandTypes(store, d.deviceId)).toEqual(['lock', 'retire']);
    expect((await stepsAudited(store)).filter((s) => s === 'command.retire@30d')).toHaveLength(1);
  });

  it('changing a step\'s offset makes it another step, which fires when its own time comes', async () => {
    const { store, clock } = await seeded([{ after: '0d', do: 'markNoncompliant' }, { after: '3d', do: 'lock' }]);
    const d = await enrollDevice(store, { posture: { encrypted: false } });
    clock.advance(3 * DAY);
    await store.reconcile();
    const lock = (await store.listCommands({ deviceId: d.deviceId })).items[0]!;
    await store.cancelCommand(lock.id, ADMIN);
    await setActions(store, [{ after: '0d', do: 'markNoncompliant' }, { after: '5d', do: 'lock' }]);
    clock.advance(DAY);
    await store.reconcile();
    expect(await commandTypes(store, d.deviceId)).toEqual(['lock']);
    clock.advance(DAY);
    await store.reconcile();
    expect(await commandTypes(store, d.deviceId)).toEqual(['lock', 'lock']);
  });
});

describe('migrating stored steps from list positions', () => {
  it('maps each old (policy, index) row to its step, using the audit record when the list changed since', async () => {
    const { store, clock, dataDir } = await seeded(FOUR);
    const d = await enrollDevice(store, { posture: { encrypted: false } });
    const since = '2026-01-01T00:00:00.000Z';
    const version = await store.schemaVersion();
    // The bug's situation: 0d mark, 1d notify and 3d lock fired as indexes 0, 1, 2; then the
    // notify step was removed, so index 1 now names the lock and index 2 the retire.
    await setActions(store, FOUR.filter((s) => s.do !== 'notify'));
    await store.close();
    const db = new Database(join(dataDir, DB_FILE));
    const steps = MIGRATIONS.find((m) => m.name.startsWith('escalation steps keyed'))!.version;
    db.exec(`DELETE FROM migrations WHERE version >= ${steps}; DROP TABLE escalations; DROP TABLE notify_outbox; DELETE FROM audit WHERE actor = 'compliance:baseline';
      CREATE TABLE escalations (device_id TEXT NOT NULL, policy TEXT NOT NULL, step INTEGER NOT NULL, episode_start TEXT NOT NULL, fired_at TEXT NOT NULL, PRIMARY KEY (device_id, policy, step, episode_start));`);
    const fired = [['markNoncompliant', 0, '2026-01-01T00:00:00.000Z'], ['notify', 1, '2026-01-02T00:00:00.000Z'], ['lock', 2, '2026-01-04T00:00:00.000Z']] as const;
    for (const [action, step, at] of fired) {
      db.prepare('INSERT INTO escalations VALUES (?, ?, ?, ?, ?)').run(d.deviceId, 'baseline', step, since, at);
      db.prepare('INSERT INTO audit (at, actor, source, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)').run(
        at, 'compliance:baseline', 'local', `${action === 'lock' ? 'command' : 'compliance'}.${action}`, `device/${d.deviceId}`, JSON.stringify({ step }));
    }
    await db.close();

    const again = await FleetService.open(dataDir, { now: clock.now });
    cleanups.push(() => again.close());
    expect(await again.schemaVersion()).toBe(version);
    clock.set('2026-02-01T00:00:00.000Z');
    await again.reconcile();
    // The lock (old index 2) stays fired, so it is not queued again, and the retire (now at
    // index 2) is not taken for fired, so it is queued.
    expect((await again.listCommands({ deviceId: d.deviceId })).items.map((c) => c.type)).toEqual(['retire']);
    expect((await again.getDevice(d.deviceId)).compliance.stepsFired!.map((s) => `${s.do}@${s.after}`)).toEqual(['markNoncompliant@0d', 'lock@3d', 'retire@30d']);
  });
});
