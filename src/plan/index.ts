// Desired state (policy files) vs current state (a backend) → an ordered list of changes.
// Pure: no I/O, no clock unless given; the commands do the loading, printing and applying.
import { createHash } from 'node:crypto';
import type { BackendIdentity, ResourceChange } from '../backends/backend.js';
import { maskDocument, SENSITIVE_MASK, secretDigest, secretRefPaths, verifySecretDigest } from '../model/secrets.js';
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

/**
 * `document` is as written (secret references in place); `secrets` holds the resolved value of
 * each reference by path. `secrets` lives in memory only: no output or plan file carries it.
 */
export type PlannedChange =
  | { op: 'create'; kind: ResourceKind; name: string; document: ResourceDocument; fields: FieldChange[]; secrets?: Record<string, string> }
  | { op: 'update'; kind: ResourceKind; name: string; document: ResourceDocument; expectedVersion: number; fields: FieldChange[]; secrets?: Record<string, string> }
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
  /** Resolved secret values per `Kind/name`, by path; documents then hold the references. */
  secrets?: Map<string, Record<string, string>>;
}

export const key = (kind: string, name: string) => `${kind}/${name}`;
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
    const secrets = opts.secrets?.get(k);
    const withSecrets = secrets && Object.keys(secrets).length ? { secrets } : {};
    const fields = changeFields(document, existing, secrets);
    if (!existing) {
      upserts.push({ op: 'create', kind, name, document, fields, ...withSecrets });
      continue;
    }
    if (fields.length === 0) unchanged++;
    else upserts.push({ op: 'update', kind, name, document, expectedVersion: existing.version, fields, ...withSecrets });
  }
  const orphans = current.filter((r) => !desiredKeys.has(key(r.kind, r.name))).sort(byKindThenName);
  const deletions: PlannedChange[] = opts.prune
    ? orphans.reverse().map((r) => ({
        op: 'delete' as const,
        kind: r.kind,
        name: r.name,
        expectedVersion: r.version,
        fields: changeFields(undefined, r),
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

/**
 * The field-level changes from `existing` (absent: a create) to `document` (absent: a delete).
 * Documents compare as written, references included; a secret whose reference stayed the same
 * is compared by value against the backend's digest of it, and a changed one is one masked line.
 */
export function changeFields(document: ResourceDocument | undefined, existing: StoredResource | undefined, secrets?: Record<string, string>): FieldChange[] {
  const before = existing ? normalizeDocument(existing.document) : {};
  if (!document) return diffValues(before, {});
  const fields = diffValues(before, normalizeDocument(document));
  if (!existing) return fields;
  const covered = (path: string) => fields.some((f) => path === f.path || path.startsWith(`${f.path}.`) || path.startsWith(`${f.path}[`));
  for (const [path, value] of Object.entries(secrets ?? {})) {
    if (covered(path)) continue;
    const stored = existing.secrets?.find((s) => s.path === path);
    if (!stored || !verifySecretDigest(value, stored.digest)) fields.push({ path, before: SENSITIVE_MASK, after: SENSITIVE_MASK });
  }
  return fields;
}

/** What the backend applies, in plan order, each update/delete guarded by the version planned against. */
export function planToChanges(plan: Pick<Plan, 'changes'>): ResourceChange[] {
  return plan.changes.map((c): ResourceChange => {
    switch (c.op) {
      case 'create':
        return { op: 'create', kind: c.kind, name: c.name, document: c.document, ...(c.secrets ? { secrets: c.secrets } : {}) };
      case 'update':
        return { op: 'update', kind: c.kind, name: c.name, document: c.document, expectedVersion: c.expectedVersion, ...(c.secrets ? { secrets: c.secrets } : {}) };
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
//
// A plan file is sealed: `digest` is a sha256 over everything else in it, and `seal` the store's
// HMAC of that digest under a key only the store holds (Backend.sealPlan), so an edited plan is
// refused even when its sha256 was recomputed; it names the backend by identity (absolute data dir or URL, plus the store's own id),
// so it applies nowhere else; and it keeps each secret as its reference plus a salted scrypt
// digest of the value used, so `apply --plan` notices when the environment now holds another value.

export const PLAN_FORMAT = 'emmctl.plan/v2';

/** One secret a saved plan used: where, which reference, and a digest of the value (never the value). */
export interface PlanSecret {
  kind: ResourceKind;
  name: string;
  path: string;
  ref: string;
  digest: string;
}

export interface SavedPlan {
  format: typeof PLAN_FORMAT;
  createdAt: string;
  /** The backend planned against; a plan applies only there. */
  backend: BackendIdentity;
  prune: boolean;
  /** Digest of the desired documents (secret references unresolved). */
  desiredDigest: string;
  summary: PlanSummary;
  /** Documents as written (references, no values); fields masked. */
  changes: PlannedChange[];
  secrets: PlanSecret[];
  /** sha256 over the rest of the plan (see planDigest). */
  digest: string;
  /** The backend's seal over `digest`; absent from `plan -o json`, which is not an appliable plan. */
  seal?: string;
}

export function toSavedPlan(
  plan: Pick<Plan, 'changes' | 'summary'>,
  meta: { backend: BackendIdentity; prune: boolean; desiredDigest: string; createdAt: Date },
): SavedPlan {
  const secrets: PlanSecret[] = [];
  for (const c of plan.changes) {
    if (!('document' in c)) continue;
    for (const { path, ref } of secretRefPaths(c.document)) {
      const value = c.secrets?.[path];
      if (value !== undefined) secrets.push({ kind: c.kind, name: c.name, path, ref, digest: secretDigest(value) });
    }
  }
  const body: Omit<SavedPlan, 'digest'> = {
    format: PLAN_FORMAT,
    createdAt: meta.createdAt.toISOString(),
    backend: { kind: meta.backend.kind, location: meta.backend.location, storeId: meta.backend.storeId },
    prune: meta.prune,
    desiredDigest: meta.desiredDigest,
    summary: plan.summary,
    changes: maskPlan(plan).changes,
    secrets,
  };
  return { ...body, digest: planDigest(body) };
}

/** The seal: sha256 over the plan without its `digest` member, in stable key order. */
export function planDigest(plan: Omit<SavedPlan, 'digest'> | SavedPlan): string {
  const { digest: _ignored, seal: _seal, ...rest } = plan as SavedPlan;
  return `sha256:${createHash('sha256').update(stableStringify(rest)).digest('hex')}`;
}

/** The same plan with every secret value replaced by `(sensitive)`: what may be printed. */
export function maskPlan<T extends { changes: PlannedChange[] }>(plan: T): T {
  return {
    ...plan,
    changes: plan.changes.map((c): PlannedChange => {
      // Secret values never leave memory; documents already hold only references.
      const { secrets: _values, ...rest } = c as PlannedChange & { secrets?: unknown };
      return {
        ...rest,
        ...('document' in rest ? { document: maskDocument(rest.document) } : {}),
        fields: c.fields.map((f) => maskField(f)),
      } as PlannedChange;
    }),
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
  if (!p || typeof p !== 'object' || typeof p.format !== 'string' || !p.format.startsWith('emmctl.plan/')) {
    throw new Error(`not a plan file (expected "format": "${PLAN_FORMAT}")`);
  }
  if (p.format !== PLAN_FORMAT) throw new PlanFormatError(`was made by another emmctl version (format ${p.format}, this one reads ${PLAN_FORMAT})`);
  if (typeof p.digest !== 'string') throw new Error('plan file has no digest');
  if (typeof p.seal !== 'string') throw new Error('plan file has no seal (save plans with `emmctl plan --out FILE`; `-o json` output cannot be applied)');
  if (!p.backend || typeof p.backend.kind !== 'string' || typeof p.backend.location !== 'string' || typeof p.backend.storeId !== 'string') throw new Error('plan file has no backend');
  if (!Array.isArray(p.changes)) throw new Error('plan file has no changes list');
  if (!Array.isArray(p.secrets)) throw new Error('plan file has no secrets list');
  for (const [i, c] of p.changes.entries()) {
    const where = `changes[${i}]`;
    if (!c || !['create', 'update', 'delete'].includes(c.op)) throw new Error(`${where}: unknown op`);
    if (!KIND_ORDER.includes(c.kind) || typeof c.name !== 'string') throw new Error(`${where}: bad kind or name`);
    if (c.op !== 'create' && !Number.isInteger(c.expectedVersion)) throw new Error(`${where}: missing expectedVersion`);
    if (c.op !== 'delete' && (!c.document || c.document.kind !== c.kind || c.document.metadata?.name !== c.name)) {
      throw new Error(`${where}: document does not match ${c.kind}/${c.name}`);
    }
    if ('secrets' in c) throw new Error(`${where}: a plan file never holds secret values`);
    if (!Array.isArray(c.fields)) throw new Error(`${where}: no fields list`);
  }
  for (const [i, s] of p.secrets.entries()) {
    if (!s || typeof s.path !== 'string' || typeof s.ref !== 'string' || typeof s.digest !== 'string' || typeof s.name !== 'string') throw new Error(`secrets[${i}]: malformed`);
  }
  return p as SavedPlan;
}

/** A plan file of another format version: refused as such, not as garbage. */
export class PlanFormatError extends Error {}

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
