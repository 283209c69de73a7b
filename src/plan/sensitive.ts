// Which document fields hold secrets. The schema types them as SecretRef (`${env:NAME}` in
// files); once resolved they are ordinary strings, so plans, exports and JSON output recognise
// them by field name and never print their values.

export const SENSITIVE_MASK = '(sensitive)';

/** Field names that carry secrets in any kind (today: a Wi-Fi network's `password`). */
const SENSITIVE_KEYS = new Set(['password', 'psk', 'secret', 'token', 'privateKey', 'clientSecret']);

function leafKey(path: string): string {
  const last = path.split('.').pop() ?? '';
  return last.replace(/\[\d+\]$/, '');
}

export function isSensitivePath(path: string): boolean {
  return SENSITIVE_KEYS.has(leafKey(path));
}

/** A copy of `value` (found at `path`) with every sensitive field replaced by the mask. */
export function maskValue(value: unknown, path = ''): unknown {
  if (value === undefined) return undefined;
  if (path && isSensitivePath(path) && (value === null || typeof value !== 'object')) return SENSITIVE_MASK;
  if (Array.isArray(value)) return value.map((v, i) => maskValue(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskValue(v, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

/** Every sensitive leaf of a value with its path, e.g. for export to turn into env references. */
export function sensitiveLeaves(value: unknown, path = ''): Array<{ path: string; value: unknown }> {
  if (path && isSensitivePath(path) && (value === null || typeof value !== 'object')) return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => sensitiveLeaves(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => sensitiveLeaves(v, path ? `${path}.${k}` : k));
  }
  return [];
}
