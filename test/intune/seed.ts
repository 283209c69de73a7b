// A seeded Intune tenant: managed devices of every platform with the properties Intune reports,
// and the Entra ID device object each one is registered as (what dynamic group rules look at).
// Deterministic per seed, so a test can name what it expects.
import { mulberry32 } from '../../src/agent/fleet.js';

export type SeedPlatform = 'ios' | 'ipados' | 'android' | 'windows' | 'macos';
export type SeedCompliance = 'compliant' | 'noncompliant' | 'inGracePeriod';

/** The device facts a compliance policy is evaluated against (what the device would report). */
export interface Posture {
  osVersion: string;
  isEncrypted: boolean;
  jailBroken: boolean;
  passcodeSet: boolean;
  androidSecurityPatchLevel?: string;
}

export interface SeedDeviceSpec {
  platform: SeedPlatform;
  ownership?: 'company' | 'personal';
  complianceState?: SeedCompliance;
  deviceName?: string;
  serialNumber?: string;
  posture?: Partial<Posture>;
  enrollmentProfileName?: string;
}

export interface SeededDevice {
  managed: Record<string, unknown>;
  entra: Record<string, unknown>;
  posture: Posture;
}

function guid(r: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

const FIRST = ['Ana', 'Ben', 'Chloe', 'Dev', 'Eli', 'Fatima', 'Goran', 'Hana', 'Ivan', 'Jun', 'Kemal', 'Lea', 'Mo', 'Nia', 'Omar', 'Priya'];
const LAST = ['Silva', 'Okafor', 'Novak', 'Kim', 'Berg', 'Haddad', 'Rossi', 'Tanaka', 'Meyer', 'Costa'];

const MODELS: Record<SeedPlatform, { manufacturer: string; models: string[]; os: string; versions: string[]; entraType: string }> = {
  ios: { manufacturer: 'Apple', models: ['iPhone 15', 'iPhone 14 Pro', 'iPhone SE (3rd generation)'], os: 'iOS', versions: ['17.6.1', '18.1', '16.7.10'], entraType: 'iPhone' },
  ipados: { manufacturer: 'Apple', models: ['iPad Air (5th generation)', 'iPad (10th generation)'], os: 'iPadOS', versions: ['17.6.1', '18.1'], entraType: 'iPad' },
  android: { manufacturer: 'Google', models: ['Pixel 8', 'Pixel 7a', 'SM-S921B'], os: 'Android', versions: ['14', '15', '12'], entraType: 'AndroidForWork' },
  windows: { manufacturer: 'Dell Inc.', models: ['Latitude 7440', 'OptiPlex 7010', 'Surface Laptop 5'], os: 'Windows', versions: ['10.0.22631.4460', '10.0.26100.2314', '10.0.19045.5131'], entraType: 'Windows' },
  macos: { manufacturer: 'Apple', models: ['MacBookPro18,3', 'Mac14,2'], os: 'macOS', versions: ['14.7.1', '15.1', '13.7.1'], entraType: 'MacMDM' },
};

const PLATFORM_CYCLE: SeedPlatform[] = ['ios', 'android', 'windows', 'macos', 'android', 'ipados', 'ios', 'windows'];

/** Device `index` of a tenant seeded with `seed`, optionally overriding some of its facts. */
export function seedDevice(seed: number, index: number, spec: Partial<SeedDeviceSpec> = {}, now = Date.now()): SeededDevice {
  const r = mulberry32((seed * 7919 + index * 104729) >>> 0);
  const platform = spec.platform ?? PLATFORM_CYCLE[index % PLATFORM_CYCLE.length]!;
  const m = MODELS[platform];
  const ownership = spec.ownership ?? (r() < 0.7 ? 'company' : 'personal');
  const roll = r();
  const complianceState: SeedCompliance = spec.complianceState ?? (roll < 0.7 ? 'compliant' : roll < 0.88 ? 'noncompliant' : 'inGracePeriod');
  const first = pick(r, FIRST), last = pick(r, LAST);
  const upn = `${first.toLowerCase()}.${last.toLowerCase()}${index}@contoso.example`;
  const model = pick(r, m.models);
  const osVersion = spec.posture?.osVersion ?? pick(r, m.versions);
  const serialNumber = spec.serialNumber ?? Array.from({ length: 12 }, () => pick(r, [...'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789'])).join('');
  const prefix = { ios: 'IPHONE', ipados: 'IPAD', android: 'ANDROID', windows: 'DESKTOP', macos: 'MAC' }[platform];
  const deviceName = spec.deviceName ?? `${prefix}-${serialNumber.slice(-6)}`;
  const enrolled = new Date(now - Math.floor(20 + r() * 300) * 86_400_000);
  const lastSync = new Date(now - Math.floor(r() * 72) * 3_600_000);
  const patch = platform === 'android' ? (spec.posture?.androidSecurityPatchLevel ?? pick(r, ['2024-03-01', '2024-10-05', '2024-11-01'])) : undefined;
  const posture: Posture = {
    osVersion,
    isEncrypted: spec.posture?.isEncrypted ?? (complianceState === 'compliant' ? true : r() < 0.5),
    jailBroken: spec.posture?.jailBroken ?? (complianceState === 'noncompliant' && r() < 0.3),
    passcodeSet: spec.posture?.passcodeSet ?? (complianceState === 'compliant' ? true : r() < 0.5),
    ...(patch ? { androidSecurityPatchLevel: patch } : {}),
  };
  const azureADDeviceId = guid(r);
  const managedId = guid(r);
  const total = pick(r, [64, 128, 256, 512]) * 1024 ** 3;
  const managed: Record<string, unknown> = {
    id: managedId,
    userId: guid(r),
    deviceName,
    managedDeviceOwnerType: ownership,
    enrolledDateTime: enrolled.toISOString(),
    lastSyncDateTime: lastSync.toISOString(),
    operatingSystem: m.os,
    complianceState,
    jailBroken: posture.jailBroken ? 'True' : platform === 'windows' || platform === 'macos' ? 'Unknown' : 'False',
    managementAgent: 'mdm',
    osVersion,
    easActivated: false,
    easDeviceId: '',
    easActivationDateTime: '0001-01-01T00:00:00Z',
    azureADRegistered: true,
    deviceEnrollmentType: platform === 'windows' ? 'windowsAzureADJoin' : ownership === 'company' && (platform === 'ios' || platform === 'ipados' || platform === 'macos') ? 'appleBulkWithUser' : 'userEnrollment',
    activationLockBypassCode: null,
    emailAddress: upn,
    azureADDeviceId,
    deviceRegistrationState: 'registered',
    deviceCategoryDisplayName: 'Unknown',
    isSupervised: ownership === 'company' && (platform === 'ios' || platform === 'ipados'),
    exchangeLastSuccessfulSyncDateTime: '0001-01-01T00:00:00Z',
    exchangeAccessState: 'none',
    exchangeAccessStateReason: 'none',
    remoteAssistanceSessionUrl: null,
    remoteAssistanceSessionErrorDetails: null,
    isEncrypted: posture.isEncrypted,
    userPrincipalName: upn,
    model,
    manufacturer: m.manufacturer,
    imei: platform === 'ios' || platform === 'android' ? Array.from({ length: 15 }, () => Math.floor(r() * 10)).join('') : '',
    complianceGracePeriodExpirationDateTime: complianceState === 'inGracePeriod' ? new Date(now + 2 * 86_400_000).toISOString() : '9999-12-31T23:59:59Z',
    serialNumber,
    phoneNumber: '',
    androidSecurityPatchLevel: patch ?? '',
    userDisplayName: `${first} ${last}`,
    configurationManagerClientEnabledFeatures: null,
    wiFiMacAddress: Array.from({ length: 12 }, () => Math.floor(r() * 16).toString(16)).join(''),
    deviceHealthAttestationState: null,
    subscriberCarrier: '',
    meid: '',
    totalStorageSpaceInBytes: total,
    freeStorageSpaceInBytes: Math.floor(total * (0.1 + r() * 0.6)),
    managedDeviceName: `${upn.split('@')[0]}_${m.os}_${enrolled.toISOString().slice(0, 10).replace(/-/g, '/')}`,
    partnerReportedThreatState: 'unknown',
    requireUserEnrollmentApproval: null,
    managementCertificateExpirationDate: new Date(enrolled.getTime() + 365 * 86_400_000).toISOString(),
    iccid: null,
    udid: null,
    notes: null,
    ethernetMacAddress: null,
    physicalMemoryInBytes: 0,
    enrollmentProfileName: spec.enrollmentProfileName ?? null,
    managementState: 'managed',
    deviceActionResults: [],
  };
  const entra: Record<string, unknown> = {
    id: guid(r),
    deviceId: azureADDeviceId,
    displayName: deviceName,
    accountEnabled: true,
    // Entra records Android by management mode: a personal phone's work profile, or a fully managed corporate device.
    deviceOSType: platform === 'android' && ownership === 'company' ? 'AndroidEnterprise' : m.entraType,
    operatingSystem: platform === 'android' && ownership === 'company' ? 'AndroidEnterprise' : m.entraType,
    operatingSystemVersion: osVersion,
    deviceOSVersion: osVersion,
    deviceOwnership: ownership === 'company' ? 'Company' : 'Personal',
    deviceManufacturer: m.manufacturer,
    manufacturer: m.manufacturer,
    deviceModel: model,
    model,
    deviceCategory: null,
    enrollmentProfileName: spec.enrollmentProfileName ?? null,
    isRooted: posture.jailBroken,
    isManaged: true,
    isCompliant: complianceState === 'compliant',
    managementType: 'MDM',
    trustType: platform === 'windows' && ownership === 'company' ? 'AzureAd' : 'Workplace',
    registrationDateTime: enrolled.toISOString(),
    approximateLastSignInDateTime: lastSync.toISOString(),
    devicePhysicalIds: [],
    physicalIds: [],
    systemLabels: [],
    profileType: 'RegisteredDevice',
  };
  return { managed, entra, posture };
}

/** The properties of an Entra device object Graph returns (the rule-only aliases left out). */
export const ENTRA_RULE_ONLY = new Set(['deviceOSType', 'deviceOSVersion', 'deviceManufacturer', 'deviceModel', 'devicePhysicalIds']);
