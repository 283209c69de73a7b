// An Android Management API Device (devices.get / devices.list / a STATUS_REPORT notification)
// as what emmctl judges: the posture an emmctl agent would report, and the settings Android
// Device Policy says it could not apply. Google relays what the device says, so this is device
// input like any other: every field is type-checked and bounded by the same rules as an agent's
// check-in (parsePosture, src/model/device-limits.ts), and anything out of shape is refused whole
// with the field named, never stored in part.
//
// Mapping (docs/android.md, "Posture"):
//   softwareInfo.androidVersion      → osVersion
//   softwareInfo.securityPatchLevel  → patchLevel
//   hardwareInfo.model               → model
//   hardwareInfo.serialNumber        → serial (company-owned only: on a personal device it is the
//                                      enterprise-specific id, not the serial an admin would list)
//   deviceSettings.isEncrypted       → encrypted (encryptionStatus ACTIVE* when isEncrypted is absent)
//   deviceSettings.isDeviceSecure    → passcodeSet
//   securityPosture.devicePosture    → compromised (AT_RISK and POTENTIALLY_COMPROMISED are; SECURE is not)
//   applicationReports[INSTALLED]    → installedApps
//   appliedPolicyName (ours)         → appliedConfigVersion (the id carries the configuration hash)
//   nonComplianceDetails             → failures (rule androidPolicy), PENDING ones apart
// A posture field the device has not reported leaves posture undefined and is named in `missing`:
// judging a device on a guessed "not encrypted" or "no apps" would fire escalations (lock,
// retire) at a device that did nothing wrong; compliance says `unknown` instead.
import { BackendError } from '../../errors.js';
import { DEVICE_LIMITS, parsePosture } from '../../model/device-limits.js';
import type { Posture, RuleFailure } from '../../model/fleet.js';
import { parsePolicyId, type AndroidDeviceMode } from './compile.js';

/** The rule name of the failures that come from AMAPI's own nonComplianceDetails. */
export const ANDROID_POLICY_RULE = 'androidPolicy';

/** Bounds on the AMAPI-only fields (the posture fields use DEVICE_LIMITS). */
export const AMAPI_DEVICE_LIMITS = {
  /** enterprises/E/devices/D, policy and token names. */
  resourceName: 512,
  /** applicationReports entries (installed and removed). */
  applicationReports: DEVICE_LIMITS.installedApps * 2,
  /** nonComplianceDetails turned into failures; the rest are counted in one more. */
  failures: 100,
  /** settingName, fieldPath, enum values. */
  text: 256,
  enrollmentTokenData: 4096,
} as const;

export interface AndroidDeviceReport {
  /** enterprises/E/devices/D. */
  name: string;
  /** Undefined when ownership or managementMode is absent or not a combination AMAPI has. */
  mode?: AndroidDeviceMode;
  /** AMAPI's device state (ACTIVE, DISABLED, PROVISIONING, LOST, ...). */
  state?: string;
  /** What emmctl judges; undefined while any field in `missing` has not been reported. */
  posture?: Posture;
  /** AMAPI fields that posture needs and the device has not reported. */
  missing: string[];
  /** The last status report, ISO-8601; the device's last check-in. */
  lastStatusReportTime?: string;
  appliedPolicy?: { name: string; version?: string };
  policyName?: string;
  enrollmentTokenName?: string;
  enrollmentTokenData?: string;
  /** AMAPI's nonComplianceDetails other than PENDING, as rule failures. */
  failures: RuleFailure[];
  /** Settings AMAPI expects to apply shortly (PENDING): not failures yet. */
  pending: string[];
}

export interface ReadDeviceOptions {
  /**
   * The device's effective configuration sources (EffectiveConfiguration.sources): a failure
   * names the emmctl Policy that supplied the setting. Without it, the AMAPI policy id.
   */
  sources?: Record<string, string>;
}

// AMAPI top-level Policy fields emmctl writes → the emmctl setting compiled into them.
const SETTING_OF_FIELD: Record<string, string> = {
  passwordPolicies: 'passcode',
  maximumTimeToLock: 'screenLock',
  encryptionPolicy: 'encryption',
  cameraAccess: 'camera',
  screenCaptureDisabled: 'screenCapture',
  bluetoothDisabled: 'bluetooth',
  deviceConnectivityManagement: 'usbFileTransfer',
  applications: 'apps',
  alwaysOnVpnPackage: 'vpn',
  openNetworkConfiguration: 'wifi',
  systemUpdate: 'osUpdates',
};

// Said in words for the failure's `actual`; values not listed (newer ones) show as sent.
const REASON_TEXT: Record<string, string> = {
  API_LEVEL: 'not supported by the Android version on the device',
  MANAGEMENT_MODE: 'not supported in the device\'s management mode',
  USER_ACTION: 'waiting for the user to act',
  INVALID_VALUE: 'the value is invalid',
  APP_NOT_INSTALLED: 'the app it needs is not installed',
  UNSUPPORTED: 'not supported by the Android Device Policy version on the device',
  APP_INSTALLED: 'a blocked app is installed',
  APP_INCOMPATIBLE: 'the app does not support it',
  APP_NOT_UPDATED: 'the app is not updated to the required version',
  DEVICE_INCOMPATIBLE: 'the device does not meet its requirements',
  APP_SIGNING_CERT_MISMATCH: 'the app\'s signing certificate does not match',
  PROJECT_NOT_PERMITTED: 'the Google Cloud project may not use it',
};

const OWNERSHIP: Record<string, AndroidDeviceMode['ownership']> = { COMPANY_OWNED: 'corporate', PERSONALLY_OWNED: 'personal' };
const MANAGEMENT: Record<string, AndroidDeviceMode['managementMode']> = { DEVICE_OWNER: 'fully-managed', PROFILE_OWNER: 'work-profile' };
const DEVICE_NAME = /^enterprises\/[^/]+\/devices\/[^/]+$/;
const ENUM_VALUE = /^[A-Z][A-Z0-9_]*$/;

/** The AMAPI Device body as an emmctl report; throws BackendError('protocol') naming the field when it is out of shape. */
export function readDevice(body: unknown, options: ReadDeviceOptions = {}): AndroidDeviceReport {
  const d = object(body, 'device');
  const name = text(d, 'name', 'device.', AMAPI_DEVICE_LIMITS.resourceName);
  if (name === undefined || !DEVICE_NAME.test(name)) throw protocol('device.name must be enterprises/{enterpriseId}/devices/{deviceId}');
  const where = `device ${name}`;
  const top = `${where}: `;
  const report: AndroidDeviceReport = { name, missing: [], failures: [], pending: [] };

  const ownership = enumText(d, 'ownership', top);
  const management = enumText(d, 'managementMode', top);
  const own = ownership === undefined ? undefined : OWNERSHIP[ownership];
  const man = management === undefined ? undefined : MANAGEMENT[management];
  if (own !== undefined && man !== undefined && !(own === 'personal' && man === 'fully-managed')) report.mode = { ownership: own, managementMode: man };
  const state = enumText(d, 'state', top);
  if (state !== undefined) report.state = state;

  for (const key of ['policyName', 'enrollmentTokenName'] as const) {
    const v = text(d, key, top, AMAPI_DEVICE_LIMITS.resourceName);
    if (v !== undefined) report[key] = v;
  }
  const tokenData = text(d, 'enrollmentTokenData', top, AMAPI_DEVICE_LIMITS.enrollmentTokenData);
  if (tokenData !== undefined) report.enrollmentTokenData = tokenData;
  const applied = text(d, 'appliedPolicyName', top, AMAPI_DEVICE_LIMITS.resourceName);
  if (applied !== undefined) {
    const version = text(d, 'appliedPolicyVersion', top, 32);
    if (version !== undefined && !/^[0-9]+$/.test(version)) throw protocol(`${where}: appliedPolicyVersion must be an int64 as a decimal string`);
    report.appliedPolicy = version === undefined ? { name: applied } : { name: applied, version };
  }
  const reported = text(d, 'lastStatusReportTime', top, 64);
  if (reported !== undefined) {
    const t = Date.parse(reported);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(reported) || Number.isNaN(t)) throw protocol(`${where}: lastStatusReportTime must be an RFC 3339 timestamp (got ${JSON.stringify(reported)})`);
    report.lastStatusReportTime = new Date(t).toISOString();
  }

  const raw = rawPosture(d, where, top, report);
  if (report.missing.length === 0) {
    try {
      report.posture = parsePosture(raw, 'posture');
    } catch (e) {
      throw protocol(`${where}: ${(e as Error).message} (from AMAPI ${POSTURE_SOURCE_TEXT})`, e);
    }
  }
  readNonCompliance(d, where, options, report);
  return report;
}

const POSTURE_SOURCE_TEXT = 'softwareInfo, hardwareInfo, deviceSettings, securityPosture, applicationReports, appliedPolicyName';

function rawPosture(d: Record<string, unknown>, where: string, top: string, report: AndroidDeviceReport): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const software = optionalObject(d, 'softwareInfo', top);
  const hardware = optionalObject(d, 'hardwareInfo', top);
  const settings = optionalObject(d, 'deviceSettings', top);
  const security = optionalObject(d, 'securityPosture', top);

  const os = software && text(software, 'androidVersion', `${where}: softwareInfo.`, DEVICE_LIMITS.osVersion);
  if (os) raw.osVersion = os;
  else report.missing.push('softwareInfo.androidVersion');
  const patch = software && text(software, 'securityPatchLevel', `${where}: softwareInfo.`, 10);
  if (patch) raw.patchLevel = patch;
  const model = hardware && text(hardware, 'model', `${where}: hardwareInfo.`, DEVICE_LIMITS.model);
  if (model) raw.model = model;
  const serial = hardware && text(hardware, 'serialNumber', `${where}: hardwareInfo.`, DEVICE_LIMITS.serial);
  if (serial && report.mode?.ownership === 'corporate') raw.serial = serial;

  const encrypted = settings && flag(settings, 'isEncrypted', `${where}: deviceSettings.`);
  const status = settings && enumText(settings, 'encryptionStatus', `${where}: deviceSettings.`);
  if (encrypted !== undefined) raw.encrypted = encrypted;
  else if (status !== undefined && status !== 'ENCRYPTION_STATUS_UNSPECIFIED') raw.encrypted = status.startsWith('ACTIVE') && status !== 'ACTIVATING';
  else report.missing.push('deviceSettings.isEncrypted');
  const secure = settings && flag(settings, 'isDeviceSecure', `${where}: deviceSettings.`);
  if (secure !== undefined) raw.passcodeSet = secure;
  else report.missing.push('deviceSettings.isDeviceSecure');

  const posture = security && enumText(security, 'devicePosture', `${where}: securityPosture.`);
  if (posture === 'SECURE') raw.compromised = false;
  else if (posture === 'AT_RISK' || posture === 'POTENTIALLY_COMPROMISED') raw.compromised = true;
  else report.missing.push('securityPosture.devicePosture');

  const apps = d.applicationReports;
  if (apps === undefined || apps === null) report.missing.push('applicationReports');
  else {
    if (!Array.isArray(apps)) throw protocol(`${where}: applicationReports must be an array`);
    if (apps.length > AMAPI_DEVICE_LIMITS.applicationReports) throw protocol(`${where}: applicationReports has ${apps.length} entries, at most ${AMAPI_DEVICE_LIMITS.applicationReports}`);
    const installed = new Set<string>();
    apps.forEach((a, i) => {
      const app = object(a, `${where}: applicationReports[${i}]`);
      const pkg = text(app, 'packageName', `${where}: applicationReports[${i}].`, DEVICE_LIMITS.appId);
      if (pkg && enumText(app, 'state', `${where}: applicationReports[${i}].`) === 'INSTALLED') installed.add(pkg);
    });
    raw.installedApps = [...installed].sort();
  }

  const applied = report.appliedPolicy && parsePolicyId(report.appliedPolicy.name);
  if (applied) raw.appliedConfigVersion = applied.configurationVersion;
  return raw;
}

function readNonCompliance(d: Record<string, unknown>, where: string, options: ReadDeviceOptions, report: AndroidDeviceReport): void {
  const details = d.nonComplianceDetails;
  if (details === undefined || details === null) return;
  if (!Array.isArray(details)) throw protocol(`${where}: nonComplianceDetails must be an array`);
  const fallbackPolicy = report.appliedPolicy ? report.appliedPolicy.name.slice(report.appliedPolicy.name.lastIndexOf('/') + 1) : 'android-device-policy';
  let dropped = 0;
  details.forEach((x, i) => {
    const at = `${where}: nonComplianceDetails[${i}]`;
    const detail = object(x, at);
    const pre = `${at}.`;
    const setting = text(detail, 'settingName', pre, AMAPI_DEVICE_LIMITS.text) ?? 'unknown setting';
    const fieldPath = text(detail, 'fieldPath', pre, AMAPI_DEVICE_LIMITS.text);
    const pkg = text(detail, 'packageName', pre, DEVICE_LIMITS.appId);
    const reason = enumText(detail, 'nonComplianceReason', pre) ?? 'NON_COMPLIANCE_REASON_UNSPECIFIED';
    const specific = enumText(detail, 'specificNonComplianceReason', pre);
    const install = enumText(detail, 'installationFailureReason', pre);
    const field = `${setting}${fieldPath ? ` (${fieldPath})` : ''}${pkg ? ` for ${pkg}` : ''}`;
    if (reason === 'PENDING') {
      if (report.pending.length < AMAPI_DEVICE_LIMITS.failures) report.pending.push(field);
      return;
    }
    if (report.failures.length >= AMAPI_DEVICE_LIMITS.failures) {
      dropped++;
      return;
    }
    const emmSetting = SETTING_OF_FIELD[setting];
    const policy = (emmSetting && options.sources?.[emmSetting]) || fallbackPolicy;
    const words = REASON_TEXT[reason];
    const extra = [specific && specific !== 'SPECIFIC_NON_COMPLIANCE_REASON_UNSPECIFIED' ? specific : undefined, install && install !== 'INSTALLATION_FAILURE_REASON_UNSPECIFIED' ? install : undefined].filter(Boolean);
    report.failures.push({
      policy,
      rule: ANDROID_POLICY_RULE,
      expected: `${emmSetting ?? setting} applied (AMAPI ${field})`,
      actual: `not applied: ${reason}${words ? `, ${words}` : ''}${extra.length ? ` (${extra.join(', ')})` : ''}`,
    });
  });
  if (dropped > 0) report.failures.push({ policy: fallbackPolicy, rule: ANDROID_POLICY_RULE, expected: 'every setting applied', actual: `${dropped} more settings not applied (not listed)` });
}

function object(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw protocol(`${where} must be an object`);
  return v as Record<string, unknown>;
}

function optionalObject(d: Record<string, unknown>, key: string, where: string): Record<string, unknown> | undefined {
  const v = d[key];
  return v === undefined || v === null ? undefined : object(v, `${where}${key}`);
}

/** A string member bounded to `max` characters; undefined when absent or empty. */
function text(d: Record<string, unknown>, key: string, where: string, max: number): string | undefined {
  const v = d[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw protocol(`${where}${key} must be a string`);
  // Code points, as DEVICE_LIMITS counts them; never more than UTF-16 units, so short strings cost one comparison.
  if (v.length > max) {
    let n = 0;
    for (const _ of v) if (++n > max) throw protocol(`${where}${key} is too long: more than ${max} characters`);
  }
  return v;
}

function enumText(d: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = text(d, key, where, AMAPI_DEVICE_LIMITS.text);
  if (v !== undefined && !ENUM_VALUE.test(v)) throw protocol(`${where}${key} must be an enum value (capital letters, digits, "_")`);
  return v;
}

function flag(d: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw protocol(`${where}${key} must be true or false`);
  return v;
}

function protocol(message: string, cause?: unknown): BackendError {
  return new BackendError('protocol', `Android Management API: ${message}`, { cause });
}
