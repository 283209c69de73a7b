// AMAPI Device → emmctl posture and failures. Devices are strangers even when Google relays them:
// out-of-shape input is refused whole, with the field named. Every well-formed device body used
// here is first held to Google's discovery schema (when ../shared/vendor-specs is there).
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/agent/fleet.js';
import { AMAPI_DEVICE_LIMITS, ANDROID_POLICY_RULE, readDevice } from '../../src/channels/android/posture.js';
import { evaluateCompliance } from '../../src/compliance/evaluate.js';
import { BackendError } from '../../src/errors.js';
import { DEVICE_LIMITS } from '../../src/model/device-limits.js';
import { compliance, device as emmDevice, NOW } from '../compliance/fixtures.js';
import { checkAmapi, specsAvailable } from './amapi-schema.js';
import { amapiDevice, ENTERPRISE, workProfileDevice } from './fixtures.js';

const SCHEMA_CHECKS = specsAvailable();

/** A device body Google could send: schema-checked first when the specs are present. */
function valid(body: Record<string, unknown>): Record<string, unknown> {
  if (SCHEMA_CHECKS) expect(checkAmapi('Device', body), JSON.stringify(body)).toEqual([]);
  return body;
}

function refused(body: unknown): BackendError {
  try {
    readDevice(body);
  } catch (e) {
    expect(e).toBeInstanceOf(BackendError);
    expect((e as BackendError).code).toBe('protocol');
    return e as BackendError;
  }
  throw new Error('readDevice accepted the body');
}

describe('readDevice: posture', () => {
  it('maps a fully managed device\'s reports onto the posture an agent would send', () => {
    const r = readDevice(valid(amapiDevice()));
    expect(r).toEqual({
      name: `${ENTERPRISE}/devices/3a8f20c1b7d4e5f6`,
      mode: { ownership: 'corporate', managementMode: 'fully-managed' },
      state: 'ACTIVE',
      posture: {
        osVersion: '14',
        patchLevel: '2026-02-05',
        model: 'Pixel 8 Pro',
        serial: '36051FDJH000AB',
        encrypted: true,
        passcodeSet: true,
        compromised: false,
        installedApps: ['com.google.android.apps.work.clouddpc', 'com.microsoft.teams'],
        appliedConfigVersion: '0123456789abcdef',
      },
      missing: [],
      lastStatusReportTime: '2026-03-01T11:40:02.500Z',
      appliedPolicy: { name: `${ENTERPRISE}/policies/emmctl-r1-fm-0123456789abcdef`, version: '3' },
      policyName: `${ENTERPRISE}/policies/emmctl-r1-fm-0123456789abcdef`,
      enrollmentTokenName: `${ENTERPRISE}/enrollmentTokens/Zy5Qm1x`,
      enrollmentTokenData: '{"profile":"corp-android","labels":{"team":"sales"}}',
      failures: [],
      pending: [],
    });
  });

  it('leaves the serial out on a personal work profile: there it is the enterprise-specific id', () => {
    const r = readDevice(valid(workProfileDevice()));
    expect(r.mode).toEqual({ ownership: 'personal', managementMode: 'work-profile' });
    expect(r.posture).not.toHaveProperty('serial');
    expect(r.posture?.model).toBe('Pixel 8 Pro');
  });

  it('counts AT_RISK and POTENTIALLY_COMPROMISED as compromised, SECURE as not', () => {
    const compromised = (devicePosture: string) => readDevice(valid(amapiDevice({ securityPosture: { devicePosture, postureDetails: [{ securityRisk: 'COMPROMISED_OS' }] } }))).posture?.compromised;
    expect(['SECURE', 'AT_RISK', 'POTENTIALLY_COMPROMISED'].map(compromised)).toEqual([false, true, true]);
  });

  it('reads encryption from encryptionStatus when isEncrypted is absent', () => {
    const enc = (encryptionStatus: string) => readDevice(valid(amapiDevice({ deviceSettings: { isDeviceSecure: true, encryptionStatus } }))).posture?.encrypted;
    expect(['ACTIVE', 'ACTIVE_DEFAULT_KEY', 'ACTIVE_PER_USER', 'INACTIVE', 'ACTIVATING', 'UNSUPPORTED'].map(enc)).toEqual([true, true, true, false, false, false]);
  });

  it('only takes appliedConfigVersion from a policy of ours', () => {
    const r = readDevice(valid(amapiDevice({ appliedPolicyName: `${ENTERPRISE}/policies/default` })));
    expect(r.posture).not.toHaveProperty('appliedConfigVersion');
    expect(r.appliedPolicy).toEqual({ name: `${ENTERPRISE}/policies/default`, version: '3' });
  });

  it('judges no device on guesses: an unreported field leaves posture undefined and is named', () => {
    const r = readDevice(valid(amapiDevice({ softwareInfo: undefined, deviceSettings: { isEncrypted: true }, securityPosture: { devicePosture: 'POSTURE_UNSPECIFIED' }, applicationReports: undefined })));
    expect(r.posture).toBeUndefined();
    expect(r.missing).toEqual(['softwareInfo.androidVersion', 'deviceSettings.isDeviceSecure', 'securityPosture.devicePosture', 'applicationReports']);
    // A provisioning device with nothing reported yet: known by name, unknown in posture.
    const bare = readDevice(valid({ name: `${ENTERPRISE}/devices/new1`, state: 'PROVISIONING' }));
    expect(bare.posture).toBeUndefined();
    expect(bare.state).toBe('PROVISIONING');
    expect(bare.mode).toBeUndefined();
  });

  it('takes no device mode AMAPI does not have', () => {
    expect(readDevice(valid(amapiDevice({ ownership: 'PERSONALLY_OWNED', managementMode: 'DEVICE_OWNER' }))).mode).toBeUndefined();
    expect(readDevice(valid(amapiDevice({ ownership: 'OWNERSHIP_UNSPECIFIED' }))).mode).toBeUndefined();
  });

  it('feeds compliance like an agent\'s check-in: the rules fail on what the device reported', () => {
    const r = readDevice(valid(amapiDevice({ securityPosture: { devicePosture: 'POTENTIALLY_COMPROMISED' }, softwareInfo: { androidVersion: '12', securityPatchLevel: '2025-01-05' } })));
    const result = evaluateCompliance({
      device: emmDevice({ posture: r.posture, lastCheckIn: r.lastStatusReportTime }),
      policies: [compliance('baseline', { minOsVersion: { android: '13' }, compromised: 'blocked', encryption: 'required' })],
      now: NOW,
    });
    expect(result.failures.map((f) => [f.rule, f.actual])).toEqual([['minOsVersion', '12'], ['compromised', 'rooted']]);
  });
});

describe('readDevice: nonComplianceDetails', () => {
  it('turns each detail into a failure naming the emmctl Policy that supplied the setting', () => {
    const body = valid(amapiDevice({
      policyCompliant: false,
      nonComplianceDetails: [
        { settingName: 'passwordPolicies', nonComplianceReason: 'USER_ACTION', specificNonComplianceReason: 'PASSWORD_POLICIES_PASSWORD_NOT_SUFFICIENT' },
        { settingName: 'applications', nonComplianceReason: 'APP_NOT_INSTALLED', packageName: 'com.microsoft.teams', installationFailureReason: 'NOT_APPROVED' },
        { settingName: 'deviceConnectivityManagement', fieldPath: 'usbDataAccess', nonComplianceReason: 'API_LEVEL' },
        { settingName: 'openNetworkConfiguration', nonComplianceReason: 'PENDING' },
      ],
    }));
    const r = readDevice(body, { sources: { passcode: 'android-baseline', apps: 'android-apps, sales-apps' } });
    expect(r.failures).toEqual([
      { policy: 'android-baseline', rule: ANDROID_POLICY_RULE, expected: 'passcode applied (AMAPI passwordPolicies)', actual: 'not applied: USER_ACTION, waiting for the user to act (PASSWORD_POLICIES_PASSWORD_NOT_SUFFICIENT)' },
      { policy: 'android-apps, sales-apps', rule: ANDROID_POLICY_RULE, expected: 'apps applied (AMAPI applications for com.microsoft.teams)', actual: 'not applied: APP_NOT_INSTALLED, the app it needs is not installed (NOT_APPROVED)' },
      // USB access is set by emmctl itself when no Policy sets it: the AMAPI policy is named instead.
      { policy: 'emmctl-r1-fm-0123456789abcdef', rule: ANDROID_POLICY_RULE, expected: 'usbFileTransfer applied (AMAPI deviceConnectivityManagement (usbDataAccess))', actual: 'not applied: API_LEVEL, not supported by the Android version on the device' },
    ]);
    expect(r.pending).toEqual(['openNetworkConfiguration']);
  });

  it('passes a reason it does not know through as Google sent it', () => {
    const r = readDevice(amapiDevice({ nonComplianceDetails: [{ settingName: 'kioskCustomization', nonComplianceReason: 'SOME_NEW_REASON' }] }));
    expect(r.failures).toEqual([{ policy: 'emmctl-r1-fm-0123456789abcdef', rule: ANDROID_POLICY_RULE, expected: 'kioskCustomization applied (AMAPI kioskCustomization)', actual: 'not applied: SOME_NEW_REASON' }]);
  });

  it(`keeps at most ${AMAPI_DEVICE_LIMITS.failures} failures and counts the rest in one`, () => {
    const details = Array.from({ length: 250 }, (_, i) => ({ settingName: 'applications', nonComplianceReason: 'APP_NOT_INSTALLED', packageName: `com.app.n${i}` }));
    const r = readDevice(valid(amapiDevice({ nonComplianceDetails: details })));
    expect(r.failures).toHaveLength(AMAPI_DEVICE_LIMITS.failures + 1);
    expect(r.failures.at(-1)).toEqual({ policy: 'emmctl-r1-fm-0123456789abcdef', rule: ANDROID_POLICY_RULE, expected: 'every setting applied', actual: '150 more settings not applied (not listed)' });
  });
});

describe('readDevice: a device is a stranger', () => {
  it('refuses a body that is not a device, or a name not of the form enterprises/E/devices/D', () => {
    expect(refused(null).message).toBe('Android Management API: device must be an object');
    expect(refused([]).message).toBe('Android Management API: device must be an object');
    expect(refused(amapiDevice({ name: undefined })).message).toBe('Android Management API: device.name must be enterprises/{enterpriseId}/devices/{deviceId}');
    expect(refused(amapiDevice({ name: `${ENTERPRISE}/devices/a/b` })).message).toContain('device.name must be');
    expect(refused(amapiDevice({ name: `${ENTERPRISE}/devices/${'x'.repeat(600)}` })).message).toBe(`Android Management API: device.name is too long: more than ${AMAPI_DEVICE_LIMITS.resourceName} characters`);
  });

  it('refuses wrong types, naming the field', () => {
    const name = `device ${ENTERPRISE}/devices/3a8f20c1b7d4e5f6`;
    expect(refused(amapiDevice({ softwareInfo: { androidVersion: 14 } })).message).toBe(`Android Management API: ${name}: softwareInfo.androidVersion must be a string`);
    expect(refused(amapiDevice({ deviceSettings: { isEncrypted: 'true', isDeviceSecure: true } })).message).toBe(`Android Management API: ${name}: deviceSettings.isEncrypted must be true or false`);
    expect(refused(amapiDevice({ applicationReports: {} })).message).toBe(`Android Management API: ${name}: applicationReports must be an array`);
    expect(refused(amapiDevice({ applicationReports: ['com.x'] })).message).toBe(`Android Management API: ${name}: applicationReports[0] must be an object`);
    expect(refused(amapiDevice({ ownership: 'company owned' })).message).toBe(`Android Management API: ${name}: ownership must be an enum value (capital letters, digits, "_")`);
    expect(refused(amapiDevice({ nonComplianceDetails: [{ settingName: ['x'] }] })).message).toBe(`Android Management API: ${name}: nonComplianceDetails[0].settingName must be a string`);
    expect(refused(amapiDevice({ lastStatusReportTime: 'yesterday' })).message).toBe(`Android Management API: ${name}: lastStatusReportTime must be an RFC 3339 timestamp (got "yesterday")`);
    expect(refused(amapiDevice({ appliedPolicyVersion: '3a' })).message).toBe(`Android Management API: ${name}: appliedPolicyVersion must be an int64 as a decimal string`);
  });

  it('bounds every posture field as an agent\'s check-in is bounded (code points, not UTF-16 units)', () => {
    const long = '😀'.repeat(DEVICE_LIMITS.osVersion + 1);
    expect(refused(amapiDevice({ softwareInfo: { androidVersion: long } })).message).toContain(`softwareInfo.androidVersion is too long: more than ${DEVICE_LIMITS.osVersion} characters`);
    expect(readDevice(amapiDevice({ softwareInfo: { androidVersion: '😀'.repeat(DEVICE_LIMITS.osVersion) } })).posture?.osVersion).toHaveLength(DEVICE_LIMITS.osVersion * 2);
    expect(refused(amapiDevice({ hardwareInfo: { model: 'm'.repeat(DEVICE_LIMITS.model + 1) } })).message).toContain('hardwareInfo.model is too long');
    const many = Array.from({ length: DEVICE_LIMITS.installedApps + 1 }, (_, i) => ({ packageName: `com.app.n${i}`, state: 'INSTALLED' }));
    expect(refused(amapiDevice({ applicationReports: many })).message).toContain(`installedApps has ${DEVICE_LIMITS.installedApps + 1} entries, at most ${DEVICE_LIMITS.installedApps}`);
    const flood = Array.from({ length: AMAPI_DEVICE_LIMITS.applicationReports + 1 }, () => ({ packageName: 'com.x.y', state: 'REMOVED' }));
    expect(refused(amapiDevice({ applicationReports: flood })).message).toContain(`applicationReports has ${AMAPI_DEVICE_LIMITS.applicationReports + 1} entries`);
  });

  it('applies the agent\'s own rules to what the posture stores: patch level a real date, serial not an id in disguise', () => {
    expect(refused(amapiDevice({ softwareInfo: { androidVersion: '14', securityPatchLevel: '2026-02-30' } })).message).toContain('patchLevel must be a real calendar date');
    expect(refused(amapiDevice({ hardwareInfo: { serialNumber: 'dev_0123456789abcdef' } })).message).toContain('has the shape of a device id');
    expect(refused(amapiDevice({ hardwareInfo: { serialNumber: 'SN\u001b[2J' } })).message).toContain('control character');
  });

  it('never fails in any other way on junk: seeded random mutations of a real device are read or refused as protocol errors', () => {
    const random = mulberry32(20260301);
    const junk = [null, 0, -1, 1e308, '', 'x'.repeat(300), true, [], {}, [1, 'a'], { nested: { deep: [null] } }, 'ACTIVE', '2026-02-05'];
    const paths = [
      ['name'], ['state'], ['ownership'], ['managementMode'], ['appliedPolicyName'], ['appliedPolicyVersion'], ['lastStatusReportTime'], ['enrollmentTokenData'],
      ['softwareInfo'], ['softwareInfo', 'androidVersion'], ['softwareInfo', 'securityPatchLevel'], ['hardwareInfo'], ['hardwareInfo', 'serialNumber'], ['hardwareInfo', 'model'],
      ['deviceSettings'], ['deviceSettings', 'isEncrypted'], ['deviceSettings', 'isDeviceSecure'], ['deviceSettings', 'encryptionStatus'], ['securityPosture'], ['securityPosture', 'devicePosture'],
      ['applicationReports'], ['nonComplianceDetails'],
    ];
    let read = 0;
    let refusedCount = 0;
    for (let i = 0; i < 400; i++) {
      const body = amapiDevice({ nonComplianceDetails: [{ settingName: 'applications', nonComplianceReason: 'APP_INSTALLED', packageName: 'com.bad' }] });
      for (let k = 0; k < 1 + Math.floor(random() * 3); k++) {
        const path = paths[Math.floor(random() * paths.length)]!;
        let node = body as Record<string, unknown>;
        for (const p of path.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
        if (typeof node === 'object' && node !== null) node[path.at(-1)!] = junk[Math.floor(random() * junk.length)];
      }
      try {
        const r = readDevice(body);
        read++;
        if (r.posture) expect(typeof r.posture.osVersion).toBe('string');
      } catch (e) {
        expect(e, String(e)).toBeInstanceOf(BackendError);
        expect((e as BackendError).code).toBe('protocol');
        refusedCount++;
      }
    }
    // Both branches were exercised, so the loop tested something.
    expect(read).toBeGreaterThan(0);
    expect(refusedCount).toBeGreaterThan(0);
  });
});
