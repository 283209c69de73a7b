// One device's effective configuration (every Policy of its groups, merged by
// src/compliance/merge.ts) as one Android Management API Policy. AMAPI has no groups and no
// priorities: each device names exactly one policy, so emmctl compiles one policy per distinct
// (configuration, device mode) and names it from the configuration's hash. Pure: no I/O, no clock.
//
// The rules (docs/android.md, "Mapping", is the table for people):
//  - Only the settings given are managed. Where AMAPI's default for an absent field is a
//    restriction, the compiled policy says "unrestricted" explicitly: playStoreMode BLACKLIST (the
//    default uninstalls every app the policy does not list) and, on company-owned devices,
//    usbDataAccess ALLOW_USB_DATA_TRANSFER (the default is DISALLOW_USB_FILE_TRANSFER).
//  - Every compiled policy turns on the status reports posture is read from (software info,
//    device settings, application reports); without them the posture fields stay empty.
//  - A setting AMAPI cannot express, cannot apply in the device's mode, or whose value cannot be
//    sent as written is never dropped in silence: it is listed in `unmappable` with its path, the
//    reason and a rule id, and left out of the policy (a network or app left out whole rather
//    than sent weaker: a WPA3 network is not configured as WPA2).
//  - A limit of a management mode is reported here only where Google's discovery document states
//    it (USB data access: company-owned devices only); elsewhere the device reports
//    MANAGEMENT_MODE / API_LEVEL non-compliance at run time, which posture.ts turns into failures.
//  - `mapped` records, for every setting given, the AMAPI field it went to (or null when AMAPI's
//    own default already means it), so a test can prove nothing was neither mapped nor reported.
// Secrets: the Wi-Fi pre-shared keys come in `wifiPassphrases` (resolved from the stored secret
// by the caller) and go only into the policy body; no reason, path or id carries one, and the
// policy id hashes the configuration version, which emmctl computes over secret digests.
import { createHash } from 'node:crypto';
import type { EffectiveConfiguration } from '../../model/requests.js';
import type { Ownership, WifiNetwork } from '../../model/policy.generated.js';
import type { AmapiPolicy, ApplicationPolicy, OncWifiNetwork, PasswordQuality, PasswordRequirements } from './amapi-types.js';

export type AndroidManagementMode = 'fully-managed' | 'work-profile';

/** How Android Device Policy manages the device; AMAPI's fully managed devices are company-owned. */
export interface AndroidDeviceMode {
  ownership: Ownership;
  managementMode: AndroidManagementMode;
}

export interface CompileInput {
  /** The device's effective configuration; `version` is emmctl's hash of it (secret digests, never values). */
  configuration: EffectiveConfiguration;
  mode: AndroidDeviceMode;
  /** Resolved pre-shared keys of the personal-mode Wi-Fi networks, by SSID. Placed in the body only. */
  wifiPassphrases?: ReadonlyMap<string, string>;
}

export type UnmappableRule =
  /** AMAPI has no field for it. */
  | 'android/unmappable'
  /** AMAPI has the field, but not for this ownership or management mode. */
  | 'android/management-mode'
  /** The value cannot be sent as written (not an Android package name, no or a malformed Wi-Fi key). */
  | 'android/invalid-value'
  /** A setting this compiler does not know (a newer schema): not sent. */
  | 'android/unknown-setting';

export interface UnmappableSetting {
  /** emmctl setting path: `osUpdates.window.days`, `wifi[Corp]`, `apps.required[com.x]`. */
  path: string;
  reason: string;
  ruleId: UnmappableRule;
}

export interface MappedSetting {
  /** emmctl setting path, as in UnmappableSetting. */
  path: string;
  /** AMAPI field path in the compiled policy, or null when AMAPI's default for an absent field already means it. */
  field: string | null;
}

export interface CompiledPolicy {
  /** The policy id (enterprises/E/policies/<id>): see policyIdFor. */
  policyId: string;
  policy: AmapiPolicy;
  mapped: MappedSetting[];
  unmappable: UnmappableSetting[];
}

/**
 * Bumped whenever the mapping changes what a configuration compiles to, so that every device
 * moves to a policy compiled by the new rules instead of keeping one under the same name.
 */
export const COMPILER_REVISION = 1;

const MODE_CODE = { 'corporate/fully-managed': 'fm', 'corporate/work-profile': 'wpc', 'personal/work-profile': 'wpp' } as const;
type ModeCode = (typeof MODE_CODE)[keyof typeof MODE_CODE];
const CODE_MODE: Record<ModeCode, AndroidDeviceMode> = {
  fm: { ownership: 'corporate', managementMode: 'fully-managed' },
  wpc: { ownership: 'corporate', managementMode: 'work-profile' },
  wpp: { ownership: 'personal', managementMode: 'work-profile' },
};

// The discovery document's only rule for a policy id is the path pattern (no "/"). Lower-case
// letters, digits and hyphens, starting with a letter, fit any stricter rule Google may apply
// and never spell "default", the enterprise's fallback policy.
const POLICY_ID = /^emmctl-r([1-9][0-9]{0,5})-(fm|wpc|wpp)-([0-9a-f]{16})$/;

/** `emmctl-r<revision>-<mode>-<configuration version>`: equal configurations in one mode share a policy. */
export function policyIdFor(configurationVersion: string, mode: AndroidDeviceMode): string {
  if (!/^[0-9a-f]{16}$/.test(configurationVersion)) throw new Error(`configuration version must be 16 hex digits (got ${JSON.stringify(configurationVersion)})`);
  return `emmctl-r${COMPILER_REVISION}-${modeCode(mode)}-${configurationVersion}`;
}

/** What a policy id (or full policy name) of ours says; undefined for any other policy. */
export function parsePolicyId(nameOrId: string): { revision: number; mode: AndroidDeviceMode; configurationVersion: string } | undefined {
  const id = nameOrId.slice(nameOrId.lastIndexOf('/') + 1);
  if (nameOrId.includes('/') && !/^enterprises\/[^/]+\/policies\/[^/]+$/.test(nameOrId)) return undefined;
  const m = POLICY_ID.exec(id);
  if (!m) return undefined;
  return { revision: Number(m[1]), mode: { ...CODE_MODE[m[2] as ModeCode] }, configurationVersion: m[3]! };
}

/** enterprises/<enterprise>/policies/<id>. */
export function policyName(enterprise: string, policyId: string): string {
  return `${enterprise.replace(/\/+$/, '')}/policies/${policyId}`;
}

function modeCode(mode: AndroidDeviceMode): ModeCode {
  const code = (MODE_CODE as Record<string, ModeCode | undefined>)[`${mode.ownership}/${mode.managementMode}`];
  if (code === undefined) throw new Error(`no Android device is ${mode.ownership} and ${mode.managementMode} (AMAPI's fully managed devices are company-owned)`);
  return code;
}

const QUALITY: Record<string, PasswordQuality> = {
  any: 'SOMETHING',
  numeric: 'NUMERIC',
  'numeric-complex': 'NUMERIC_COMPLEX',
  alphabetic: 'ALPHABETIC',
  alphanumeric: 'ALPHANUMERIC',
  complex: 'COMPLEX',
};
// Android counts a minimum length only for these qualities (PasswordRequirements.passwordMinimumLength).
const LENGTH_ENFORCED = new Set<PasswordQuality>(['NUMERIC', 'NUMERIC_COMPLEX', 'ALPHABETIC', 'ALPHANUMERIC', 'COMPLEX']);

/** Policy.applications holds at most this many entries (discovery document). */
export const MAX_APPLICATIONS = 3000;
// Android package names: two or more dot-separated segments, each a letter then letters, digits, "_".
const PACKAGE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/;
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const TOGGLES = new Set(['camera', 'screenCapture', 'usbFileTransfer', 'bluetooth']);

export function compilePolicy(input: CompileInput): CompiledPolicy {
  const { configuration, mode } = input;
  const policyId = policyIdFor(configuration.version, mode);
  const companyOwned = mode.ownership === 'corporate';
  const s = configuration.settings;
  const policy: AmapiPolicy = {
    statusReportingSettings: { softwareInfoEnabled: true, deviceSettingsEnabled: true, applicationReportsEnabled: true },
    playStoreMode: 'BLACKLIST',
  };
  const mapped: MappedSetting[] = [];
  const unmappable: UnmappableSetting[] = [];
  const map = (path: string, field: string | null) => mapped.push({ path, field });
  const report = (path: string, ruleId: UnmappableRule, reason: string) => unmappable.push({ path, reason, ruleId });
  const unknownMembers = (top: string, value: Record<string, unknown>, known: readonly string[]) => {
    for (const k of Object.keys(value)) if (value[k] !== undefined && !known.includes(k)) report(`${top}.${k}`, 'android/unknown-setting', `emmctl ${top}.${k} is not known to the Android compiler (revision ${COMPILER_REVISION}); not sent`);
  };

  for (const key of Object.keys(s)) {
    const value = s[key];
    if (value === undefined) continue;
    // A toggle value a newer schema may add (neither enabled nor disabled) is not guessed at.
    if (TOGGLES.has(key) && value !== 'enabled' && value !== 'disabled') {
      report(key, 'android/unknown-setting', `${key} ${JSON.stringify(value)} is not known to the Android compiler (revision ${COMPILER_REVISION}); not sent`);
      continue;
    }
    switch (key) {
      case 'passcode':
        compilePasscode(asRecord(value), policy, mode, map, report, unknownMembers);
        break;
      case 'screenLock': {
        const v = asRecord(value);
        unknownMembers('screenLock', v, ['maxTimeoutSeconds']);
        if (typeof v.maxTimeoutSeconds === 'number') {
          policy.maximumTimeToLock = String(v.maxTimeoutSeconds * 1000);
          map('screenLock.maxTimeoutSeconds', 'maximumTimeToLock');
        }
        break;
      }
      case 'encryption':
        if (value === 'required') {
          // emmctl has no "password to boot": required storage encryption is AMAPI's plain form.
          policy.encryptionPolicy = 'ENABLED_WITHOUT_PASSWORD';
          map('encryption', 'encryptionPolicy');
        } else map('encryption', null);
        break;
      case 'camera':
        policy.cameraAccess = value === 'disabled' ? 'CAMERA_ACCESS_DISABLED' : 'CAMERA_ACCESS_USER_CHOICE';
        map('camera', 'cameraAccess');
        break;
      case 'screenCapture':
        policy.screenCaptureDisabled = value === 'disabled';
        map('screenCapture', 'screenCaptureDisabled');
        break;
      case 'bluetooth':
        policy.bluetoothDisabled = value === 'disabled';
        map('bluetooth', 'bluetoothDisabled');
        break;
      case 'usbFileTransfer':
        if (!companyOwned) {
          report('usbFileTransfer', 'android/management-mode', 'AMAPI controls USB data access (deviceConnectivityManagement.usbDataAccess) only on company-owned devices');
          break;
        }
        policy.deviceConnectivityManagement = { usbDataAccess: value === 'disabled' ? 'DISALLOW_USB_FILE_TRANSFER' : 'ALLOW_USB_DATA_TRANSFER' };
        map('usbFileTransfer', 'deviceConnectivityManagement.usbDataAccess');
        break;
      case 'apps':
        compileApps(asRecord(value), policy, map, report, unknownMembers);
        break;
      case 'vpn':
        compileVpn(asRecord(value), policy, map, report, unknownMembers);
        break;
      case 'wifi':
        compileWifi(Array.isArray(value) ? (value as WifiNetwork[]) : [], input.wifiPassphrases, policy, map, report);
        break;
      case 'osUpdates':
        compileOsUpdates(asRecord(value), policy, map, report, unknownMembers);
        break;
      default:
        report(key, 'android/unknown-setting', `emmctl setting ${key} is not known to the Android compiler (revision ${COMPILER_REVISION}); not sent`);
    }
  }
  if (companyOwned && policy.deviceConnectivityManagement === undefined) policy.deviceConnectivityManagement = { usbDataAccess: 'ALLOW_USB_DATA_TRANSFER' };
  return { policyId, policy: ordered(policy), mapped, unmappable };
}

type MapFn = (path: string, field: string | null) => void;
type ReportFn = (path: string, ruleId: UnmappableRule, reason: string) => void;
type UnknownMembers = (top: string, value: Record<string, unknown>, known: readonly string[]) => void;

function compilePasscode(v: Record<string, unknown>, policy: AmapiPolicy, mode: AndroidDeviceMode, map: MapFn, report: ReportFn, unknownMembers: UnknownMembers): void {
  unknownMembers('passcode', v, ['required', 'minLength', 'quality', 'maxFailedAttempts', 'expirationDays', 'historyLength']);
  // The passcode of a personal device is its owner's; emmctl manages the work profile's.
  const req: PasswordRequirements = { passwordScope: mode.ownership === 'corporate' ? 'SCOPE_DEVICE' : 'SCOPE_PROFILE' };
  const at = 'passwordPolicies[0]';
  let quality: PasswordQuality | undefined;
  if (typeof v.quality === 'string' && QUALITY[v.quality]) {
    quality = QUALITY[v.quality];
    map('passcode.quality', `${at}.passwordQuality`);
  }
  if (v.required === true) {
    quality ??= 'SOMETHING';
    map('passcode.required', `${at}.passwordQuality`);
  } else if (v.required === false) map('passcode.required', null);
  if (quality) req.passwordQuality = quality;
  if (typeof v.minLength === 'number') {
    if (quality && LENGTH_ENFORCED.has(quality)) {
      req.passwordMinimumLength = v.minLength;
      map('passcode.minLength', `${at}.passwordMinimumLength`);
    } else {
      report('passcode.minLength', 'android/unmappable', 'Android enforces a minimum length only with quality numeric or stronger; set passcode.quality for Android devices');
    }
  }
  if (typeof v.maxFailedAttempts === 'number') {
    req.maximumFailedPasswordsForWipe = v.maxFailedAttempts;
    map('passcode.maxFailedAttempts', `${at}.maximumFailedPasswordsForWipe`);
  }
  if (typeof v.expirationDays === 'number') {
    if (v.expirationDays > 0) {
      req.passwordExpirationTimeout = `${v.expirationDays * 86_400}s`;
      map('passcode.expirationDays', `${at}.passwordExpirationTimeout`);
    } else map('passcode.expirationDays', null);
  }
  if (typeof v.historyLength === 'number') {
    req.passwordHistoryLength = v.historyLength;
    map('passcode.historyLength', `${at}.passwordHistoryLength`);
  }
  if (Object.keys(req).length > 1) policy.passwordPolicies = [req];
}

function compileApps(v: Record<string, unknown>, policy: AmapiPolicy, map: MapFn, report: ReportFn, unknownMembers: UnknownMembers): void {
  unknownMembers('apps', v, ['required', 'blocked']);
  const accepted: Array<ApplicationPolicy & { path: string }> = [];
  const seen = new Set<string>();
  // Blocked first: past the size limit, keeping forbidden apps off outranks installing more.
  for (const [list, installType] of [['blocked', 'BLOCKED'], ['required', 'FORCE_INSTALLED']] as const) {
    const ids = Array.isArray(v[list]) ? (v[list] as unknown[]).filter((x): x is string => typeof x === 'string') : [];
    for (const id of [...new Set(ids)].sort()) {
      const path = `apps.${list}[${id}]`;
      if (!PACKAGE_NAME.test(id)) report(path, 'android/invalid-value', `"${id}" is not an Android package name (letters, digits and "_" in two or more dot-separated parts)`);
      else if (seen.has(id)) report(path, 'android/invalid-value', `${id} is also blocked; a blocked app is never installed`);
      else if (accepted.length >= MAX_APPLICATIONS) report(path, 'android/unmappable', `AMAPI takes at most ${MAX_APPLICATIONS} applications in one policy`);
      else {
        seen.add(id);
        accepted.push({ packageName: id, installType, path });
      }
    }
  }
  if (accepted.length === 0) return;
  accepted.sort((a, b) => cmp(a.packageName, b.packageName));
  policy.applications = accepted.map(({ packageName, installType }, i) => {
    map(accepted[i]!.path, `applications[${i}]`);
    return { packageName, installType };
  });
}

function compileVpn(v: Record<string, unknown>, policy: AmapiPolicy, map: MapFn, report: ReportFn, unknownMembers: UnknownMembers): void {
  unknownMembers('vpn', v, ['app', 'alwaysOn', 'lockdown']);
  const app = typeof v.app === 'string' ? v.app : undefined;
  // Lockdown needs always-on; the merge already turns it on with lockdown, and so does this.
  const alwaysOn = v.alwaysOn === true || v.lockdown === true;
  if (!alwaysOn) {
    if (v.alwaysOn === false) map('vpn.alwaysOn', null);
    if (v.lockdown === false) map('vpn.lockdown', null);
    if (app !== undefined) report('vpn.app', 'android/unmappable', 'AMAPI configures a VPN app only as the always-on VPN (alwaysOnVpnPackage); set vpn.alwaysOn for Android devices');
    return;
  }
  if (app === undefined || !PACKAGE_NAME.test(app)) {
    const why = app === undefined ? 'vpn.app is not set' : `vpn.app "${app}" is not an Android package name`;
    if (app !== undefined) report('vpn.app', 'android/invalid-value', `"${app}" is not an Android package name`);
    for (const k of ['alwaysOn', 'lockdown'] as const) if (v[k] !== undefined) report(`vpn.${k}`, 'android/invalid-value', `AMAPI's always-on VPN names the VPN app's package, and ${why}`);
    return;
  }
  policy.alwaysOnVpnPackage = { packageName: app, lockdownEnabled: v.lockdown === true };
  map('vpn.app', 'alwaysOnVpnPackage.packageName');
  if (v.alwaysOn !== undefined) map('vpn.alwaysOn', 'alwaysOnVpnPackage');
  if (v.lockdown !== undefined) map('vpn.lockdown', 'alwaysOnVpnPackage.lockdownEnabled');
}

function compileWifi(networks: WifiNetwork[], passphrases: ReadonlyMap<string, string> | undefined, policy: AmapiPolicy, map: MapFn, report: ReportFn): void {
  const out: OncWifiNetwork[] = [];
  for (const net of networks) {
    const at = `wifi[${net.ssid}]`;
    const field = `openNetworkConfiguration.NetworkConfigurations[${out.length}]`;
    if (net.security === 'wpa3-personal') {
      report(at, 'android/unmappable', 'AMAPI\'s Open Network Configuration has no WPA3-Personal (SAE) security; the network is not configured rather than configured as WPA2');
      continue;
    }
    if (net.security === 'wpa2-enterprise' || net.security === 'wpa3-enterprise') {
      report(at, 'android/unmappable', 'an enterprise network needs EAP settings (method, identity, server CA, domain) that emmctl\'s WifiNetwork does not carry; the network is not configured');
      continue;
    }
    const wifi: OncWifiNetwork['WiFi'] = { SSID: net.ssid, Security: 'None' };
    if (net.security === 'wpa2-personal') {
      const key = passphrases?.get(net.ssid);
      const problem = key === undefined ? 'no pre-shared key (password) was resolved for it' : pskProblem(key);
      if (problem !== undefined) {
        // The whole network is left out, so the report is about the whole network.
        report(at, 'android/invalid-value', `${problem}; the network is not configured`);
        continue;
      }
      wifi.Security = 'WPA-PSK';
      wifi.Passphrase = key;
      map(`${at}.password`, `${field}.WiFi.Passphrase`);
    } else if (net.password !== undefined) {
      report(`${at}.password`, 'android/invalid-value', 'an open network takes no pre-shared key; the key is not sent');
    }
    map(`${at}.ssid`, `${field}.WiFi.SSID`);
    map(`${at}.security`, `${field}.WiFi.Security`);
    if (typeof net.hidden === 'boolean') {
      wifi.HiddenSSID = net.hidden;
      map(`${at}.hidden`, `${field}.WiFi.HiddenSSID`);
    }
    if (typeof net.autoConnect === 'boolean') {
      wifi.AutoConnect = net.autoConnect;
      map(`${at}.autoConnect`, `${field}.WiFi.AutoConnect`);
    }
    for (const k of Object.keys(net)) {
      if (!['ssid', 'security', 'password', 'hidden', 'autoConnect'].includes(k) && (net as unknown as Record<string, unknown>)[k] !== undefined) {
        report(`${at}.${k}`, 'android/unknown-setting', `emmctl wifi.${k} is not known to the Android compiler (revision ${COMPILER_REVISION}); not sent`);
      }
    }
    // A stable GUID per SSID, so a changed key updates the network instead of adding another.
    out.push({ GUID: `emmctl-${createHash('sha256').update(net.ssid).digest('hex').slice(0, 24)}`, Name: net.ssid, Type: 'WiFi', WiFi: wifi });
  }
  if (out.length) policy.openNetworkConfiguration = { Type: 'UnencryptedConfiguration', NetworkConfigurations: out };
}

/** What is wrong with a WPA pre-shared key, never quoting it: 8–63 printable ASCII characters, or 64 hex digits. */
function pskProblem(key: string): string | undefined {
  if (/^[0-9A-Fa-f]{64}$/.test(key) || /^[\x20-\x7e]{8,63}$/.test(key)) return undefined;
  return 'its pre-shared key (password) is not 8 to 63 printable ASCII characters or 64 hex digits';
}

function compileOsUpdates(v: Record<string, unknown>, policy: AmapiPolicy, map: MapFn, report: ReportFn, unknownMembers: UnknownMembers): void {
  unknownMembers('osUpdates', v, ['mode', 'window', 'postponeDays']);
  const window = v.window === undefined ? undefined : asRecord(v.window);
  if (window) unknownMembers('osUpdates.window', window, ['start', 'end', 'days']);
  switch (v.mode) {
    case 'automatic':
      policy.systemUpdate = { type: 'AUTOMATIC' };
      map('osUpdates.mode', 'systemUpdate.type');
      break;
    case 'manual':
      // AMAPI's SYSTEM_UPDATE_TYPE_UNSPECIFIED, the field left out: the user accepts updates.
      map('osUpdates.mode', null);
      break;
    case 'postponed':
      policy.systemUpdate = { type: 'POSTPONE' };
      map('osUpdates.mode', 'systemUpdate.type');
      if (v.postponeDays !== undefined) report('osUpdates.postponeDays', 'android/unmappable', 'AMAPI postpones an update for up to 30 days, a period it sets itself; security patches are not postponed');
      break;
    case 'windowed': {
      const start = minutes(window?.start);
      const end = minutes(window?.end);
      if (start === undefined || end === undefined) {
        report('osUpdates.mode', 'android/invalid-value', 'mode windowed without a window: AMAPI\'s WINDOWED needs its start and end');
        break;
      }
      policy.systemUpdate = { type: 'WINDOWED', startMinutes: start, endMinutes: end };
      map('osUpdates.mode', 'systemUpdate.type');
      map('osUpdates.window.start', 'systemUpdate.startMinutes');
      map('osUpdates.window.end', 'systemUpdate.endMinutes');
      const length = (end - start + 1440) % 1440;
      if (length < 30) report('osUpdates.window', 'android/unmappable', `the window is ${length} minutes long; AMAPI extends a window shorter than 30 minutes to 30 minutes from its start`);
      if (window?.days !== undefined) {
        const days = Array.isArray(window.days) ? window.days : [];
        if (!(days.length === 7 && DAY_NAMES.every((d) => days.includes(d)))) report('osUpdates.window.days', 'android/unmappable', 'AMAPI\'s maintenance window opens every day; it cannot be limited to some days');
        else map('osUpdates.window.days', null);
      }
      break;
    }
    default:
      report('osUpdates.mode', 'android/unknown-setting', `osUpdates mode ${JSON.stringify(v.mode)} is not known to the Android compiler; not sent`);
  }
  if (v.mode !== 'windowed' && window !== undefined) report('osUpdates.window', 'android/unmappable', 'only mode windowed uses a window; it is not sent');
  if (v.mode !== 'postponed' && v.postponeDays !== undefined) report('osUpdates.postponeDays', 'android/unmappable', 'only mode postponed uses postponeDays; it is not sent');
}

function minutes(hhmm: unknown): number | undefined {
  const m = typeof hhmm === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm) : null;
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

// One member order whatever the settings' order, so equal configurations give byte-equal bodies.
const MEMBER_ORDER: ReadonlyArray<keyof AmapiPolicy> = [
  'passwordPolicies', 'maximumTimeToLock', 'encryptionPolicy', 'cameraAccess', 'screenCaptureDisabled', 'bluetoothDisabled',
  'deviceConnectivityManagement', 'applications', 'alwaysOnVpnPackage', 'openNetworkConfiguration', 'systemUpdate',
  'statusReportingSettings', 'playStoreMode',
];

function ordered(policy: AmapiPolicy): AmapiPolicy {
  const out: Record<string, unknown> = {};
  for (const k of MEMBER_ORDER) if (policy[k] !== undefined) out[k] = policy[k];
  return out as unknown as AmapiPolicy;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
