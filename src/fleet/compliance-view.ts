// The fleet's compliance as an admin sees it, apart from the CLI that prints it: which devices the
// view covers, and the per-status and per-policy counts (and the gate decision) accumulated while
// records stream past, so 100,000 devices never sit in memory. Rendering stays in the CLI.
import type { DeviceFilter } from '../backends/backend.js';
import type { ComplianceStatus, DeviceCompliance } from '../model/fleet.js';

export interface ComplianceSummary {
  total: number;
  byStatus: Record<ComplianceStatus, number>;
  /** Per compliance policy: devices it applies to, by status. */
  byPolicy: Map<string, Record<ComplianceStatus, number>>;
}

function zeroCounts(): Record<ComplianceStatus, number> {
  return { compliant: 0, noncompliant: 0, 'in-grace': 0, unknown: 0 };
}

export function emptySummary(): ComplianceSummary {
  return { total: 0, byStatus: zeroCounts(), byPolicy: new Map() };
}

export function addToSummary(s: ComplianceSummary, r: DeviceCompliance): void {
  s.total++;
  s.byStatus[r.status] = (s.byStatus[r.status] ?? 0) + 1;
  // A device failing policy A but passing B is compliant with B: per-policy status comes from its own failures.
  const failing = new Set(r.failures.map((f) => f.policy));
  for (const policy of r.policies) {
    let counts = s.byPolicy.get(policy);
    if (!counts) s.byPolicy.set(policy, (counts = zeroCounts()));
    const status: ComplianceStatus = r.status === 'unknown' ? 'unknown' : failing.has(policy) ? (r.status === 'in-grace' ? 'in-grace' : 'noncompliant') : 'compliant';
    counts[status]++;
  }
}

/** The --fail-on statuses that some device is in, in the order given: the gate fails when any. */
export function gateFailures(s: ComplianceSummary, failOn: readonly ComplianceStatus[]): ComplianceStatus[] {
  return failOn.filter((st) => s.byStatus[st] > 0);
}

/**
 * The compliance view covers devices under management: wiped and retired devices keep their last
 * posture but are no longer managed, and must not fail a CI gate forever. A state filter of the
 * user's own replaces this default.
 */
export function withManagedDefault(filters: DeviceFilter[]): DeviceFilter[] {
  if (filters.some((f) => f.field === 'state')) return filters;
  return [...filters, { field: 'state', op: '!=', value: 'wiped' }, { field: 'state', op: '!=', value: 'retired' }];
}
