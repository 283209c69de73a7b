// RS256 JSON Web Tokens with node:crypto only, for the fake Google: it verifies the service
// account's assertions and signs Pub/Sub's OIDC tokens without the library the client under test
// uses (jose), so a mistake shared by both sides cannot make a wrong token pass.
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject | string): string {
  const input = `${base64url(JSON.stringify({ ...header, alg: 'RS256', typ: 'JWT' }))}.${base64url(JSON.stringify(payload))}`;
  return `${input}.${base64url(sign('sha256', Buffer.from(input), privateKey))}`;
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/** The token's parts once its RS256 signature checks against `publicKey`; throws saying what is wrong. */
export function verifyJwt(token: string, publicKey: KeyObject | string): DecodedJwt {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new Error('not a compact JWS (three base64url parts)');
  const [h, p, s] = parts as [string, string, string];
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error('the JWT header or payload is not JSON');
  }
  if (header === null || typeof header !== 'object' || payload === null || typeof payload !== 'object') throw new Error('the JWT header or payload is not an object');
  if (header.alg !== 'RS256') throw new Error(`alg must be RS256 (got ${JSON.stringify(header.alg)})`);
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  if (!verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))) throw new Error('the signature does not verify');
  return { header, payload };
}
