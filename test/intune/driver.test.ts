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
