// Which Intune object types a document becomes, per platform it reaches, and the field tables
// both directions read. A field is mapped only where the mapping is exact both ways (Intune's
// "not configured" is `false` on its block switches, so `camera: enabled` has no Graph value and
// is kept in the marker instead); everything else is reported at plan time and kept.
import type { GroupDocument, Platform } from '../../model/policy.generated.js';
import type { GraphVersion } from './graph.js';

/** Intune's platform split: Android is two management modes; iOS and iPadOS share one type. */
export type IntuneTarget = 'android-work' | 'android-owner' | 'ios' | 'macos' | 'windows';
export const INTUNE_TARGETS: readonly IntuneTarget[] = ['android-work', 'android-owner', 'ios', 'macos', 'windows'];

export interface TypeInfo {
  odataType: string;
  version: GraphVersion;
}

export const CONFIGURATION_TYPES: Record<IntuneTarget, TypeInfo> = {
  'android-work': { odataType: '#microsoft.graph.androidWorkProfileGeneralDeviceConfiguration', version: 'v1.0' },
  'android-owner': { odataType: '#microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration', version: 'beta' },
  ios: { odataType: '#microsoft.graph.iosGeneralDeviceConfiguration', version: 'v1.0' },
  macos: { odataType: '#microsoft.graph.macOSGeneralDeviceConfiguration', version: 'v1.0' },
  windows: { odataType: '#microsoft.graph.windows10GeneralConfiguration', version: 'v1.0' },
};

export const COMPLIANCE_TYPES: Record<IntuneTarget, TypeInfo> = {
  'android-work': { odataType: '#microsoft.graph.androidWorkProfileCompliancePolicy', version: 'v1.0' },
  'android-owner': { odataType: '#microsoft.graph.androidDeviceOwnerCompliancePolicy', version: 'beta' },
  ios: { odataType: '#microsoft.graph.iosCompliancePolicy', version: 'v1.0' },
  macos: { odataType: '#microsoft.graph.macOSCompliancePolicy', version: 'v1.0' },
  windows: { odataType: '#microsoft.graph.windows10CompliancePolicy', version: 'v1.0' },
};

export function targetOfType(odataType: unknown, table: Record<IntuneTarget, TypeInfo>): IntuneTarget | undefined {
  return INTUNE_TARGETS.find((t) => table[t].odataType === odataType);
}

/**
 * The targets a set of groups reaches: each group's platforms (all five without a platform
 * condition, a static list or `all`), Android split by ownership (work profile for personal,
 * fully managed for corporate; both when ownership is open).
 */
export function targetsFor(assign: readonly string[], groups: ReadonlyMap<string, GroupDocument>): IntuneTarget[] {
  const found = new Set<IntuneTarget>();
  for (const name of assign) {
    const g = groups.get(name);
    const match = name === 'all' ? undefined : g?.spec.match;
    const platforms: readonly Platform[] = match?.platforms ?? ['android', 'ios', 'ipados', 'macos', 'windows'];
    for (const p of platforms) {
      if (p === 'android') {
        if (match?.ownership !== 'corporate') found.add('android-work');
        if (match?.ownership !== 'personal') found.add('android-owner');
      } else if (p === 'ipados' || p === 'ios') found.add('ios');
      else found.add(p);
    }
  }
  return INTUNE_TARGETS.filter((t) => found.has(t));
}

/** How one emmctl leaf maps to one Graph property of one type, exactly both ways. */
export interface FieldMap {
  /** Dotted path under spec.settings (Policy) or spec.rules (CompliancePolicy). */
  path: string;
  prop: string;
  /** emmctl value → Graph value; undefined: this value has no exact Graph form (kept instead). */
  to(value: unknown): unknown;
  /** Graph value → emmctl value; undefined: Intune's "not configured". */
  from(value: unknown): unknown;
  /** What "not configured" is written as, when emmctl stops setting the field. */
  reset: unknown;
}

/** Intune reads an unset count as 0 ("not configured"), so only counts above 0 map; a 0 is kept. */
const int = (path: string, prop: string): FieldMap => ({
  path,
  prop,
  to: (v) => (Number.isInteger(v) && (v as number) > 0 ? v : undefined),
  from: (v) => (typeof v === 'number' && v > 0 ? v : undefined),
  reset: null,
});
/** `disabled` ↔ a block switch on; `enabled` is Intune's "not configured", which reads back as nothing. */
const block = (path: string, prop: string): FieldMap => ({
  path,
  prop,
  to: (v) => (v === 'disabled' ? true : undefined),
  from: (v) => (v === true ? 'disabled' : undefined),
  reset: false,
});
const isTrue = (path: string, prop: string, value: unknown = true): FieldMap => ({
  path,
  prop,
  to: (v) => (v === value ? true : undefined),
  from: (v) => (v === true ? value : undefined),
  reset: false,
});
const enumMap = (path: string, prop: string, table: Record<string, string>): FieldMap => ({
  path,
  prop,
  to: (v) => (typeof v === 'string' ? table[v] : undefined),
  from: (v) => Object.entries(table).find(([, g]) => g === v)?.[0],
  // The password-type enums are not nullable; deviceDefault is their "not configured".
  reset: 'deviceDefault',
});
/** Seconds in emmctl, minutes in Intune: only whole minutes map. */
const minutes = (path: string, prop: string): FieldMap => ({
  path,
  prop,
  to: (v) => (Number.isInteger(v) && (v as number) > 0 && (v as number) % 60 === 0 ? (v as number) / 60 : undefined),
  from: (v) => (typeof v === 'number' && v > 0 ? v * 60 : undefined),
  reset: null,
});
const text = (path: string, prop: string): FieldMap => ({
  path,
  prop,
  to: (v) => (typeof v === 'string' && v !== '' ? v : undefined),
  from: (v) => (typeof v === 'string' && v !== '' ? v : undefined),
  reset: null,
});

const APPLE_QUALITY = { numeric: 'numeric', alphanumeric: 'alphanumeric' };

export const CONFIGURATION_FIELDS: Record<IntuneTarget, FieldMap[]> = {
  'android-work': [
    isTrue('passcode.required', 'workProfileRequirePassword'),
    int('passcode.minLength', 'workProfilePasswordMinimumLength'),
    enumMap('passcode.quality', 'workProfilePasswordRequiredType', { any: 'required', numeric: 'atLeastNumeric', 'numeric-complex': 'numericComplex', alphabetic: 'atLeastAlphabetic', alphanumeric: 'atLeastAlphanumeric', complex: 'alphanumericWithSymbols' }),
    int('passcode.maxFailedAttempts', 'workProfilePasswordSignInFailureCountBeforeFactoryReset'),
    int('passcode.expirationDays', 'workProfilePasswordExpirationDays'),
    int('passcode.historyLength', 'workProfilePasswordPreviousPasswordBlockCount'),
    minutes('screenLock.maxTimeoutSeconds', 'workProfilePasswordMinutesOfInactivityBeforeScreenTimeout'),
    block('camera', 'workProfileBlockCamera'),
    block('screenCapture', 'workProfileBlockScreenCapture'),
  ],
  'android-owner': [
    int('passcode.minLength', 'passwordMinimumLength'),
    enumMap('passcode.quality', 'passwordRequiredType', { any: 'required', numeric: 'numeric', 'numeric-complex': 'numericComplex', alphabetic: 'alphabetic', alphanumeric: 'alphanumeric', complex: 'alphanumericWithSymbols' }),
    int('passcode.maxFailedAttempts', 'passwordSignInFailureCountBeforeFactoryReset'),
    int('passcode.expirationDays', 'passwordExpirationDays'),
    int('passcode.historyLength', 'passwordPreviousPasswordCountToBlock'),
    minutes('screenLock.maxTimeoutSeconds', 'passwordMinutesOfInactivityBeforeScreenTimeout'),
    block('camera', 'cameraBlocked'),
    block('screenCapture', 'screenCaptureBlocked'),
    block('usbFileTransfer', 'storageBlockUsbFileTransfer'),
    text('vpn.app', 'vpnAlwaysOnPackageIdentifier'),
    isTrue('vpn.lockdown', 'vpnAlwaysOnLockdownMode'),
  ],
  ios: [
    isTrue('passcode.required', 'passcodeRequired'),
    int('passcode.minLength', 'passcodeMinimumLength'),
    enumMap('passcode.quality', 'passcodeRequiredType', APPLE_QUALITY),
    int('passcode.maxFailedAttempts', 'passcodeSignInFailureCountBeforeWipe'),
    int('passcode.expirationDays', 'passcodeExpirationDays'),
    int('passcode.historyLength', 'passcodePreviousPasscodeBlockCount'),
    minutes('screenLock.maxTimeoutSeconds', 'passcodeMinutesOfInactivityBeforeScreenTimeout'),
    block('camera', 'cameraBlocked'),
    block('screenCapture', 'screenCaptureBlocked'),
  ],
  macos: [
    isTrue('passcode.required', 'passwordRequired'),
    int('passcode.minLength', 'passwordMinimumLength'),
    enumMap('passcode.quality', 'passwordRequiredType', APPLE_QUALITY),
    int('passcode.expirationDays', 'passwordExpirationDays'),
    int('passcode.historyLength', 'passwordPreviousPasswordBlockCount'),
    minutes('screenLock.maxTimeoutSeconds', 'passwordMinutesOfInactivityBeforeScreenTimeout'),
  ],
  windows: [
    isTrue('passcode.required', 'passwordRequired'),
    int('passcode.minLength', 'passwordMinimumLength'),
    enumMap('passcode.quality', 'passwordRequiredType', APPLE_QUALITY),
    int('passcode.maxFailedAttempts', 'passwordSignInFailureCountBeforeFactoryReset'),
    int('passcode.expirationDays', 'passwordExpirationDays'),
    int('passcode.historyLength', 'passwordPreviousPasswordBlockCount'),
    minutes('screenLock.maxTimeoutSeconds', 'passwordMinutesOfInactivityBeforeScreenTimeout'),
    isTrue('encryption', 'storageRequireMobileDeviceEncryption', 'required'),
    block('camera', 'cameraBlocked'),
    block('screenCapture', 'screenCaptureBlocked'),
    block('bluetooth', 'bluetoothBlocked'),
    block('usbFileTransfer', 'usbBlocked'),
  ],
};

const androidRules = (osPath: string): FieldMap[] => [
  text(osPath, 'osMinimumVersion'),
  isTrue('encryption', 'storageRequireEncryption', 'required'),
  isTrue('passcode', 'passwordRequired', 'required'),
  isTrue('compromised', 'securityBlockJailbrokenDevices', 'blocked'),
  text('minPatchLevel', 'minAndroidSecurityPatchLevel'),
];

export const COMPLIANCE_FIELDS: Record<IntuneTarget, FieldMap[]> = {
  'android-work': androidRules('minOsVersion.android'),
  'android-owner': androidRules('minOsVersion.android'),
  ios: [text('minOsVersion.ios', 'osMinimumVersion'), isTrue('passcode', 'passcodeRequired', 'required'), isTrue('compromised', 'securityBlockJailbrokenDevices', 'blocked')],
  macos: [text('minOsVersion.macos', 'osMinimumVersion'), isTrue('encryption', 'storageRequireEncryption', 'required'), isTrue('passcode', 'passwordRequired', 'required')],
  windows: [text('minOsVersion.windows', 'osMinimumVersion'), isTrue('encryption', 'storageRequireEncryption', 'required'), isTrue('passcode', 'passwordRequired', 'required')],
};

/** Which compliance rule a Graph setting name reports on, for per-device failures. */
export function ruleOfSetting(setting: string): string | undefined {
  const s = setting.toLowerCase();
  if (s.includes('osminimumversion')) return 'minOsVersion';
  if (s.includes('encryption')) return 'encryption';
  if (s.includes('password') || s.includes('passcode')) return 'passcode';
  if (s.includes('jailbroken')) return 'compromised';
  if (s.includes('securitypatch')) return 'minPatchLevel';
  return undefined;
}
