// src/fleet/apply-guards.ts: which compliance policies a plan really removes, which devices that
// orphans, and the two guards' refusals (exit 2, nothing applied).
import { describe, expect, it } from 'vitest';
import type { DeviceQuery } from '../../src/backends/backend.js';
import { ExitCode, UsageError } from '../../src/errors.js';
import {
  checkApplyGuards,
  checkMaxDeletes,
  deletedCompliancePolicies,
  type GuardedChange,
  isOrphaned,
  orphanedDevices,
} from '../../src/fleet/apply-guards.js';
import type { DeviceCompliance, DeviceState } from '../../src/model/fleet.js';
import type { ResourceDocument } from '../../src/model/policy.generated.js';

const del = (kind: GuardedChange['kind'], name: string): GuardedChange => ({ op: 'delete', kind, name });
const compliance = (name: string, assign: string[], op: 'create' | 'update' = 'create'): GuardedChange => ({
  op,
  kind: 'CompliancePolicy',
  name,
  document: { apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name }, spec: { assign, rules: {} } } as unknown as ResourceDocument,
});

function dev(name: string, policies: string[], state: DeviceState = 'enrolled'): DeviceCompliance {
  return { deviceId: `id-${name}`, name, platform: 'ios', state, status: 'compliant', failures: [], policies };
}

/** A listCompliance over fixed records, two per page, recording each query. */
function pagedCompliance(records: DeviceCompliance[]) {
  const queries: DeviceQuery[] = [];
  return {
    queries,
    backend: {
      listCompliance: async (q: DeviceQuery) => {
        queries.push(q);
        const start = Number(q.cursor ?? 0);
        return { items: records.slice(start, start + 2), nextCursor: start + 2 < records.length ? String(start + 2) : undefined };
      },
    },
  };
}

describe('deletedCompliancePolicies', () => {
  it('lists only deleted compliance policies', () => {
    expect([...deletedCompliancePolicies([del('CompliancePolicy', 'a'), del('Policy', 'p'), del('Group', 'g'), compliance('b', ['sales'])])]).toEqual(['a']);
  });

  it('counts none deleted when a created or updated compliance policy covers all devices', () => {
    expect(deletedCompliancePolicies([del('CompliancePolicy', 'a'), compliance('b', ['all'])]).size).toBe(0);
    expect(deletedCompliancePolicies([del('CompliancePolicy', 'a'), compliance('b', ['sales', 'all'], 'update')]).size).toBe(0);
    expect(deletedCompliancePolicies([del('CompliancePolicy', 'a'), compliance('b', ['sales'])]).size).toBe(1);
  });
});

describe('isOrphaned', () => {
  const deleted = new Set(['a', 'b']);
  it('is true only for an enrolled device all of whose policies are deleted', () => {
    expect(isOrphaned(dev('x', ['a']), deleted)).toBe(true);
    expect(isOrphaned(dev('x', ['a', 'b']), deleted)).toBe(true);
    expect(isOrphaned(dev('x', ['a', 'c']), deleted)).toBe(false);
    expect(isOrphaned(dev('x', []), deleted)).toBe(false);
    expect(isOrphaned(dev('x', ['a'], 'wiped'), deleted)).toBe(false);
    expect(isOrphaned(dev('x', ['a'], 'preregistered'), deleted)).toBe(false);
  });
});

describe('orphanedDevices', () => {
  it('walks every page, counts all orphans and names the first three', async () => {
    const records = [dev('d1', ['a']), dev('d2', ['a', 'keep']), dev('d3', ['a']), dev('d4', ['a']), dev('d5', ['a'], 'retired'), dev('d6', ['a'])];
    const { backend, queries } = pagedCompliance(records);
    expect(await orphanedDevices(backend, [del('CompliancePolicy', 'a')])).toEqual({ count: 4, examples: ['d1', 'd3', 'd4'] });
    expect(queries).toHaveLength(3);
  });

  it('never reads the backend when no compliance policy is deleted', async () => {
    const { backend, queries } = pagedCompliance([dev('d1', ['a'])]);
    expect(await orphanedDevices(backend, [del('Policy', 'a'), compliance('c', ['all'])])).toEqual({ count: 0, examples: [] });
    expect(queries).toEqual([]);
  });
});

describe('the guards', () => {
  it('--max-deletes allows up to the limit and refuses one more, with exit 2', () => {
    const three = [del('Policy', 'p1'), del('Policy', 'p2'), del('Group', 'g'), compliance('c', ['x'])];
    expect(() => checkMaxDeletes(three, 3)).not.toThrow();
    const error = (() => {
      try {
        checkMaxDeletes(three, 2);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(ExitCode.USAGE);
    expect((error as Error).message).toBe('the plan deletes 3 resources, more than --max-deletes 2; nothing was applied');
  });

  it('refuses orphaning devices unless allowed, with a count and examples', async () => {
    const records = [dev('d1', ['a']), dev('d2', ['a']), dev('d3', ['a']), dev('d4', ['a'])];
    const changes = [del('CompliancePolicy', 'a')];
    await expect(checkApplyGuards(pagedCompliance(records).backend, changes, { maxDeletes: 10 })).rejects.toThrow(
      'the plan would leave 4 enrolled devices (d1, d2, d3, …) without any compliance policy; nothing was applied',
    );
    await expect(checkApplyGuards(pagedCompliance(records.slice(0, 1)).backend, changes, { maxDeletes: 10 })).rejects.toThrow(
      'the plan would leave 1 enrolled device (d1) without any compliance policy; nothing was applied',
    );
    await expect(checkApplyGuards(pagedCompliance(records).backend, changes, { maxDeletes: 10, allowOrphanedDevices: true })).resolves.toBeUndefined();
  });

  it('checks --max-deletes before reading the backend', async () => {
    const { backend, queries } = pagedCompliance([dev('d1', ['a'])]);
    await expect(checkApplyGuards(backend, [del('CompliancePolicy', 'a')], { maxDeletes: 0 })).rejects.toThrow(/more than --max-deletes 0/);
    expect(queries).toEqual([]);
  });
});
