// `${env:NAME}` secret references: found where they sit (for --env-check) and resolved from the
// environment at plan/apply time. The files only ever hold the reference.
import type { DocPath } from './types.js';

export const SECRET_REF = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/;

export interface SecretRefUse {
  /** Where the reference sits in the document. */
  path: Array<string | number>;
  /** The environment variable it reads. */
  name: string;
}

/** Every secret reference in a value, in document order. */
export function findSecretRefs(value: unknown, path: DocPath = []): SecretRefUse[] {
  const out: SecretRefUse[] = [];
  const walk = (v: unknown, p: Array<string | number>) => {
    if (typeof v === 'string') {
      const m = SECRET_REF.exec(v);
      if (m) out.push({ path: p, name: m[1]! });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(value, [...path]);
  return out;
}

/**
 * A copy of `value` with every `${env:NAME}` replaced by the variable's value. A variable that
 * is unset or empty is left as the reference and listed in `missing` (never guessed, never '').
 */
export function resolveSecrets<T>(value: T, env: Record<string, string | undefined>): { value: T; missing: SecretRefUse[] } {
  const missing: SecretRefUse[] = [];
  const walk = (v: unknown, p: Array<string | number>): unknown => {
    if (typeof v === 'string') {
      const m = SECRET_REF.exec(v);
      if (!m) return v;
      const resolved = env[m[1]!];
      if (resolved === undefined || resolved === '') {
        missing.push({ path: p, name: m[1]! });
        return v;
      }
      return resolved;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...p, i]));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, [...p, k]);
      return out;
    }
    return v;
  };
  return { value: walk(value, []) as T, missing };
}
