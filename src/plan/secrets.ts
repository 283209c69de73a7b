// `${env:NAME}` references inside documents that already left their files (saved plans): the
// plan file keeps the references, never the values, and apply resolves them again.
import type { ResourceDocument } from '../model/policy.generated.js';

const REF = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/;

export interface MissingSecret {
  path: string;
  name: string;
}

export function resolveSecretRefs(
  document: ResourceDocument,
  env: Record<string, string | undefined>,
): { document: ResourceDocument; missing: MissingSecret[] } {
  const missing: MissingSecret[] = [];
  const walk = (value: unknown, path: string): unknown => {
    if (typeof value === 'string') {
      const m = REF.exec(value);
      if (!m) return value;
      const resolved = env[m[1]!];
      if (resolved === undefined || resolved === '') {
        missing.push({ path, name: m[1]! });
        return value;
      }
      return resolved;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}[${i}]`));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, path ? `${path}.${k}` : k)]));
    }
    return value;
  };
  return { document: walk(document, '') as ResourceDocument, missing };
}

/** An environment variable name for an exported secret: POLICY_CORP_WIFI_WIFI_0_PASSWORD. */
export function secretEnvName(kind: string, name: string, path: string): string {
  const tail = path.replace(/^spec\.(settings\.)?/, '');
  return `${kind}_${name}_${tail}`.replace(/[^A-Za-z0-9]+/g, '_').replace(/_+$/, '').toUpperCase();
}
