// Secrets (enrollment tokens, API tokens, device credentials) are random, carry a readable
// prefix so a leaked one is recognisable in logs and secret scanners, and are stored only
// as SHA-256 hashes: the store can check a secret but never give it back.
import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = { enrollment: 'emm_et_', api: 'emm_at_', device: 'emm_dc_' } as const;

export function newSecret(kind: keyof typeof SECRET_PREFIX): string {
  return SECRET_PREFIX[kind] + randomBytes(24).toString('base64url');
}

export function hashSecret(secret: string): string {
  // One call per agent request: the one-shot form (Node 20.12+) skips the Hash object.
  return oneShot ? oneShot('sha256', secret, 'hex') : createHash('sha256').update(secret, 'utf8').digest('hex');
}
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** Lower-case hex: safe on a command line (never starts with `-`) and in URLs. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}
