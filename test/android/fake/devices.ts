// The simulated Android devices behind the fake Google: each one applies the policy it is given
// the way Android Device Policy does and reports the Device resource the Android Management API
// would return. What a device cannot apply becomes a nonComplianceDetail, as on a real phone:
//  - a screen lock weaker than passwordPolicies asks → USER_ACTION (the user must change it);
//  - encryptionPolicy on a device that is not encrypted → USER_ACTION;
//  - a setting newer than the device's Android version → API_LEVEL (from Google's own
//    descriptions, rules.ts); usbDataAccess on a personally owned device → MANAGEMENT_MODE
//    (the field's description: "Supported only on company-owned devices");
//  - a FORCE_INSTALLED app Play does not have, or an always-on VPN app that is not installed →
//    APP_NOT_INSTALLED.
// Apps: FORCE_INSTALLED apps get installed, BLOCKED ones removed, and a playStoreMode other than
// BLACKLIST removes every app the policy does not list (Google's default is the allowlist).
// Reports: softwareInfo, deviceSettings and applicationReports only when the applied policy's
// statusReportingSettings turns them on (without them the fields stay absent, as on Google's
// side); hardwareInfo, securityPosture and the policy fields always.
import { apiLevelViolations } from './rules.js';

export type Rng = () => number;

/** Deterministic numbers in [0, 1) from a seed (mulberry32). */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(r: Rng, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)]!;
}

export function randomId(r: Rng, n: number, alphabet = '0123456789abcdef'): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

export type Quality = 'SOMETHING' | 'NUMERIC' | 'NUMERIC_COMPLEX' | 'ALPHABETIC' | 'ALPHANUMERIC' | 'COMPLEX';
const QUALITY_RANK: Record<string, number> = { BIOMETRIC_WEAK: 0, SOMETHING: 1, NUMERIC: 2, NUMERIC_COMPLEX: 3, ALPHABETIC: 4, ALPHANUMERIC: 5, COMPLEX: 6 };

export interface App {
  packageName: string;
  versionName: string;
  versionCode: number;
  /** preinstalled: part of the system image; user: the user installed it; policy: Android Device Policy did. */
  source: 'preinstalled' | 'user' | 'policy';
}

export interface SimDevice {
  name: string;
  ownership: 'COMPANY_OWNED' | 'PERSONALLY_OWNED';
  managementMode: 'DEVICE_OWNER' | 'PROFILE_OWNER';
  state: 'ACTIVE' | 'DISABLED';
  /** Set by devices.patch and enrollment; the device applies it on its next tick. */
  policyName: string;
  applied?: { name: string; version: string; policy: Record<string, unknown> };
  enrollmentTokenName: string;
  enrollmentTokenData?: string;
  enrollmentTime: string;
  userName: string;
  hardware: { brand: string; manufacturer: string; model: string; hardware: string; serialNumber: string; enterpriseSpecificId: string; imei: string };
  androidVersion: string;
  patchLevel: string;
  encrypted: boolean;
  /** The screen lock the user set; undefined: none (isDeviceSecure false). */
  passcode?: { quality: Quality; length: number };
  compromised: boolean;
  /** Apps in the managed space (the whole device when fully managed, the work profile otherwise). */
  apps: Map<string, App>;
  /** Apps the device removed because a policy said so, reported as REMOVED. */
  removed: Map<string, App>;
  online: boolean;
  nonCompliance: Array<Record<string, unknown>>;
  lastStatusReportTime?: string;
  lastPolicySyncTime?: string;
  /** SoftwareInfo.systemUpdateInfo as of the last policy sync. */
  update?: { updateStatus: string; updateReceivedTime?: string };
}

export const DPC: App = { packageName: 'com.google.android.apps.work.clouddpc', versionName: '112.71.0', versionCode: 11271, source: 'preinstalled' };

const API_LEVEL: Record<string, number> = { '12': 31, '12L': 32, '13': 33, '14': 34, '15': 35, '16': 36 };
const BUILD: Record<string, string> = { '12': 'SQ3A.220705.004', '12L': 'S3B1.220318.001', '13': 'TQ3A.230901.001', '14': 'AP2A.240905.003', '15': 'BP1A.250305.019', '16': 'BP2A.250605.031' };

export function androidMajor(version: string): number {
  const m = /^(\d+)/.exec(version);
  return m ? Number(m[1]) : 0;
}

/** What the catalogue of the fake's Play Store says about a package: undefined when Play does not have it. */
export type Catalogue = (packageName: string) => { versionName: string; versionCode: number } | undefined;

function isManaged(type: unknown): boolean {
  return type === 'FORCE_INSTALLED' || type === 'REQUIRED_FOR_SETUP' || type === 'PREINSTALLED' || type === 'KIOSK';
}

/** Applies `policy` (as stored at Google, version `version`) to the device, the way Android Device Policy does. */
export function applyPolicy(d: SimDevice, name: string, version: string, policy: Record<string, unknown>, catalogue: Catalogue, now: string): void {
  const details: Array<Record<string, unknown>> = [];
  const mode = d.managementMode === 'DEVICE_OWNER' ? 'fully-managed' : 'work-profile';

  const passwords = Array.isArray(policy.passwordPolicies) ? (policy.passwordPolicies as Array<Record<string, unknown>>) : [];
  passwords.forEach((req) => {
    const scope = req.passwordScope ?? 'SCOPE_UNSPECIFIED';
    // A device-scope requirement on a work profile applies to the device lock; both are the one lock here.
    if (mode === 'fully-managed' && scope === 'SCOPE_PROFILE') return;
    const quality = typeof req.passwordQuality === 'string' ? req.passwordQuality : 'PASSWORD_QUALITY_UNSPECIFIED';
    const need = QUALITY_RANK[quality];
    if (need === undefined) return;
    const length = typeof req.passwordMinimumLength === 'number' && QUALITY_RANK[quality]! >= 2 ? req.passwordMinimumLength : 0;
    const have = d.passcode;
    if (!have || QUALITY_RANK[have.quality]! < need || have.length < length) {
      details.push({ settingName: 'passwordPolicies', nonComplianceReason: 'USER_ACTION', specificNonComplianceReason: 'PASSWORD_POLICIES_PASSWORD_NOT_SUFFICIENT' });
    }
  });
  if (typeof policy.encryptionPolicy === 'string' && policy.encryptionPolicy !== 'ENCRYPTION_POLICY_UNSPECIFIED' && !d.encrypted) {
    details.push({ settingName: 'encryptionPolicy', nonComplianceReason: 'USER_ACTION' });
  }
  const usb = (policy.deviceConnectivityManagement as Record<string, unknown> | undefined)?.usbDataAccess;
  if (usb !== undefined && d.ownership === 'PERSONALLY_OWNED') {
    details.push({ settingName: 'deviceConnectivityManagement', fieldPath: 'deviceConnectivityManagement.usbDataAccess', nonComplianceReason: 'MANAGEMENT_MODE' });
  }
  for (const v of apiLevelViolations(policy, androidMajor(d.androidVersion), mode)) {
    details.push({ settingName: v.settingName, fieldPath: v.fieldPath, nonComplianceReason: 'API_LEVEL' });
  }

  const listed = new Map<string, Record<string, unknown>>();
  const apps = Array.isArray(policy.applications) ? (policy.applications as Array<Record<string, unknown>>) : [];
  for (const a of apps) if (typeof a.packageName === 'string') listed.set(a.packageName, a);
  const removeApp = (pkg: string): void => {
    const app = d.apps.get(pkg);
    if (!app || app.source === 'preinstalled') return;
    d.apps.delete(pkg);
    d.removed.set(pkg, app);
  };
  const allowlist = policy.playStoreMode !== 'BLACKLIST';
  for (const pkg of [...d.apps.keys()]) {
    const entry = listed.get(pkg);
    if (entry?.installType === 'BLOCKED' || (allowlist && entry === undefined)) removeApp(pkg);
  }
  apps.forEach((a, i) => {
    if (!isManaged(a.installType) || typeof a.packageName !== 'string' || d.apps.has(a.packageName)) return;
    const found = catalogue(a.packageName);
    if (!found) {
      details.push({ settingName: 'applications', fieldPath: `applications[${i}]`, packageName: a.packageName, nonComplianceReason: 'APP_NOT_INSTALLED', installationFailureReason: 'NOT_FOUND' });
      return;
    }
    d.removed.delete(a.packageName);
    d.apps.set(a.packageName, { packageName: a.packageName, ...found, source: 'policy' });
  });
  const vpn = policy.alwaysOnVpnPackage as Record<string, unknown> | undefined;
  if (vpn && typeof vpn.packageName === 'string' && !d.apps.has(vpn.packageName)) {
    details.push({ settingName: 'alwaysOnVpnPackage', packageName: vpn.packageName, nonComplianceReason: 'APP_NOT_INSTALLED' });
  }
  d.applied = { name, version, policy };
  d.nonCompliance = details;
  d.lastPolicySyncTime = now;
  // A patch level two months or more behind means the maker has shipped a security update since.
  const [y, m] = d.patchLevel.split('-').map(Number) as [number, number];
  const t = new Date(now);
  const lag = (t.getUTCFullYear() - y) * 12 + (t.getUTCMonth() + 1 - m);
  d.update = lag >= 2 ? { updateStatus: 'SECURITY_UPDATE_AVAILABLE', updateReceivedTime: new Date(Date.UTC(y, m, 5)).toISOString() } : { updateStatus: 'UP_TO_DATE' };
}

/** The Device resource as devices.get answers it (a fresh object). */
export function deviceResource(d: SimDevice): Record<string, unknown> {
  const policy = d.applied?.policy ?? {};
  const reporting = (policy.statusReportingSettings ?? {}) as Record<string, unknown>;
  const company = d.ownership === 'COMPANY_OWNED';
  const out: Record<string, unknown> = {
    name: d.name,
    managementMode: d.managementMode,
    state: d.state,
    appliedState: d.state,
    ownership: d.ownership,
    policyName: d.policyName,
    apiLevel: API_LEVEL[d.androidVersion] ?? 30 + androidMajor(d.androidVersion) - 11,
    enrollmentTime: d.enrollmentTime,
    enrollmentTokenName: d.enrollmentTokenName,
    userName: d.userName,
    hardwareInfo: {
      brand: d.hardware.brand,
      hardware: d.hardware.hardware,
      manufacturer: d.hardware.manufacturer,
      // A personally owned device does not reveal its serial: the enterprise-specific id takes its place.
      serialNumber: company ? d.hardware.serialNumber : d.hardware.enterpriseSpecificId,
      model: d.hardware.model,
      enterpriseSpecificId: d.hardware.enterpriseSpecificId,
    },
    securityPosture: d.compromised
      ? { devicePosture: 'POTENTIALLY_COMPROMISED', postureDetails: [{ securityRisk: 'COMPROMISED_OS', advice: [{ defaultMessage: 'The device fails Play Integrity\'s basic integrity check.' }] }] }
      : { devicePosture: 'SECURE', postureDetails: [] },
    previousDeviceNames: [],
  };
  if (d.enrollmentTokenData !== undefined) out.enrollmentTokenData = d.enrollmentTokenData;
  if (d.applied) {
    out.appliedPolicyName = d.applied.name;
    out.appliedPolicyVersion = d.applied.version;
    out.nonComplianceDetails = d.nonCompliance.map((x) => ({ ...x }));
    out.policyCompliant = d.nonCompliance.length === 0;
    // What the device enforces: the requirements for its own mode (a fully managed device has no work profile lock).
    const applied = (Array.isArray(policy.passwordPolicies) ? (policy.passwordPolicies as Array<Record<string, unknown>>) : []).filter((r) => !(d.managementMode === 'DEVICE_OWNER' && r.passwordScope === 'SCOPE_PROFILE'));
    if (applied.length) out.appliedPasswordPolicies = applied.map((r) => ({ ...r }));
  }
  if (d.lastStatusReportTime) out.lastStatusReportTime = d.lastStatusReportTime;
  if (d.lastPolicySyncTime) {
    out.lastPolicySyncTime = d.lastPolicySyncTime;
    out.lastPolicyComplianceReportTime = d.lastPolicySyncTime;
  }
  if (reporting.softwareInfoEnabled === true) {
    out.softwareInfo = {
      androidVersion: d.androidVersion,
      androidDevicePolicyVersionCode: DPC.versionCode,
      androidDevicePolicyVersionName: DPC.versionName,
      androidBuildNumber: BUILD[d.androidVersion] ?? 'UNKNOWN',
      securityPatchLevel: d.patchLevel,
      primaryLanguageCode: 'en-US',
      systemUpdateInfo: { ...(d.update ?? { updateStatus: 'UPDATE_STATUS_UNKNOWN' }) },
    };
  }
  if (reporting.deviceSettingsEnabled === true) {
    out.deviceSettings = {
      isDeviceSecure: d.passcode !== undefined,
      unknownSourcesEnabled: false,
      developmentSettingsEnabled: false,
      adbEnabled: false,
      isEncrypted: d.encrypted,
      encryptionStatus: d.encrypted ? 'ACTIVE_PER_USER' : 'INACTIVE',
      verifyAppsEnabled: true,
    };
  }
  if (reporting.applicationReportsEnabled === true) {
    const report = (a: App, state: 'INSTALLED' | 'REMOVED'): Record<string, unknown> => ({
      packageName: a.packageName,
      versionName: a.versionName,
      versionCode: a.versionCode,
      state,
            // Android Device Policy itself comes from Play during provisioning, like every app it installs.
      applicationSource: a.source === 'preinstalled' && a !== DPC ? 'SYSTEM_APP_FACTORY_VERSION' : 'INSTALLED_FROM_PLAY_STORE',
      ...(a.source === 'preinstalled' && a !== DPC ? {} : { installerPackageName: 'com.android.vending' }),
      userFacingType: a.packageName === DPC.packageName ? 'NOT_USER_FACING' : 'USER_FACING',
    });
    out.applicationReports = [
      ...[...d.apps.values()].sort((a, b) => a.packageName.localeCompare(b.packageName)).map((a) => report(a, 'INSTALLED')),
      ...[...d.removed.values()].sort((a, b) => a.packageName.localeCompare(b.packageName)).map((a) => report(a, 'REMOVED')),
    ];
  }
  if (reporting.networkInfoEnabled === true) out.networkInfo = company ? { imei: d.hardware.imei, networkOperatorName: 'Carrier' } : { networkOperatorName: 'Carrier' };
  if (reporting.memoryInfoEnabled === true) out.memoryInfo = { totalRam: '8589934592', totalInternalStorage: '137438953472' };
  return out;
}

export interface Model { brand: string; manufacturer: string; model: string; hardware: string; from: number; to: number }

const MODELS: readonly Model[] = [
  { brand: 'google', manufacturer: 'Google', model: 'Pixel 6a', hardware: 'bluejay', from: 12, to: 15 },
  { brand: 'google', manufacturer: 'Google', model: 'Pixel 7', hardware: 'panther', from: 13, to: 15 },
  { brand: 'google', manufacturer: 'Google', model: 'Pixel 8 Pro', hardware: 'husky', from: 14, to: 15 },
  { brand: 'google', manufacturer: 'Google', model: 'Pixel 9', hardware: 'tokay', from: 14, to: 15 },
  { brand: 'samsung', manufacturer: 'samsung', model: 'SM-S911B', hardware: 'qcom', from: 13, to: 15 },
  { brand: 'samsung', manufacturer: 'samsung', model: 'SM-A536B', hardware: 's5e8825', from: 12, to: 14 },
  { brand: 'samsung', manufacturer: 'samsung', model: 'SM-S921B', hardware: 's5e9945', from: 14, to: 15 },
  { brand: 'motorola', manufacturer: 'motorola', model: 'moto g84 5G', hardware: 'qcom', from: 13, to: 14 },
  { brand: 'Nokia', manufacturer: 'HMD Global', model: 'Nokia G21', hardware: 'ums512', from: 12, to: 13 },
];

const USER_APPS: readonly App[] = [
  { packageName: 'com.android.chrome', versionName: '131.0.6778.81', versionCode: 677808133, source: 'user' },
  { packageName: 'com.google.android.gm', versionName: '2024.11.10.698794130', versionCode: 64925447, source: 'user' },
  { packageName: 'com.microsoft.teams', versionName: '1416/1.0.0.2024', versionCode: 2024040101, source: 'user' },
  { packageName: 'com.whatsapp', versionName: '2.24.23.78', versionCode: 242378004, source: 'user' },
  { packageName: 'com.spotify.music', versionName: '8.9.96.476', versionCode: 125270042, source: 'user' },
  { packageName: 'com.Slack', versionName: '24.11.20.0', versionCode: 241120, source: 'user' },
  { packageName: 'com.king.candycrushsaga', versionName: '1.290.0.1', versionCode: 1290001, source: 'user' },
  { packageName: 'com.google.android.apps.maps', versionName: '11.155.0101', versionCode: 1115501, source: 'user' },
];

/** Play's catalogue in the fake: every package except those a test says Play does not have. */
export function catalogue(missing: ReadonlySet<string>): Catalogue {
  return (pkg) => {
    if (missing.has(pkg)) return undefined;
    const known = USER_APPS.find((a) => a.packageName === pkg);
    if (known) return { versionName: known.versionName, versionCode: known.versionCode };
    let h = 7;
    for (const c of pkg) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return { versionName: `${1 + (h % 9)}.${h % 50}.${h % 7}`, versionCode: 1000 + (h % 900000) };
  };
}

export interface Hardware {
  androidVersion: string;
  patchLevel: string;
  model: Model;
  encrypted: boolean;
  passcode?: { quality: Quality; length: number };
  compromised: boolean;
  apps: App[];
}

/**
 * One device of a realistic mix: Android 12–15 weighted towards the newer ones, patch levels
 * that lag the release by up to a year (more on older versions), nearly always encrypted (every
 * Android 10+ phone ships so), most with a screen lock of varying strength, a few compromised,
 * and some user apps.
 */
export function realisticHardware(r: Rng, now: Date): Hardware {
  const x = r();
  const androidVersion = x < 0.15 ? '12' : x < 0.4 ? '13' : x < 0.75 ? '14' : '15';
  const major = Number(androidVersion);
  const models = MODELS.filter((m) => m.from <= major && m.to >= major);
  const lagMonths = Math.floor(r() * (major >= 15 ? 4 : major === 14 ? 8 : 14));
  const patch = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - lagMonths, 1));
  const patchLevel = `${patch.getUTCFullYear()}-${String(patch.getUTCMonth() + 1).padStart(2, '0')}-${r() < 0.5 ? '01' : '05'}`;
  const lock = r();
  const passcode: Hardware['passcode'] = lock < 0.1 ? undefined
    : lock < 0.2 ? { quality: 'SOMETHING', length: 4 }
    : lock < 0.45 ? { quality: 'NUMERIC', length: 4 }
    : lock < 0.8 ? { quality: 'NUMERIC_COMPLEX', length: 6 }
    : { quality: 'ALPHANUMERIC', length: 10 };
  const hw: Hardware = {
    androidVersion,
    patchLevel,
    model: pick(r, models),
    encrypted: r() > 0.02,
    compromised: r() < 0.03,
    apps: USER_APPS.filter(() => r() < 0.4),
  };
  if (passcode) hw.passcode = passcode;
  return hw;
}

/** A well-kept current phone: what enroll() gives when the test names nothing. */
export function standardHardware(now: Date): Hardware {
  const patch = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 5));
  return {
    androidVersion: '14',
    patchLevel: `${patch.getUTCFullYear()}-${String(patch.getUTCMonth() + 1).padStart(2, '0')}-05`,
    model: MODELS[2]!,
    encrypted: true,
    passcode: { quality: 'ALPHANUMERIC', length: 10 },
    compromised: false,
    apps: [USER_APPS[0]!, USER_APPS[1]!],
  };
}

export function modelByName(name: string): Model {
  return MODELS.find((m) => m.model === name) ?? { brand: 'generic', manufacturer: 'Generic', model: name, hardware: 'generic', from: 12, to: 15 };
}
