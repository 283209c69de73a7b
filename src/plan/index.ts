// Desired state (policy files) vs current state (a backend) → an ordered list of changes.
// Pure: no I/O, no clock unless given; the commands do the loading, printing and applying.
import { createHash } from 'node:crypto';
import type { ResourceChange } from '../backends/backend.js';
import type { StoredResource } from '../model/fleet.js';
import type { ResourceDocument, ResourceKind } from '../model/policy.generated.js';
import { diffValues, normalizeDocument, stableStringify, type FieldChange } from './diff.js';
import { maskValue } from './sensitive.js';

export { deepEqual, diffValues, normalizeDocument, stableStringify, type FieldChange } from './diff.js';
export { isSensitivePath, maskValue, sensitiveLeaves, SENSITIVE_MASK } from './sensitive.js';

/**
 * Apply order: what is referenced comes before what references it. Enrollment profiles name a
 * group; policies and compliance policies assign groups. Deletions run in reverse.
 */
export const KIND_ORDER: readonly ResourceKind[] = ['Group', 'EnrollmentProfile', 'Policy', 'CompliancePolicy'];

export type PlannedChange =
  | { op: 'create'; kind: ResourceKind; name: string; document: ResourceDocument; fields: FieldChange[] }
  | { op: 'update'; kind: ResourceKind; name: string; document: ResourceDocument; expectedVersion: number; fields: FieldChange[] }
  | { op: 'delete'; kind: ResourceKind; name: string; expectedVersion: number; fields: FieldChange[] };

export interface PlanSummary {
  create: number;
  update: number;
  delete: number;
  /** Declared resources already as desired. */
  unchanged: number;
  /** Resources in the backend that no file declares and that stay (no --prune). */
  unmanaged: number;
}

export interface Plan {
  changes: PlannedChange[];
  summary: PlanSummary;
  /** Names of resources that would be pruned with --prune; listed so `plan` can say so. */
  unmanaged: Array<{ kind: ResourceKind; name: string }>;
}

export interface PlanOptions {
  prune?: boolean;
}

const key = (kind: string, name: string) => `${kind}/${name}`;
const kindRank = (kind: ResourceKind) => {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
};
const byKindThenName = (a: { kind: ResourceKind; name: string }, b: { kind: ResourceKind; name: string }) =>
  kindRank(a.kind) - kindRank(b.kind) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function computePlan(desired: ResourceDocument[], current: StoredResource[], opts: PlanOptions = {}): Plan {
  const currentByKey = new Map(current.map((r) => [key(r.kind, r.name), r]));
  const desiredKeys = new Set<string>();
  const upserts: PlannedChange[] = [];
  let unchanged = 0;
  for (const document of desired) {
    const kind = document.kind;
    const name = document.metadata.name;
    const k = key(kind, name);
    if (desiredKeys.has(k)) throw new Error(`duplicate resource ${k} in the desired state`);
    desiredKeys.add(k);
    const existing = currentByKey.get(k);
    const after = normalizeDocument(document);
    if (!existing) {
      upserts.push({ op: 'create', kind, name, document, fields: diffValues({}, after) });
      continue;
    }
    const fields = diffValues(normalizeDocument(existing.document), after);
    if (fields.length === 0) unchanged++;
    else upserts.push({ op: 'update', kind, name, document, expectedVersion: existing.version, fields });
  }
  const orphans = current.filter((r) => !desiredKeys.has(key(r.kind, r.name))).sort(byKindThenName);
  const deletions: PlannedChange[] = opts.prune
    ? orphans.reverse().map((r) => ({
        op: 'delete' as const,
        kind: r.kind,
        name: r.name,
        expectedVersion: r.version,
        fields: diffValues(normalizeDocument(r.document), {}),
      }))
    : [];
  upserts.sort(byKindThenName);
  const changes = [...upserts, ...deletions];
  return {
    changes,
    summary: {
      create: changes.filter((c) => c.op === 'create').length,
      update: changes.filter((c) => c.op === 'update').length,
      delete: deletions.length,
      unchanged,
      unmanaged: opts.prune ? 0 : orphans.length,
    },
    unmanaged: opts.prune ? [] : orphans.map((r) => ({ kind: r.kind, name: r.name })),
  };
}

/** What the backend applies, in plan order, each update/delete guarded by the version planned against. */
export function planToChanges(plan: Pick<Plan, 'changes'>): ResourceChange[] {
  return plan.changes.map((c): ResourceChange => {
    switch (c.op) {
      case 'create':
        return { op: 'create', kind: c.kind, name: c.name, document: c.document };
      case 'update':
        return { op: 'update', kind: c.kind, name: c.name, document: c.document, expectedVersion: c.expectedVersion };
      case 'delete':
        return { op: 'delete', kind: c.kind, name: c.name, expectedVersion: c.expectedVersion };
    }
  });
}

export function hasChanges(plan: Pick<Plan, 'changes'>): boolean {
  return plan.changes.length > 0;
}

export function summaryLine(s: Pick<PlanSummary, 'create' | 'update' | 'delete'>): string {
  return `${s.create} to create, ${s.update} to update, ${s.delete} to delete`;
}

/** sha256 over the desired documents in a stable order and key order. */
export function digestDocuments(documents: ResourceDocument[]): string {
  const sorted = [...documents].sort((a, b) =>
    byKindThenName({ kind: a.kind, name: a.metadata.name }, { kind: b.kind, name: b.metadata.name }));
  return `sha256:${createHash('sha256').update(stableStringify(sorted)).digest('hex')}`;
}

// ---- saved plans ---------------------------------------------------------------------------

export const PLAN_FORMAT = 'emmctl.plan/v1';

export interface SavedPlan {
  format: typeof PLAN_FORMAT;
  createdAt: string;
  /** The backend planned against; a plan applies only there. */
  backend: { kind: string; location: string };
  prune: boolean;
  /** Digest of the desired documents (secret references unresolved). */
  desiredDigest: string;
  summary: PlanSummary;
  changes: PlannedChange[];
}

export function toSavedPlan(
  plan: Plan,
  meta: { backend: { kind: string; location: string }; prune: boolean; desiredDigest: string; createdAt: Date },
): SavedPlan {
  return {
    format: PLAN_FORMAT,
    createdAt: meta.createdAt.toISOString(),
    backend: { kind: meta.backend.kind, location: meta.backend.location },
    prune: meta.prune,
    desiredDigest: meta.desiredDigest,
    summary: plan.summary,
    changes: plan.changes,
  };
}

/** The same plan with every secret value replaced by `(sensitive)`: what may be printed. */
export function maskPlan<T extends { changes: PlannedChange[] }>(plan: T): T {
  return {
    ...plan,
    changes: plan.changes.map((c) => ({
      ...c,
      ...('document' in c ? { document: maskValue(c.document) as ResourceDocument } : {}),
      fields: c.fields.map((f) => maskField(f)),
    })),
  };
}

function maskField(f: FieldChange): FieldChange {
  const out: FieldChange = { path: f.path };
  if ('before' in f) out.before = maskValue(f.before, f.path);
  if ('after' in f) out.after = maskValue(f.after, f.path);
  return out;
}

/** Parses and checks a saved plan file's shape; throws Error with what is wrong. */
export function parseSavedPlan(text: string): SavedPlan {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`not a plan file (not JSON: ${(error as Error).message})`);
  }
  const p = data as Partial<SavedPlan>;
  if (!p || typeof p !== 'object' || p.format !== PLAN_FORMAT) {
    throw new Error(`not a plan file (expected "format": "${PLAN_FORMAT}")`);
  }
  if (!p.backend || typeof p.backend.kind !== 'string' || typeof p.backend.location !== 'string') throw new Error('plan file has no backend');
  if (!Array.isArray(p.changes)) throw new Error('plan file has no changes list');
  for (const [i, c] of p.changes.entries()) {
    const where = `changes[${i}]`;
    if (!c || !['create', 'update', 'delete'].includes(c.op)) throw new Error(`${where}: unknown op`);
    if (!KIND_ORDER.includes(c.kind) || typeof c.name !== 'string') throw new Error(`${where}: bad kind or name`);
    if (c.op !== 'create' && !Number.isInteger(c.expectedVersion)) throw new Error(`${where}: missing expectedVersion`);
    if (c.op !== 'delete' && (!c.document || c.document.kind !== c.kind || c.document.metadata?.name !== c.name)) {
      throw new Error(`${where}: document does not match ${c.kind}/${c.name}`);
    }
    if (!Array.isArray(c.fields)) (c as { fields: FieldChange[] }).fields = [];
  }
  return p as SavedPlan;
}

/**
 * Compares a saved plan with the backend's current state. Returns one line per resource the
 * plan touches that changed since: the plan's versions no longer hold.
 */
export function staleResources(changes: PlannedChange[], current: StoredResource[]): string[] {
  const byKey = new Map(current.map((r) => [key(r.kind, r.name), r]));
  const problems: string[] = [];
  for (const c of changes) {
    const now = byKey.get(key(c.kind, c.name));
    if (c.op === 'create') {
      if (now) problems.push(`${c.kind}/${c.name} was created since (version ${now.version}, plan expected none)`);
    } else if (!now) {
      problems.push(`${c.kind}/${c.name} was deleted since (plan expected version ${c.expectedVersion})`);
    } else if (now.version !== c.expectedVersion) {
      problems.push(`${c.kind}/${c.name} changed (version ${now.version}, plan expected ${c.expectedVersion})`);
    }
  }
  return problems;
}
