// The store's one door to the pure compliance/configuration engine (src/compliance). Everything
// the store evaluates goes through these names, so swapping the engine touches only this file.
// TEMPORARY: a minimal local stand-in until src/compliance/index.ts lands; then this file becomes
// a plain re-export of that module.
import { createHash } from 'node:crypto';
import type { EffectiveConfiguration } from '../backends/backend.js';
import type { ComplianceStatus, Device, RuleFailure } from '../model/fleet.js';
import { ownerMatches } from '../model/filter.js';
import type { CompliancePolicyDocument, EnrollmentProfileDocument, GroupDocument, PolicyDocument } from '../model/policy.generated.js';

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function parseDuration(text: string): number {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === '') throw new Error(`invalid duration "${text}"`);
  const [, d, h, mi, s] = m.map((x) => Number(x ?? 0));
  return (((d! * 24 + h!) * 60 + mi!) * 60 + s!) * 1000;
}

export function groupsForDevice(device: Device, groups: GroupDocument[], profiles: EnrollmentProfileDocument[]): string[] {
  const out = ['all'];
  for (const g of groups) {
    const spec = g.spec;
    let hit = false;
    if (spec.devices) hit = spec.devices.includes(device.id) || (device.serial !== undefined && spec.devices.includes(device.serial));
    else if (spec.match) {
      const m = spec.match;
      hit = (!m.platforms || m.platforms.includes(device.platform))
        && (!m.ownership || m.ownership === device.ownership)
        && (!m.labels || Object.entries(m.labels).every(([k, v]) => device.labels[k] === v))
        && (!m.owners || m.owners.some((p) => ownerMatches(device.owner, p)));
    }
    if (!hit && device.profile) hit = profiles.some((p) => p.metadata.name === device.profile && p.spec.group === g.metadata.name);
    if (hit) out.push(g.metadata.name);
  }
  return out;
}

export function policiesForGroups<T extends { spec: { assign: string[] } }>(docs: T[], groups: string[]): T[] {
  return docs.filter((d) => d.spec.assign.some((a) => groups.includes(a)));
}

export function evaluateCompliance(input: { device: Device; policies: CompliancePolicyDocument[]; now: Date; noncompliantSince?: string }): { status: ComplianceStatus; failures: RuleFailure[]; policies: string[]; failing: boolean } {
  const { device, policies, now } = input;
  const names = policies.map((p) => p.metadata.name);
  const posture = device.posture;
  if (!posture) return { status: 'unknown', failures: [], policies: names, failing: false };
  const failures: RuleFailure[] = [];
  for (const p of policies) {
    const r = p.spec.rules;
    const fail = (rule: string, expected: string, actual: string) => failures.push({ policy: p.metadata.name, rule, expected, actual });
    const min = r.minOsVersion?.[device.platform];
    if (min && compareVersions(posture.osVersion, min) < 0) fail('minOsVersion', `>= ${min}`, posture.osVersion);
    if (r.encryption && !posture.encrypted) fail('encryption', 'encrypted', 'not encrypted');
    if (r.passcode && !posture.passcodeSet) fail('passcode', 'set', 'not set');
    if (r.compromised && posture.compromised) fail('compromised', 'not compromised', 'compromised');
    if (r.maxCheckInAgeDays !== undefined && device.lastCheckIn && now.getTime() - Date.parse(device.lastCheckIn) > r.maxCheckInAgeDays * 86_400_000) fail('maxCheckInAgeDays', `<= ${r.maxCheckInAgeDays}d`, device.lastCheckIn);
    for (const app of r.requiredApps ?? []) if (!posture.installedApps.includes(app)) fail('requiredApps', app, 'missing');
    for (const app of r.blockedApps ?? []) if (posture.installedApps.includes(app)) fail('blockedApps', `not ${app}`, 'installed');
  }
  if (failures.length === 0) return { status: 'compliant', failures, policies: names, failing: false };
  const since = input.noncompliantSince ? Date.parse(input.noncompliantSince) : now.getTime();
  const failingPolicies = new Set(failures.map((f) => f.policy));
  let marked = false;
  for (const p of policies) {
    if (!failingPolicies.has(p.metadata.name)) continue;
    const mark = p.spec.actions?.find((a) => a.do === 'markNoncompliant');
    if (!p.spec.actions || (mark && now.getTime() - since >= parseDuration(mark.after))) marked = true;
  }
  return { status: marked ? 'noncompliant' : 'in-grace', failures, policies: names, failing: true };
}

export function dueEscalations(input: { policies: CompliancePolicyDocument[]; failures: RuleFailure[]; noncompliantSince: string; now: Date; fired: ReadonlySet<string> }): Array<{ key: string; policy: string; index: number; action: 'markNoncompliant' | 'notify' | 'lock' | 'retire' }> {
  const failing = new Set(input.failures.map((f) => f.policy));
  const elapsed = input.now.getTime() - Date.parse(input.noncompliantSince);
  const out: Array<{ key: string; policy: string; index: number; action: 'markNoncompliant' | 'notify' | 'lock' | 'retire' }> = [];
  for (const p of input.policies) {
    if (!failing.has(p.metadata.name)) continue;
    (p.spec.actions ?? []).forEach((a, index) => {
      const key = `${p.metadata.name}#${index}`;
      if (!input.fired.has(key) && elapsed >= parseDuration(a.after)) out.push({ key, policy: p.metadata.name, index, action: a.do });
    });
  }
  return out;
}

export function effectiveConfiguration(policies: PolicyDocument[]): EffectiveConfiguration {
  const sorted = [...policies].sort((a, b) => (a.spec.priority ?? 0) - (b.spec.priority ?? 0));
  const settings: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const p of sorted) {
    for (const [k, v] of Object.entries(p.spec.settings)) {
      settings[k] = v;
      sources[k] = p.metadata.name;
    }
  }
  const version = createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
  return { version, settings, sources };
}
