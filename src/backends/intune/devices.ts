// Intune's managedDevice → emmctl's Device and DeviceCompliance, and device filters: the ones
// Graph can answer go into `$filter`, the rest emmctl applies to each page. Pure.
import { compareVersions } from '../../compliance/index.js';
import { BackendError } from '../../errors.js';
import { globMatch, ownerMatches } from '../../model/filter.js';
import type { ComplianceStatus, Device, DeviceCompliance, DeviceState, RuleFailure } from '../../model/fleet.js';
import type { Platform } from '../../model/policy.generated.js';
import type { DeviceFilter } from '../backend.js';
import { NAME_PREFIX } from './marker.js';
import { ruleOfSetting } from './targets.js';

/** What emmctl reads of a managedDevice (`$select`: Graph returns every property otherwise). */
export const DEVICE_SELECT = [
  'id', 'deviceName', 'serialNumber', 'operatingSystem', 'osVersion', 'managedDeviceOwnerType', 'userPrincipalName', 'emailAddress',
  'managementState', 'complianceState', 'enrolledDateTime', 'lastSyncDateTime', 'model', 'isEncrypted', 'jailBroken',
  'androidSecurityPatchLevel', 'enrollmentProfileName', 'azureADDeviceId', 'complianceGracePeriodExpirationDateTime', 'deviceCategoryDisplayName',
].join(',');

const OS_TO_PLATFORM: Record<string, Platform> = { android: 'android', ios: 'ios', ipados: 'ipados', macos: 'macos', 'mac os x': 'macos', windows: 'windows' };
const PLATFORM_TO_OS: Record<Platform, string> = { android: 'Android', ios: 'iOS', ipados: 'iPadOS', macos: 'macOS', windows: 'Windows' };

export type ManagedDevice = Record<string, unknown>;

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

export function platformOf(d: ManagedDevice): Platform | undefined {
  return OS_TO_PLATFORM[String(d.operatingSystem ?? '').toLowerCase()];
}

function stateOf(d: ManagedDevice): DeviceState {
  switch (d.managementState) {
    case 'wipeIssued':
      return 'wiped';
    case 'retireIssued':
      return 'retired';
    default:
      return 'enrolled';
  }
}

export function toDevice(d: ManagedDevice): Device {
  const platform = platformOf(d) ?? 'android';
  const owner = str(d.userPrincipalName) ?? str(d.emailAddress);
  const osVersion = str(d.osVersion);
  return {
    id: String(d.id),
    name: str(d.deviceName) ?? String(d.id),
    ...(str(d.serialNumber) ? { serial: str(d.serialNumber) } : {}),
    platform,
    ownership: d.managedDeviceOwnerType === 'company' ? 'corporate' : 'personal',
    ...(owner ? { owner } : {}),
    labels: str(d.deviceCategoryDisplayName) ? { category: str(d.deviceCategoryDisplayName)! } : {},
    state: stateOf(d),
    ...(str(d.enrollmentProfileName) ? { profile: str(d.enrollmentProfileName) } : {}),
    ...(str(d.model) ? { model: str(d.model) } : {}),
    ...(osVersion ? { osVersion } : {}),
    ...(str(d.enrolledDateTime) ? { enrolledAt: str(d.enrolledDateTime) } : {}),
    ...(str(d.lastSyncDateTime) ? { lastCheckIn: str(d.lastSyncDateTime) } : {}),
    posture: {
      osVersion: osVersion ?? '',
      ...(str(d.androidSecurityPatchLevel) ? { patchLevel: str(d.androidSecurityPatchLevel) } : {}),
      ...(str(d.model) ? { model: str(d.model) } : {}),
      ...(str(d.serialNumber) ? { serial: str(d.serialNumber) } : {}),
      encrypted: d.isEncrypted === true,
      // Intune reports no "passcode set" on the device record; its compliance state says whether a passcode rule fails.
      passcodeSet: true,
      compromised: String(d.jailBroken ?? '').toLowerCase() === 'true',
      installedApps: [],
    },
  };
}

const STATUS: Record<string, ComplianceStatus> = { compliant: 'compliant', noncompliant: 'noncompliant', inGracePeriod: 'in-grace' };

/** Per-policy states of one device (`deviceCompliancePolicyStates`), as Graph lists them. */
export interface PolicyState {
  displayName?: string;
  state?: string;
  settingStates?: Array<{ setting?: string; settingName?: string; state?: string; currentValue?: string; errorDescription?: string }>;
}

export function policyNameOf(displayName: string | undefined): string | undefined {
  if (!displayName?.startsWith(NAME_PREFIX)) return displayName || undefined;
  const rest = displayName.slice(NAME_PREFIX.length);
  const colon = rest.lastIndexOf(':');
  return colon > 0 ? rest.slice(0, colon) : rest;
}

export function toCompliance(d: ManagedDevice, states: PolicyState[] | undefined): DeviceCompliance {
  const device = toDevice(d);
  const raw = String(d.complianceState ?? 'unknown');
  const status = STATUS[raw] ?? 'unknown';
  const failures: RuleFailure[] = [];
  const policies = new Set<string>();
  for (const s of states ?? []) {
    const policy = policyNameOf(s.displayName);
    if (!policy) continue;
    if (s.state !== 'notApplicable' && s.state !== 'notAssigned') policies.add(policy);
    if (s.state !== 'nonCompliant') continue;
    for (const st of s.settingStates ?? []) {
      if (st.state !== 'nonCompliant') continue;
      const setting = st.setting ?? st.settingName ?? '';
      const rule = ruleOfSetting(setting) ?? setting;
      failures.push({ policy, rule, expected: st.errorDescription ?? setting, actual: st.currentValue ?? '' });
    }
  }
  return {
    deviceId: device.id,
    name: device.name,
    ...(device.owner ? { owner: device.owner } : {}),
    platform: device.platform,
    ...(device.osVersion ? { osVersion: device.osVersion } : {}),
    state: device.state,
    status,
    ...(status === 'unknown' ? { reason: `Intune reports complianceState "${raw}"` } : {}),
    failures,
    policies: [...policies].sort(),
    ...(device.lastCheckIn ? { lastCheckIn: device.lastCheckIn } : {}),
  };
}

const COMPLIANCE_TO_GRAPH: Record<string, string> = { compliant: 'compliant', noncompliant: 'noncompliant', 'in-grace': 'inGracePeriod', unknown: 'unknown' };

const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;

/**
 * The `$filter` clauses Graph answers for managedDevices (equality on a few properties); every
 * filter is still applied by emmctl afterwards, so a clause Graph ignores cannot widen a result.
 */
export function graphFilter(filters: readonly DeviceFilter[]): string | undefined {
  const clauses: string[] = [];
  for (const f of filters) {
    if (f.op !== '=') continue;
    if (f.field === 'platform' && PLATFORM_TO_OS[f.value as Platform]) clauses.push(`operatingSystem eq ${quote(PLATFORM_TO_OS[f.value as Platform])}`);
    else if (f.field === 'ownership' && (f.value === 'corporate' || f.value === 'personal')) clauses.push(`managedDeviceOwnerType eq ${quote(f.value === 'corporate' ? 'company' : 'personal')}`);
    else if (f.field === 'compliance' && COMPLIANCE_TO_GRAPH[f.value]) clauses.push(`complianceState eq ${quote(COMPLIANCE_TO_GRAPH[f.value]!)}`);
    else if (f.field === 'serial' && !/[*?]/.test(f.value)) clauses.push(`serialNumber eq ${quote(f.value)}`);
  }
  return clauses.length ? clauses.join(' and ') : undefined;
}

function compare(op: DeviceFilter['op'], c: number): boolean {
  switch (op) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

/** Whether a device passes one filter. `group` needs the device's groups (Entra memberships), given by the caller. */
export function deviceMatches(d: Device, status: ComplianceStatus, f: DeviceFilter, groups?: ReadonlySet<string>): boolean {
  const eq = (value: string | undefined, glob = false) => {
    const hit = value !== undefined && (glob ? globMatch(value, f.value) : value === f.value);
    return f.op === '!=' ? !hit : hit;
  };
  switch (f.field) {
    case 'id':
      return eq(d.id);
    case 'name':
      return eq(d.name, true);
    case 'serial':
      return eq(d.serial, true);
    case 'model':
      return eq(d.model, true);
    case 'platform':
      return eq(d.platform);
    case 'ownership':
      return eq(d.ownership);
    case 'state':
      return eq(d.state);
    case 'profile':
      return eq(d.profile);
    case 'compliance':
      return eq(status);
    case 'owner': {
      const hit = ownerMatches(d.owner, f.value);
      return f.op === '!=' ? !hit : hit;
    }
    case 'group': {
      const hit = groups?.has(f.value) ?? false;
      return f.op === '!=' ? !hit : hit;
    }
    case 'os':
      return d.osVersion !== undefined && compare(f.op, compareVersions(d.osVersion, f.value));
    default:
      if (f.field.startsWith('label.')) return eq(d.labels[f.field.slice('label.'.length)], true);
      throw new BackendError('invalid', `unknown filter field "${f.field}"`);
  }
}

export function complianceStatusOf(d: ManagedDevice): ComplianceStatus {
  return STATUS[String(d.complianceState ?? '')] ?? 'unknown';
}
