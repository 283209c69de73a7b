// emmctl enrollment tokens as AMAPI enrollment tokens (enterprises.enrollmentTokens.create), and
// Google's answer read back. Pure.
//
//  - The profile's ownership decides how the device is provisioned: corporate → fully managed
//    (allowPersonalUsage PERSONAL_USAGE_DISALLOWED), personal → a work profile
//    (PERSONAL_USAGE_ALLOWED); the initial policy is compiled for that mode.
//  - `duration` is the token's lifetime ("<seconds>s"); AMAPI's shortest is one minute.
//  - maxUses 1 → oneTimeOnly. AMAPI has nothing between one and unlimited, so for maxUses above 1
//    the token is unlimited at Google and emmctl counts enrollments by enrollmentTokenName,
//    deleting the token at maxUses (`countUses` tells the caller to).
//  - additionalData (at most 1,024 characters) names the emmctl token and profile, not the labels:
//    64 labels of 256 characters would not fit, and the store, which keeps them, is the source of
//    truth anyway. The device reports it back as enrollmentTokenData.
// The token `value` Google answers is the enrollment secret (whoever has it can enroll a
// device): like emmctl's own token secret it is shown once and never logged.
import type { Ownership } from '../../model/policy.generated.js';
import type { AndroidDeviceMode } from './compile.js';

export interface EnrollmentTokenInput {
  /** The emmctl token's id (tok_…), so an enrollment is tied back to it. */
  tokenId: string;
  profile: string;
  ownership: Ownership;
  /** enterprises/E/policies/P: the initial policy, compiled for enrollmentMode(ownership). */
  policyName: string;
  ttlSeconds: number;
  maxUses?: number;
}

export interface AmapiEnrollmentTokenRequest {
  policyName: string;
  duration: string;
  oneTimeOnly: boolean;
  allowPersonalUsage: 'PERSONAL_USAGE_ALLOWED' | 'PERSONAL_USAGE_DISALLOWED';
  additionalData: string;
}

export interface EnrollmentTokenPlan {
  body: AmapiEnrollmentTokenRequest;
  /** Set when emmctl must count enrollments itself and delete the token at this many. */
  countUses?: number;
}

/** EnrollmentToken.additionalData's limit (discovery document). */
export const MAX_ADDITIONAL_DATA = 1024;
/** AMAPI's shortest token lifetime. */
export const MIN_TOKEN_TTL_SECONDS = 60;

/** The management mode a device enrolled from a profile of this ownership gets. */
export function enrollmentMode(ownership: Ownership): AndroidDeviceMode {
  return ownership === 'corporate' ? { ownership, managementMode: 'fully-managed' } : { ownership, managementMode: 'work-profile' };
}

/** Throws an Error saying what is wrong; the service turns it into a 400 naming the profile. */
export function enrollmentTokenRequest(input: EnrollmentTokenInput): EnrollmentTokenPlan {
  if (!/^enterprises\/[^/]+\/policies\/[^/]+$/.test(input.policyName)) throw new Error(`not an AMAPI policy name: ${JSON.stringify(input.policyName)}`);
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds < MIN_TOKEN_TTL_SECONDS) throw new Error(`an Android enrollment token lasts at least ${MIN_TOKEN_TTL_SECONDS} seconds (got ${input.ttlSeconds})`);
  if (input.maxUses !== undefined && !(Number.isInteger(input.maxUses) && input.maxUses >= 1)) throw new Error(`maxUses must be a positive whole number (got ${input.maxUses})`);
  const additionalData = JSON.stringify({ emmctl: { token: input.tokenId, profile: input.profile } });
  if ([...additionalData].length > MAX_ADDITIONAL_DATA) throw new Error(`the token's additionalData would exceed AMAPI's ${MAX_ADDITIONAL_DATA} characters`);
  const plan: EnrollmentTokenPlan = {
    body: {
      policyName: input.policyName,
      duration: `${input.ttlSeconds}s`,
      oneTimeOnly: input.maxUses === 1,
      allowPersonalUsage: input.ownership === 'personal' ? 'PERSONAL_USAGE_ALLOWED' : 'PERSONAL_USAGE_DISALLOWED',
      additionalData,
    },
  };
  if (input.maxUses !== undefined && input.maxUses > 1) plan.countUses = input.maxUses;
  return plan;
}

/** What emmctl put in additionalData, read back from a device's enrollmentTokenData; undefined when it is not ours. */
export function readEnrollmentData(data: string | undefined): { token: string; profile: string } | undefined {
  if (data === undefined || data.length > MAX_ADDITIONAL_DATA * 2) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  const e = parsed !== null && typeof parsed === 'object' ? (parsed as { emmctl?: unknown }).emmctl : undefined;
  if (e === null || typeof e !== 'object') return undefined;
  const { token, profile } = e as { token?: unknown; profile?: unknown };
  return typeof token === 'string' && typeof profile === 'string' && token.length <= 128 && profile.length <= 253 ? { token, profile } : undefined;
}

export interface CreatedAmapiToken {
  /** enterprises/E/enrollmentTokens/T. */
  name: string;
  /** The enrollment secret. Shown once, never logged. */
  value: string;
  expirationTimestamp?: string;
  /** The provisioning payload to render as a QR code (a JSON object, as Google sent it). */
  qrCode: string;
}

/** Google's answer to enrollmentTokens.create; throws naming the field when it is out of shape. */
export function readCreatedToken(body: unknown): CreatedAmapiToken {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('the answer is not an EnrollmentToken');
  const b = body as Record<string, unknown>;
  const str = (k: string, max: number): string => {
    const v = b[k];
    if (typeof v !== 'string' || v === '' || v.length > max) throw new Error(`EnrollmentToken.${k} must be a non-empty string of at most ${max} characters`);
    return v;
  };
  const name = str('name', 512);
  if (!/^enterprises\/[^/]+\/enrollmentTokens\/[^/]+$/.test(name)) throw new Error('EnrollmentToken.name must be enterprises/{enterpriseId}/enrollmentTokens/{tokenId}');
  const qrCode = str('qrCode', 8192);
  let qr: unknown;
  try {
    qr = JSON.parse(qrCode);
  } catch {
    throw new Error('EnrollmentToken.qrCode is not JSON');
  }
  if (qr === null || typeof qr !== 'object' || Array.isArray(qr)) throw new Error('EnrollmentToken.qrCode is not a JSON object');
  const out: CreatedAmapiToken = { name, value: str('value', 1024), qrCode };
  if (b.expirationTimestamp !== undefined) out.expirationTimestamp = str('expirationTimestamp', 64);
  return out;
}
