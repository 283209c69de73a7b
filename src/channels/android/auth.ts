// Google credentials of the Android channel, both directions:
//  - outgoing: a service account's JSON key becomes OAuth 2.0 access tokens through the JWT
//    bearer flow (RFC 7523) against the key's token_uri: an RS256 assertion signed with the key,
//    exchanged for a token that is cached until shortly before it expires;
//  - incoming: a Pub/Sub push carries an OIDC token Google signed for the push subscription's
//    service account; it is checked against Google's published keys (JWKS), issuer, audience and
//    e-mail before the push is believed.
// Both are built on jose (no dependencies, every Node emmctl supports), loaded only when a token
// is signed or checked. google-auth-library was the other candidate: its current major needs
// Node 22, and the one before brings gaxios, gtoken and gcp-metadata for one POST.
// The private key is a secret: no message, log line or error here quotes it or the assertion.
import { readFile, stat } from 'node:fs/promises';
import type { CryptoKey } from 'jose';
import { BackendError, UsageError } from '../../errors.js';
import { TokenCache, type IssuedToken } from '../../token-cache.js';
import { exchange, TransportError } from './http.js';

export const AMAPI_SCOPE = 'https://www.googleapis.com/auth/androidmanagement';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
/** The issuers of Google-signed OIDC tokens (both spellings are in use). */
export const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'] as const;
/** The environment variable Google's tools read the key file's path from. */
export const CREDENTIALS_ENV = 'GOOGLE_APPLICATION_CREDENTIALS';

export interface ServiceAccountKey {
  clientEmail: string;
  privateKey: string;
  privateKeyId?: string;
  tokenUri: string;
  projectId?: string;
}

/** The assertion's lifetime: Google accepts at most one hour. */
const ASSERTION_SECONDS = 3600;
const MAX_KEY_FILE = 64 * 1024;
const EMAIL = /^[^\s@]{1,64}@[A-Za-z0-9.-]{1,255}$/;

/**
 * A service account key file's contents, checked. Throws a UsageError naming the file and the
 * field; never quotes the file (a JSON parser's message would show a piece of the key).
 */
export function readServiceAccountKey(text: string, file: string): ServiceAccountKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not a JSON key file`, 'download a JSON key of the service account (IAM & Admin → Service accounts → Keys → Add key → JSON)');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`${file} is not a service account key (a JSON object)`);
  const k = parsed as Record<string, unknown>;
  const field = (name: string, problem: string) => new UsageError(`${file}: "${name}" ${problem}`, 'use the JSON key file Google Cloud gives for a service account, unedited');
  if (k.type !== 'service_account') {
    const said = typeof k.type === 'string' && /^[a-z_]{1,40}$/.test(k.type) ? `"${k.type}"` : 'missing';
    throw new UsageError(`${file}: "type" is ${said}, not "service_account"`, 'emmctl needs a service account key (not user credentials): see docs/android.md');
  }
  const string = (name: string, max: number, required: boolean): string | undefined => {
    const v = k[name];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '') throw field(name, 'is missing or empty');
    if (v.length > max) throw field(name, `is longer than ${max} characters`);
    return v;
  };
  const clientEmail = string('client_email', 320, true)!;
  if (!EMAIL.test(clientEmail)) throw field('client_email', 'is not an e-mail address');
  const privateKey = string('private_key', 16 * 1024, true)!;
  if (!/-----BEGIN PRIVATE KEY-----[A-Za-z0-9+/=\s\\n]+-----END PRIVATE KEY-----/.test(privateKey)) throw field('private_key', 'is not a PKCS#8 PEM private key');
  const privateKeyId = string('private_key_id', 128, false);
  if (privateKeyId !== undefined && !/^[A-Za-z0-9_-]+$/.test(privateKeyId)) throw field('private_key_id', 'is not a key id');
  const tokenUri = string('token_uri', 2048, false) ?? GOOGLE_TOKEN_URI;
  const problem = endpointProblem(tokenUri);
  if (problem) throw field('token_uri', problem);
  const projectId = string('project_id', 128, false);
  const key: ServiceAccountKey = { clientEmail, privateKey, tokenUri };
  if (privateKeyId !== undefined) key.privateKeyId = privateKeyId;
  if (projectId !== undefined) key.projectId = projectId;
  return key;
}

/**
 * The key file named by `--google-credentials` or else GOOGLE_APPLICATION_CREDENTIALS, read and
 * checked. A file that group or others may read is used, with a warning: it is a secret.
 */
export async function loadServiceAccountKey(flag: string | undefined, env: Record<string, string | undefined>, warn: (message: string) => void): Promise<{ key: ServiceAccountKey; file: string }> {
  const file = flag ?? (env[CREDENTIALS_ENV] ? env[CREDENTIALS_ENV] : undefined);
  if (!file) throw new UsageError('no Google credentials: pass --google-credentials FILE (a service account\'s JSON key)', `or set ${CREDENTIALS_ENV}=FILE; docs/android.md says how to create one`);
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'not a regular file' });
    if (info.size > MAX_KEY_FILE) throw Object.assign(new Error('too large'), { code: `larger than ${MAX_KEY_FILE} bytes` });
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      warn(`${file} can be read by ${info.mode & 0o007 ? 'every user' : 'its group'}: a service account key is a secret (chmod 600 ${file})`);
    }
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the Google credentials ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  return { key: readServiceAccountKey(text, file), file };
}

/** Why a URL may not receive a credential, or undefined: https, or http to this machine only (tests, emulators). */
export function endpointProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (u.username || u.password) return 'must not carry a user name or password';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return undefined;
  return 'must be an https:// URL (http:// only to 127.0.0.1 or localhost)';
}

interface JoseModule {
  importPKCS8: typeof import('jose').importPKCS8;
  SignJWT: typeof import('jose').SignJWT;
}

/** OAuth access tokens for one service account, cached in memory until shortly before they expire. */
export class GoogleTokenSource {
  private readonly cache: TokenCache;
  private signingKey?: Promise<CryptoKey>;
  private readonly scope: string;
  private readonly now: () => Date;
  private readonly timeoutMs: number;

  constructor(
    private readonly key: ServiceAccountKey,
    opts: { scope?: string; now?: () => Date; timeoutMs?: number } = {},
  ) {
    this.scope = opts.scope ?? AMAPI_SCOPE;
    this.now = opts.now ?? (() => new Date());
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.cache = new TokenCache(() => this.acquire(), { maxMarginMs: 300_000, now: () => this.now().getTime() });
  }

  /** A valid access token; concurrent callers share one exchange. */
  token(): Promise<string> {
    return this.cache.token();
  }

  /** Forgets the cached token (Google answered 401 to it: revoked, or the clock is off). */
  invalidate(): void {
    this.cache.invalidate();
  }

  private async acquire(): Promise<IssuedToken> {
    const jose = (await import('jose')) as JoseModule;
    const signingKey = await this.importKey(jose);
    const issuedAt = Math.floor(this.now().getTime() / 1000);
    const header: { alg: 'RS256'; typ: 'JWT'; kid?: string } = { alg: 'RS256', typ: 'JWT' };
    if (this.key.privateKeyId) header.kid = this.key.privateKeyId;
    const assertion = await new jose.SignJWT({ scope: this.scope })
      .setProtectedHeader(header)
      .setIssuer(this.key.clientEmail)
      .setAudience(this.key.tokenUri)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_SECONDS)
      .sign(signingKey);
    const where = displayUrl(this.key.tokenUri);
    const who = this.key.clientEmail;
    let answer;
    try {
      answer = await exchange({
        method: 'POST',
        url: new URL(this.key.tokenUri),
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
        timeoutMs: this.timeoutMs,
        maxBytes: 64 * 1024,
      });
    } catch (error) {
      const said = error instanceof TransportError ? error.message : 'no answer';
      throw new BackendError('unavailable', `cannot get an access token for ${who} from ${where}: ${said}`, { hint: 'check the network (and a proxy or firewall in between); emmctl tries again on the next call' });
    }
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      body = undefined;
    }
    const b = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    if (answer.status !== 200) {
      const error = typeof b?.error === 'string' && /^[a-z_]{1,64}$/.test(b.error) ? b.error : undefined;
      const description = typeof b?.error_description === 'string' ? shown(b.error_description) : undefined;
      const said = error ? `${error}${description ? ` (${description})` : ''}` : `HTTP ${answer.status} without an OAuth error`;
      if (answer.status >= 500 || answer.status === 429) {
        throw new BackendError('unavailable', `cannot get an access token for ${who} from ${where}: ${said} (HTTP ${answer.status})`, { status: answer.status, hint: 'Google\'s token endpoint is busy or failing; emmctl tries again on the next call' });
      }
      throw new BackendError('unauthorized', `Google refused to issue an access token to the service account ${who} (${where}): ${said} (HTTP ${answer.status})`, { status: answer.status, hint: tokenHint(error) });
    }
    const token = b?.access_token;
    const expiresIn = b?.expires_in;
    const type = b?.token_type;
    if (typeof token !== 'string' || token === '' || token.length > 4096 || !/^[\x21-\x7e]+$/.test(token)) throw new BackendError('protocol', `the token endpoint ${where} answered without an access_token`);
    if (typeof type !== 'string' || type.toLowerCase() !== 'bearer') throw new BackendError('protocol', `the token endpoint ${where} answered a token_type other than Bearer`);
    if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) throw new BackendError('protocol', `the token endpoint ${where} answered without a positive expires_in`);
    return { token, expiresAt: this.now().getTime() + expiresIn * 1000 };
  }

  private importKey(jose: JoseModule): Promise<CryptoKey> {
    this.signingKey ??= jose.importPKCS8(this.key.privateKey.replace(/\\n/g, '\n'), 'RS256').catch(() => {
      this.signingKey = undefined;
      throw new UsageError(`the private_key of the service account ${this.key.clientEmail} is not an RSA key jose can sign with`, 'download a fresh JSON key for the service account');
    });
    return this.signingKey;
  }
}

function tokenHint(error: string | undefined): string {
  switch (error) {
    case 'invalid_grant':
      return 'the key may have been deleted or disabled, or this machine\'s clock is off by more than a few minutes (the assertion carries the time); create a new key if the clock is right';
    case 'invalid_scope':
    case 'unauthorized_client':
      return `the service account may not ask for ${AMAPI_SCOPE}: enable the Android Management API in its project`;
    case 'invalid_client':
      return 'the service account does not exist (any more): check client_email in the key file';
    default:
      return 'check the service account key (--google-credentials or GOOGLE_APPLICATION_CREDENTIALS)';
  }
}

// ---- Pub/Sub push authentication ----

export interface PushVerifier {
  verify(authorization: string | undefined): Promise<void>;
}

/**
 * Checks the Authorization header of a Pub/Sub push: a Google-signed OIDC token (RS256, a key of
 * Google's JWKS) for `audience`, issued to the push subscription's service account `email`
 * (verified). Throws BackendError('unauthorized') saying what failed, or 'unavailable' when
 * Google's keys could not be fetched (the push is then answered with an error and Pub/Sub
 * delivers it again). The token itself is never quoted.
 */
export function pushVerifier(opts: { audience: string; email: string; certsUrl?: string; now?: () => Date }): PushVerifier {
  const certsUrl = opts.certsUrl ?? GOOGLE_CERTS_URL;
  let jwks: Promise<{ jose: typeof import('jose'); keys: ReturnType<typeof import('jose').createRemoteJWKSet> }> | undefined;
  const refuse = (why: string) => new BackendError('unauthorized', `Pub/Sub push refused: ${why}`);
  return {
    async verify(authorization) {
      const m = typeof authorization === 'string' ? /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization.trim()) : null;
      if (!m) throw refuse(authorization ? 'the Authorization header is not a Bearer JWT' : 'no Authorization header (configure the push subscription with authentication and this audience)');
      jwks ??= import('jose').then((jose) => ({ jose, keys: jose.createRemoteJWKSet(new URL(certsUrl), { timeoutDuration: 10_000, cooldownDuration: 30_000, cacheMaxAge: 3_600_000 }) }));
      const { jose, keys } = await jwks;
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jose.jwtVerify(m[1]!, keys, {
          issuer: [...GOOGLE_ISSUERS],
          audience: opts.audience,
          algorithms: ['RS256'],
          clockTolerance: 60,
          requiredClaims: ['exp', 'iat'],
          ...(opts.now ? { currentDate: opts.now() } : {}),
        }));
      } catch (error) {
        throw verifyError(jose, error, certsUrl, refuse);
      }
      if (payload.email !== opts.email) throw refuse('the token was issued to another service account than --pubsub-service-account');
      if (payload.email_verified !== true) throw refuse('the token\'s e-mail is not verified');
    },
  };
}

function verifyError(jose: typeof import('jose'), error: unknown, certsUrl: string, refuse: (why: string) => BackendError): BackendError {
  const e = jose.errors;
  // jose's generic error comes only from fetching the key set (not 200, not JSON); a fetch that fails is no JOSEError at all.
  const fetching = error instanceof e.JWKSTimeout || (error instanceof e.JOSEError && (error.code === 'ERR_JWKS_INVALID' || error.code === 'ERR_JOSE_GENERIC')) || !(error instanceof e.JOSEError);
  if (fetching) {
    return new BackendError('unavailable', `Pub/Sub push not checked: Google's signing keys could not be fetched from ${displayUrl(certsUrl)}`, { hint: 'Pub/Sub delivers the push again later' });
  }
  if (error instanceof e.JWTExpired) return refuse('the token has expired');
  if (error instanceof e.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return refuse('the token is for another audience than --pubsub-audience');
    if (error.claim === 'iss') return refuse('the token was not issued by Google (accounts.google.com)');
    return refuse(`the token's "${error.claim}" claim is not valid`);
  }
  if (error instanceof e.JWKSNoMatchingKey) return refuse('the token is signed with a key that is not one of Google\'s');
  if (error instanceof e.JWSSignatureVerificationFailed) return refuse('the token\'s signature is not valid');
  if (error instanceof e.JOSEAlgNotAllowed) return refuse('the token is not signed with RS256');
  return refuse('the token is malformed');
}

/** The origin and path of a URL, for messages (never its query). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return 'an invalid URL';
  }
}

/** A text from the network for a message: one line, bounded, printable. */
function shown(s: string): string {
  const one = s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}…` : one;
}
