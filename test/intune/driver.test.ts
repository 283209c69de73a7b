// The intune driver in-process against the fake Graph: the example policy repo applies, reads
// back as "no changes", and every body Graph received passes Graph's own metadata.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import { computePlan, planToChanges } from '../../src/plan/index.js';
import { loadPolicySet } from '../../src/policy/index.js';
import { ROOT } from '../helpers/cli.js';
import { intuneFixture, type IntuneFixture } from './helpers.js';

async function examples(): Promise<ResourceDocument[]> {
  const r = await loadPolicySet([join(ROOT, 'policies')], { cwd: ROOT });
  if (!r.ok) throw new Error('example policies do not validate');
  // Intune takes corporate Android enrollment profiles only (see docs/intune.md).
  return r.documents.map((d) => d.document).filter((d) => d.kind !== 'EnrollmentProfile' || (d.spec.ownership === 'corporate' && d.spec.platforms.join() === 'android'));
}

describe('intune driver against the fake Graph', () => {
  let fx: IntuneFixture;
  beforeAll(async () => {
    fx = await intuneFixture({ devices: 12 });
  });
  afterAll(async () => {
    await fx.cleanup();
  });

  it('applies the example repo and reads it back with no changes', async () => {
    const docs = await examples();
    const plan = computePlan(docs, await fx.backend.listResources());
    expect(plan.summary.create).toBe(docs.length);
    const applied = await fx.backend.applyChanges(planToChanges(plan));
    expect(applied).toHaveLength(docs.length);
    const again = computePlan(docs, await fx.backend.listResources());
    expect(again.changes.map((c) => `${c.op} ${c.kind}/${c.name} ${JSON.stringify(c.fields)}`)).toEqual([]);
    expect(fx.fake.schemaProblems).toEqual([]);
  });
});

describe('intune driver: static groups', () => {
  let fx: IntuneFixture;
  beforeAll(async () => {
    fx = await intuneFixture({ devices: [{ platform: 'android', serialNumber: 'STATIC-1' }, { platform: 'ios', serialNumber: 'STATIC-2' }, { platform: 'windows', serialNumber: 'STATIC-3' }] });
  });
  afterAll(async () => {
    await fx.cleanup();
  });
  const group = (devices: string[]): ResourceDocument => ({ apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'pilot' }, spec: { devices: devices as [string, ...string[]] } });
  const members = () => {
    const g = [...fx.fake.state.groups.values()].find((x) => x.record.displayName === 'emmctl:pilot')!;
    return [...g.members].map((id) => fx.fake.state.devices.get(fx.fake.state.entraIndex.get(id)!)!.managed.serialNumber).sort();
  };

  it('makes the listed devices (by serial or managed device id) the members of an assigned group, and keeps them so', async () => {
    const third = [...fx.fake.state.devices.values()].find((d) => d.managed.serialNumber === 'STATIC-3')!.managed.id as string;
    await fx.backend.applyChanges(planToChanges(computePlan([group(['STATIC-1', third])], await fx.backend.listResources())));
    expect(members()).toEqual(['STATIC-1', 'STATIC-3']);
    await fx.backend.applyChanges(planToChanges(computePlan([group(['STATIC-1', 'STATIC-2'])], await fx.backend.listResources())));
    expect(members()).toEqual(['STATIC-1', 'STATIC-2']);
    expect(computePlan([group(['STATIC-1', 'STATIC-2'])], await fx.backend.listResources()).changes).toEqual([]);
    expect(fx.fake.schemaProblems).toEqual([]);
  });

  it('refuses a device it cannot find before writing anything', async () => {
    const before = fx.fake.requests.filter((r) => r.method !== 'GET').length;
    const plan = computePlan([group(['STATIC-1', 'NO-SUCH-SERIAL'])], await fx.backend.listResources());
    await expect(fx.backend.applyChanges(planToChanges(plan))).rejects.toThrow(/Group\/pilot: no Intune device with id or serial "NO-SUCH-SERIAL".*nothing was applied/);
    expect(fx.fake.requests.filter((r) => r.method !== 'GET').length).toBe(before);
  });
});
