import { describe, expect, it } from 'vitest';
import type { StoredResource } from '../../src/model/fleet.js';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import {
  computePlan,
  digestDocuments,
  maskPlan,
  parseSavedPlan,
  planToChanges,
  staleResources,
  summaryLine,
  toSavedPlan,
} from '../../src/plan/index.js';
import { renderPlan } from '../../src/plan/render.js';
import { colors } from '../../src/output/color.js';

const group = (name: string, platforms: string[] = ['android']): ResourceDocument =>
  ({ apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name }, spec: { match: { platforms } } }) as ResourceDocument;
const policy = (name: string, minLength = 6, extra: Record<string, unknown> = {}): ResourceDocument =>
  ({
    apiVersion: 'emmctl/v1',
    kind: 'Policy',
    metadata: { name },
    spec: { assign: ['g1'], settings: { passcode: { required: true, minLength } }, ...extra },
  }) as ResourceDocument;
const compliance = (name: string): ResourceDocument =>
  ({ apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name }, spec: { assign: ['g1'], rules: { encryption: 'required' } } }) as ResourceDocument;
const profile = (name: string): ResourceDocument =>
  ({ apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name }, spec: { platforms: ['android'], ownership: 'corporate', group: 'g1' } }) as ResourceDocument;
const stored = (document: ResourceDocument, version = 1): StoredResource => ({
  kind: document.kind,
  name: document.metadata.name,
  document,
  version,
  updatedAt: '2026-01-01T00:00:00Z',
});
const ids = (plan: { changes: Array<{ op: string; kind: string; name: string }> }) => plan.changes.map((c) => `${c.op} ${c.kind}/${c.name}`);

describe('computePlan', () => {
  it('orders creates so references resolve: groups, profiles, policies, compliance', () => {
    const plan = computePlan([compliance('c1'), policy('p1'), profile('e1'), group('g2'), group('g1')], []);
    expect(ids(plan)).toEqual([
      'create Group/g1',
      'create Group/g2',
      'create EnrollmentProfile/e1',
      'create Policy/p1',
      'create CompliancePolicy/c1',
    ]);
    expect(summaryLine(plan.summary)).toBe('5 to create, 0 to update, 0 to delete');
  });

  it('is a no-op when only key order and schema defaults differ', () => {
    const desired = policy('p1', 6);
    const current = {
      kind: 'Policy',
      spec: { settings: { passcode: { minLength: 6, required: true } }, priority: 100, assign: ['g1'] },
      metadata: { name: 'p1', labels: {} },
      apiVersion: 'emmctl/v1',
    } as unknown as ResourceDocument;
    const plan = computePlan([desired], [stored(current, 4)]);
    expect(plan.changes).toEqual([]);
    expect(plan.summary.unchanged).toBe(1);
  });

  it('reports a field-level diff with the version planned against', () => {
    const plan = computePlan([policy('p1', 8, { priority: 200 })], [stored(policy('p1', 6), 3)]);
    expect(plan.changes).toHaveLength(1);
    const change = plan.changes[0]!;
    expect(change.op).toBe('update');
    expect(change.fields).toEqual([
      { path: 'spec.priority', before: 100, after: 200 },
      { path: 'spec.settings.passcode.minLength', before: 6, after: 8 },
    ]);
    expect(planToChanges(plan)).toEqual([{ op: 'update', kind: 'Policy', name: 'p1', document: policy('p1', 8, { priority: 200 }), expectedVersion: 3 }]);
  });

  it('reports added and removed fields', () => {
    const before = group('g1');
    const after = { ...group('g1'), metadata: { name: 'g1', description: 'new' } } as ResourceDocument;
    const plan = computePlan([after], [stored(before)]);
    expect(plan.changes[0]!.fields).toEqual([{ path: 'metadata.description', after: 'new' }]);
    const back = computePlan([before], [stored(after)]);
    expect(back.changes[0]!.fields).toEqual([{ path: 'metadata.description', before: 'new' }]);
  });

  it('deletes only with prune, in reverse kind order, after creates and updates', () => {
    const current = [stored(group('old-g'), 2), stored(policy('old-p'), 5), stored(compliance('old-c'), 1), stored(group('g1'))];
    const without = computePlan([group('g1'), policy('p1')], current);
    expect(ids(without)).toEqual(['create Policy/p1']);
    expect(without.summary.unmanaged).toBe(3);
    const withPrune = computePlan([group('g1'), policy('p1')], current, { prune: true });
    expect(ids(withPrune)).toEqual([
      'create Policy/p1',
      'delete CompliancePolicy/old-c',
      'delete Policy/old-p',
      'delete Group/old-g',
    ]);
    expect(planToChanges(withPrune).slice(1)).toEqual([
      { op: 'delete', kind: 'CompliancePolicy', name: 'old-c', expectedVersion: 1 },
      { op: 'delete', kind: 'Policy', name: 'old-p', expectedVersion: 5 },
      { op: 'delete', kind: 'Group', name: 'old-g', expectedVersion: 2 },
    ]);
    expect(summaryLine(withPrune.summary)).toBe('1 to create, 0 to update, 3 to delete');
  });

  it('refuses duplicate desired resources', () => {
    expect(() => computePlan([group('g1'), group('g1')], [])).toThrow(/duplicate resource Group\/g1/);
  });

  it('diffs arrays element-wise when the length is unchanged, whole otherwise', () => {
    const wifi = (pw: string, n = 1) =>
      policy('p1', 6, { settings: { wifi: Array.from({ length: n }, (_, i) => ({ ssid: `net${i}`, security: 'wpa2-personal', password: pw })) } });
    const same = computePlan([wifi('new')], [stored(wifi('old'))]);
    expect(same.changes[0]!.fields).toEqual([{ path: 'spec.settings.wifi[0].password', before: 'old', after: 'new' }]);
    const longer = computePlan([wifi('pw', 2)], [stored(wifi('pw', 1))]);
    expect(longer.changes[0]!.fields.map((f) => f.path)).toEqual(['spec.settings.wifi']);
  });
});

describe('masking and rendering', () => {
  const wifi = (pw: string) => policy('p1', 6, { settings: { wifi: [{ ssid: 'corp', security: 'wpa2-personal', password: pw }] } });

  it('never renders secret values', () => {
    const plan = computePlan([wifi('hunter2-new')], [stored(wifi('hunter2-old'))]);
    const text = renderPlan(plan, colors(false), { verbose: true });
    expect(text).toContain('~ update Policy/p1');
    expect(text).toContain('  ~ spec.settings.wifi[0].password: "(sensitive)" → "(sensitive)"');
    expect(text).not.toContain('hunter2');
    const created = renderPlan(computePlan([wifi('hunter2-new')], []), colors(false), { verbose: true });
    expect(created).not.toContain('hunter2');
    expect(JSON.stringify(maskPlan(plan))).not.toContain('hunter2');
    const grown = computePlan([policy('p1', 6, { settings: { wifi: [{ ssid: 'a', security: 'open' }, { ssid: 'b', security: 'wpa2-personal', password: 'hunter2' }] } })], [stored(wifi('x'))]);
    expect(renderPlan(grown, colors(false))).not.toContain('hunter2');
    expect(JSON.stringify(maskPlan(grown))).not.toContain('hunter2');
  });

  it('renders the update diff and summary like terraform', () => {
    const plan = computePlan([group('g1'), policy('p1', 8)], [stored(policy('p1', 6), 2)]);
    expect(renderPlan(plan, colors(false))).toBe(
      '+ create Group/g1\n~ update Policy/p1\n  ~ spec.settings.passcode.minLength: 6 → 8\n\nPlan: 1 to create, 1 to update, 0 to delete.\n',
    );
    expect(renderPlan(computePlan([], []), colors(false))).toMatch(/^No changes\./);
  });
});

describe('saved plans', () => {
  it('round-trips and detects stale resources', () => {
    const plan = computePlan([policy('p1', 8), group('g1')], [stored(policy('p1', 6), 2), stored(group('gone'), 7)], { prune: true });
    const saved = toSavedPlan(plan, {
      backend: { kind: 'embedded', location: '/tmp/x', storeId: 'st_test' },
      prune: true,
      desiredDigest: digestDocuments([policy('p1', 8), group('g1')]),
      createdAt: new Date('2026-01-02T03:04:05Z'),
    });
    const parsed = parseSavedPlan(JSON.stringify({ ...saved, seal: 'hmac-sha256:x' }));
    expect(parsed.createdAt).toBe('2026-01-02T03:04:05.000Z');
    expect(planToChanges(parsed)).toEqual(planToChanges(plan));
    expect(staleResources(parsed.changes, [stored(policy('p1', 6), 2), stored(group('gone'), 7)])).toEqual([]);
    expect(staleResources(parsed.changes, [stored(policy('p1', 7), 3), stored(group('g1'), 1)])).toEqual([
      'Group/g1 was created since (version 1, plan expected none)',
      'Policy/p1 changed (version 3, plan expected 2)',
      'Group/gone was deleted since (plan expected version 7)',
    ]);
  });

  it('digest ignores document order and key order', () => {
    expect(digestDocuments([group('a'), policy('b')])).toBe(digestDocuments([policy('b'), group('a')]));
    expect(digestDocuments([group('a')])).not.toBe(digestDocuments([group('a', ['ios'])]));
  });

  it('rejects files that are not plans', () => {
    expect(() => parseSavedPlan('nope')).toThrow(/not JSON/);
    expect(() => parseSavedPlan('{"format":"other"}')).toThrow(/expected "format"/);
    expect(() =>
      parseSavedPlan(JSON.stringify({ format: 'emmctl.plan/v2', digest: 'sha256:x', seal: 'hmac-sha256:x', secrets: [], backend: { kind: 'embedded', location: 'x', storeId: 'st_x' }, changes: [{ op: 'update', kind: 'Policy', name: 'p', document: policy('p') }] })),
    ).toThrow(/changes\[0\]: missing expectedVersion/);
  });
});
