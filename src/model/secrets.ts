// Secret fields of resource documents, shared by every layer that stores, compares or shows them.
// Files hold `${env:NAME}` references. The backend keeps each document exactly as written
// (references in place, which is what export writes back) and the resolved values beside it;
// only a device's own check-in gets the values merged in. Admin reads get the reference and a
// salted, deliberately slow digest (scrypt), so a plan can tell "the value changed" without
// anyone being able to read it back or cheaply test guesses against it.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

export const SENSITIVE_MASK = '(sensitive)';

/** The reference syntax of the policy files: `${env:NAME}`. */
export const SECRET_REF_PATTERN = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** A secret field of a stored resource, as admin reads return it: never the value. */
export interface SecretField {
  /** Dotted path in the document: `spec.settings.wifi[0].password`. */
  path: string;
  /** The reference the value was applied from (also what the document holds at `path`). */
  ref: string;
  /** scrypt digest of the value with its own random salt; see verifySecretDigest. */
  digest: string;
}

/** Field names that carry secrets in any kind; also masked when a value is not a reference (older stores). */
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

/** A document with every secret value masked, `${env:NAME}` references kept (they are not secrets). */
export function maskDocument<T>(doc: T): T {
  const values = sensitiveLeaves(doc).filter((l) => !(typeof l.value === 'string' && SECRET_REF_PATTERN.test(l.value)));
  return values.length ? replacePaths(doc, Object.fromEntries(values.map((l) => [l.path, SENSITIVE_MASK]))) : doc;
}

/** Every sensitive leaf of a value with its path. */
export function sensitiveLeaves(value: unknown, path = ''): Array<{ path: string; value: unknown }> {
  if (path && isSensitivePath(path) && (value === null || typeof value !== 'object')) return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => sensitiveLeaves(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => sensitiveLeaves(v, path ? `${path}.${k}` : k));
  }
  return [];
}

/** Every `${env:NAME}` reference in a document, with its dotted path, in document order. */
export function secretRefPaths(value: unknown, path = ''): Array<{ path: string; ref: string }> {
  if (typeof value === 'string') return SECRET_REF_PATTERN.test(value) ? [{ path, ref: value }] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => secretRefPaths(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => secretRefPaths(v, path ? `${path}.${k}` : k));
  }
  return [];
}

function pathParts(path: string): Array<string | number> {
  return (path.match(/[^.[\]]+/g) ?? []).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

export function getPath(root: unknown, path: string): unknown {
  let node = root;
  for (const p of pathParts(path)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[p];
  }
  return node;
}

/** A deep copy of `root` with the value at each path replaced (paths that do not exist are skipped). */
export function replacePaths<T>(root: T, values: Record<string, unknown>): T {
  const copy = structuredClone(root);
  for (const [path, value] of Object.entries(values)) {
    const parts = pathParts(path);
    let node = copy as unknown;
    for (const p of parts.slice(0, -1)) {
      if (node === null || typeof node !== 'object') break;
      node = (node as Record<string | number, unknown>)[p];
    }
    const last = parts[parts.length - 1];
    if (last !== undefined && node !== null && typeof node === 'object' && (node as Record<string | number, unknown>)[last] !== undefined) {
      (node as Record<string | number, unknown>)[last] = value;
    }
  }
  return copy;
}

// scrypt cost: ~16 MiB and some tens of milliseconds per digest, so a stolen digest does not
// let anyone try a dictionary of Wi-Fi keys quickly; plan and apply compute only a handful.
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const DIGEST_PREFIX = 'scrypt1';

/** `scrypt1$<salt>$<hash>` (base64url); a new random salt unless one is given. */
export function secretDigest(value: string, salt: Buffer = randomBytes(16)): string {
  const hash = scryptSync(value, salt, 32, SCRYPT);
  return `${DIGEST_PREFIX}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Whether `value` is the secret `digest` was made from. False for anything not a digest of ours. */
export function verifySecretDigest(value: string, digest: unknown): boolean {
  if (typeof digest !== 'string') return false;
  const [prefix, salt, hash] = digest.split('$');
  if (prefix !== DIGEST_PREFIX || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  if (expected.length !== 32) return false;
  return timingSafeEqual(scryptSync(value, Buffer.from(salt, 'base64url'), 32, SCRYPT), expected);
}
