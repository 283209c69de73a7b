// Builders for compliance-engine tests: plain documents and devices, nothing mocked.
import type { Device, Posture } from '../../src/model/fleet.js';
import type { ComplianceAction, ComplianceRules, CompliancePolicyDocument, EnrollmentProfileDocument, GroupDocument, GroupSpec, PolicyDocument, PolicySettings } from '../../src/model/policy.generated.js';

export const NOW = new Date('2026-03-01T12:00:00.000Z');
export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export const ago = (ms: number, from: Date = NOW) => new Date(from.getTime() - ms).toISOString();
export const later = (ms: number, from: Date = NOW) => new Date(from.getTime() + ms);

export function posture(over: Partial<Posture> = {}): Posture {
  return { osVersion: '14', patchLevel: '2026-02-01', encrypted: true, passcodeSet: true, compromised: false, installedApps: ['com.company.portal'], ...over };
}

export function device(over: Partial<Device> = {}): Device {
  return {
    id: 'dev_1',
    name: 'pixel-1',
    serial: 'SN001',
    platform: 'android',
    ownership: 'corporate',
    owner: 'ana@example.com',
    labels: {},
    state: 'enrolled',
    lastCheckIn: ago(HOUR),
    posture: posture(),
    ...over,
  };
}

export function compliance(name: string, rules: ComplianceRules, actions?: ComplianceAction[], assign: string[] = ['all']): CompliancePolicyDocument {
  return {
    apiVersion: 'emmctl/v1',
    kind: 'CompliancePolicy',
    metadata: { name },
    spec: { assign: assign as [string, ...string[]], rules, ...(actions ? { actions: actions as [ComplianceAction, ...ComplianceAction[]] } : {}) },
  };
}

export function policy(name: string, settings: PolicySettings, opts: { priority?: number; assign?: string[] } = {}): PolicyDocument {
  return {
    apiVersion: 'emmctl/v1',
    kind: 'Policy',
    metadata: { name },
    spec: { assign: (opts.assign ?? ['all']) as [string, ...string[]], ...(opts.priority !== undefined ? { priority: opts.priority } : {}), settings },
  };
}

export function group(name: string, spec: GroupSpec): GroupDocument {
  return { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name }, spec };
}

export function profile(name: string, groupName?: string): EnrollmentProfileDocument {
  return {
    apiVersion: 'emmctl/v1',
    kind: 'EnrollmentProfile',
    metadata: { name },
    spec: { platforms: ['android'], ownership: 'corporate', ...(groupName ? { group: groupName } : {}) },
  };
}

export const STANDARD_ACTIONS: ComplianceAction[] = [
  { after: '1d', do: 'markNoncompliant' },
  { after: '3d', do: 'lock' },
  { after: '30d', do: 'retire' },
];
