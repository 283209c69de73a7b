// Structural comparison of policy documents: normalisation (so a no-op is a no-op whatever the
// key order or the spelling of defaults) and a field-level diff addressed by dotted paths.
import type { ResourceDocument, ResourceKind } from '../model/policy.generated.js';

export interface FieldChange {
  /** Dotted path from the document root, with [i] for array elements: `spec.settings.passcode.minLength`. */
  path: string;
  /** Absent when the field is added. */
  before?: unknown;
  /** Absent when the field is removed. */
  after?: unknown;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Schema defaults, applied before comparing so that `priority: 100` written out and left out
 * compare equal. Only defaults the schema declares belong here.
 */
const DEFAULTS: Partial<Record<ResourceKind, Array<{ path: string[]; value: Json }>>> = {
  Policy: [{ path: ['spec', 'priority'], value: 100 }],
};

/**
 * A canonical copy for comparison: undefined and empty-object members dropped (an empty
 * `labels: {}` means the same as none), schema defaults filled in. Arrays keep their order —
 * order is meaningful for assignment lists and Wi-Fi networks alike.
 */
export function normalizeDocument(doc: ResourceDocument): Json {
  const copy = canonical(doc as unknown) ?? {};
  const defaults = DEFAULTS[doc.kind] ?? [];
  for (const { path, value } of defaults) {
    let node = copy as Record<string, Json>;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) {
        node = undefined as never;
        break;
      }
      node = next as Record<string, Json>;
    }
    const last = path[path.length - 1]!;
    if (node && node[last] === undefined) node[last] = value;
  }
  return copy;
}

function canonical(value: unknown): Json | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') return value as Json;
  if (Array.isArray(value)) return value.map((v) => canonical(v) ?? null);
  const out: Record<string, Json> = {};
  for (const key of Object.keys(value as object).sort()) {
    const v = canonical((value as Record<string, unknown>)[key]);
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    // Defined, not assigned: `out["__proto__"] = v` would set the prototype and drop the member,
    // so a `__proto__` key added to a saved plan would leave its digest unchanged.
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Key-order-independent JSON, for digests and equality. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(canonical(value) ?? null);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}

/**
 * Field-level differences between two normalised values. Objects are walked key by key; arrays
 * of the same length element by element (so one changed Wi-Fi password is one line); arrays
 * whose length changed are reported whole, which reads better than a cascade of shifted indexes.
 */
export function diffValues(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (deepEqual(before, after)) return [];
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => {
      const p = path ? `${path}.${key}` : key;
      if (!(key in before)) return [{ path: p, after: after[key] }];
      if (!(key in after)) return [{ path: p, before: before[key] }];
      return diffValues(before[key], after[key], p);
    });
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((b, i) => diffValues(b, after[i], `${path}[${i}]`));
  }
  return [{ path, before, after }];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
