// The safety checks apply runs after planning and before asking: a plan may not delete more
// resources than allowed, nor leave enrolled devices without any compliance policy. They are
// admin rules over the backend, not CLI concerns, so they live here; the CLI parses the flags.
import type { Backend, DeviceQuery } from '../backends/backend.js';
import { allPages } from '../backends/backend.js';
import { UsageError } from '../errors.js';
import type { DeviceCompliance } from '../model/fleet.js';
import type { ResourceDocument, ResourceKind } from '../model/policy.generated.js';

/** The part of a planned change (src/plan) the guards read. */
export type GuardedChange =
  | { op: 'create' | 'update'; kind: ResourceKind; name: string; document: ResourceDocument }
  | { op: 'delete'; kind: ResourceKind; name: string };

/** A page size for the compliance walk: the driver may cap it. */
const PAGE_SIZE = 1000;

/** Compliance policies the plan deletes, unless a created or updated one assigned to `all` covers every device anyway. */
export function deletedCompliancePolicies(changes: readonly GuardedChange[]): Set<string> {
  const deleted = new Set(changes.filter((c) => c.op === 'delete' && c.kind === 'CompliancePolicy').map((c) => c.name));
  if (deleted.size === 0) return deleted;
  const coversAll = changes.some((c) => c.op !== 'delete' && c.document.kind === 'CompliancePolicy' && c.document.spec.assign.includes('all'));
  return coversAll ? new Set() : deleted;
}

/** An enrolled device with compliance policies, every one of which is deleted, would go unchecked. */
export function isOrphaned(d: Pick<DeviceCompliance, 'state' | 'policies'>, deleted: ReadonlySet<string>): boolean {
  return d.state === 'enrolled' && d.policies.length > 0 && d.policies.every((p) => deleted.has(p));
}

/**
 * Enrolled devices whose every compliance policy this plan deletes: they would go unchecked.
 * Walks the compliance listing only when the plan deletes a CompliancePolicy. Conservative: a
 * new compliance policy in the same plan counts as cover only when it is assigned to `all`
 * (group membership of other groups is the backend's to evaluate).
 */
export async function orphanedDevices(backend: Pick<Backend, 'listCompliance'>, changes: readonly GuardedChange[]): Promise<{ count: number; examples: string[] }> {
  const deleted = deletedCompliancePolicies(changes);
  if (deleted.size === 0) return { count: 0, examples: [] };
  let count = 0;
  const examples: string[] = [];
  // Only enrolled devices can be orphaned: the backend leaves the others out before evaluating them.
  const query: DeviceQuery = { limit: PAGE_SIZE, filters: [{ field: 'state', op: '=', value: 'enrolled' }] };
  for await (const d of allPages<DeviceCompliance, DeviceQuery>((q) => backend.listCompliance(q), query)) {
    if (!isOrphaned(d, deleted)) continue;
    count++;
    if (examples.length < 3) examples.push(d.name);
  }
  return { count, examples };
}

/** --max-deletes: throws (exit 2, nothing applied) when the plan deletes more. */
export function checkMaxDeletes(changes: readonly GuardedChange[], maxDeletes: number): void {
  const deletes = changes.filter((c) => c.op === 'delete').length;
  if (deletes > maxDeletes) {
    throw new UsageError(
      `the plan deletes ${deletes} resources, more than --max-deletes ${maxDeletes}; nothing was applied`,
      `check the deletions with \`emmctl plan --prune\`, then pass --max-deletes ${deletes} to allow them`,
    );
  }
}

/** Both guards, cheapest first; the orphan walk reads the backend only when a compliance policy goes. */
export async function checkApplyGuards(
  backend: Pick<Backend, 'listCompliance'>,
  changes: readonly GuardedChange[],
  opts: { maxDeletes: number; allowOrphanedDevices?: boolean },
): Promise<void> {
  checkMaxDeletes(changes, opts.maxDeletes);
  const orphans = await orphanedDevices(backend, changes);
  if (orphans.count > 0 && !opts.allowOrphanedDevices) {
    throw new UsageError(
      `the plan would leave ${orphans.count} enrolled device${orphans.count === 1 ? '' : 's'} (${orphans.examples.join(', ')}${orphans.count > orphans.examples.length ? ', …' : ''}) without any compliance policy; nothing was applied`,
      'keep or replace the compliance policy, or pass --allow-orphaned-devices to apply anyway',
    );
  }
}
