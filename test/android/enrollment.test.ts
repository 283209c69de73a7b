// Enrollment profiles → AMAPI enrollment tokens, and Google's answer read back. Request bodies
// and answers are held to Google's discovery schema when the specs are there.
import { describe, expect, it } from 'vitest';
import { compilePolicy, policyName } from '../../src/channels/android/compile.js';
import { enrollmentMode, enrollmentTokenRequest, MAX_ADDITIONAL_DATA, readCreatedToken, readEnrollmentData, type EnrollmentTokenInput } from '../../src/channels/android/enrollment.js';
import { readDevice } from '../../src/channels/android/posture.js';
import { effectiveConfiguration } from '../../src/compliance/merge.js';
import { policy } from '../compliance/fixtures.js';
import { checkAmapi, specsAvailable } from './amapi-schema.js';
import { amapiDevice, amapiEnrollmentToken, ENTERPRISE } from './fixtures.js';

const SCHEMA_CHECKS = specsAvailable();

function request(over: Partial<EnrollmentTokenInput> = {}) {
  const input: EnrollmentTokenInput = { tokenId: 'tok_0123456789abcdef', profile: 'corp-android', ownership: 'corporate', policyName: `${ENTERPRISE}/policies/emmctl-r1-fm-0123456789abcdef`, ttlSeconds: 7 * 86_400, ...over };
  const plan = enrollmentTokenRequest(input);
  if (SCHEMA_CHECKS) expect(checkAmapi('EnrollmentToken', plan.body)).toEqual([]);
  return plan;
}

describe('enrollmentTokenRequest', () => {
  it('makes a fully managed token for a corporate profile, with the initial policy compiled for that mode', () => {
    const mode = enrollmentMode('corporate');
    expect(mode).toEqual({ ownership: 'corporate', managementMode: 'fully-managed' });
    const compiled = compilePolicy({ configuration: effectiveConfiguration([policy('p', { camera: 'disabled' })]), mode });
    const plan = request({ policyName: policyName(ENTERPRISE, compiled.policyId), maxUses: 1 });
    expect(plan).toEqual({
      body: {
        policyName: `${ENTERPRISE}/policies/${compiled.policyId}`,
        duration: '604800s',
        oneTimeOnly: true,
        allowPersonalUsage: 'PERSONAL_USAGE_DISALLOWED',
        additionalData: '{"emmctl":{"token":"tok_0123456789abcdef","profile":"corp-android"}}',
      },
    });
  });

  it('makes a work-profile token for a personal profile', () => {
    expect(enrollmentMode('personal')).toEqual({ ownership: 'personal', managementMode: 'work-profile' });
    expect(request({ ownership: 'personal' }).body.allowPersonalUsage).toBe('PERSONAL_USAGE_ALLOWED');
  });

  it('leaves counting to emmctl when maxUses is above one (AMAPI has only one-time or unlimited)', () => {
    expect(request({ maxUses: 25 })).toMatchObject({ body: { oneTimeOnly: false }, countUses: 25 });
    expect(request({})).not.toHaveProperty('countUses');
  });

  it('refuses a lifetime under AMAPI\'s minute, a bad maxUses and a policy name that is not one', () => {
    expect(() => request({ ttlSeconds: 59 })).toThrow('an Android enrollment token lasts at least 60 seconds (got 59)');
    expect(() => request({ maxUses: 0 })).toThrow('maxUses must be a positive whole number');
    expect(() => request({ policyName: 'emmctl-r1-fm-0123456789abcdef' })).toThrow('not an AMAPI policy name');
    expect(() => request({ profile: 'p'.repeat(MAX_ADDITIONAL_DATA) })).toThrow('exceed');
  });

  it('reads its additionalData back from the enrolled device, and nothing else as ours', () => {
    const body = request({ profile: 'byod' }).body;
    const device = readDevice(amapiDevice({ enrollmentTokenData: body.additionalData }));
    expect(readEnrollmentData(device.enrollmentTokenData)).toEqual({ token: 'tok_0123456789abcdef', profile: 'byod' });
    for (const other of [undefined, '', 'org-unit-7', '{"profile":"x"}', '{"emmctl":{"token":1,"profile":"x"}}', 'null']) expect(readEnrollmentData(other), String(other)).toBeUndefined();
  });
});

describe('readCreatedToken', () => {
  it('reads Google\'s answer: name, the secret value, expiry and the QR payload', () => {
    const answer = amapiEnrollmentToken();
    if (SCHEMA_CHECKS) expect(checkAmapi('EnrollmentToken', answer)).toEqual([]);
    expect(readCreatedToken(answer)).toEqual({ name: `${ENTERPRISE}/enrollmentTokens/Zy5Qm1x`, value: 'QWERTYUIOPASDFGHJKLZ', expirationTimestamp: '2026-03-02T12:00:00Z', qrCode: answer.qrCode });
  });

  it('refuses an answer out of shape, naming the field', () => {
    expect(() => readCreatedToken(null)).toThrow('not an EnrollmentToken');
    expect(() => readCreatedToken(amapiEnrollmentToken({ value: undefined }))).toThrow('EnrollmentToken.value must be a non-empty string');
    expect(() => readCreatedToken(amapiEnrollmentToken({ name: 'tokens/1' }))).toThrow('EnrollmentToken.name must be');
    expect(() => readCreatedToken(amapiEnrollmentToken({ qrCode: 'not json' }))).toThrow('EnrollmentToken.qrCode is not JSON');
    expect(() => readCreatedToken(amapiEnrollmentToken({ qrCode: '[1]' }))).toThrow('not a JSON object');
  });
});
