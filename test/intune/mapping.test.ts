// The Intune mapping, both ways, without a network: every document of the example policy repo
// is mapped to Graph objects, those objects are "stored" as Graph would return them (the body
// plus id, assignments and scheduled actions), and reading them back gives the same document.
// An edit made in the portal (a changed property) reads back as a change.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mapGroup, membershipRule, parseMembershipRule, readGroup } from '../../src/backends/intune/map-group.js';
import { durationHours, mapCompliance, mapPolicy, readCompliance, readPolicy, scheduledActionsFor, type ReadObject } from '../../src/backends/intune/map-policy.js';
import { readMarker } from '../../src/backends/intune/marker.js';
import { targetsFor } from '../../src/backends/intune/targets.js';
import { fingerprint, priorityConflicts } from '../../src/backends/intune/index.js';
import type { GroupDocument, PolicyDocument, ResourceDocument } from '../../src/model/policy.generated.js';
import { normalizeDocument } from '../../src/plan/index.js';
import { loadPolicySet } from '../../src/policy/index.js';
import { ROOT } from '../helpers/cli.js';

async function examples(): Promise<ResourceDocument[]> {
  const r = await loadPolicySet([join(ROOT, 'policies')], { cwd: ROOT });
  if (!r.ok) throw new Error('example policies do not validate');
  return r.documents.map((d) => d.document);
}

let nextId = 0;
const id = () => `00000000-0000-0000-0000-${String(++nextId).padStart(12, '0')}`;

/** What Graph hands back for a created object: the body, an id, timestamps, the assignments it was given. */
function stored(body: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> & { id: string } {
  return { ...body, id: id(), createdDateTime: '2026-01-01T00:00:00Z', lastModifiedDateTime: '2026-01-01T00:00:00Z', version: 1, ...extra };
}

function tenantOf(docs: ResourceDocument[]) {
  const groupDocs = new Map(docs.filter((d): d is GroupDocument => d.kind === 'Group').map((d) => [d.metadata.name, d]));
  const groupIds = new Map<string, string>();
  const groupNames = new Map<string, string>();
  const groups = new Map<string, Record<string, unknown>>();
  for (const g of groupDocs.values()) {
    const o = stored(mapGroup(g).body);
    groupIds.set(g.metadata.name, o.id);
    groupNames.set(o.id, g.metadata.name);
    groups.set(g.metadata.name, o);
  }
  const assignments = (assign: string[]) =>
    assign.map((g) => ({ id: id(), target: g === 'all' ? { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } : { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: groupIds.get(g) } }));
  const policies = new Map<string, ReadObject[]>();
  for (const d of docs) {
    if (d.kind === 'Policy') {
      const m = mapPolicy(d, groupDocs);
      policies.set(`Policy/${d.metadata.name}`, m.objects.map((o) => ({ target: o.target, object: stored(o.body, { assignments: assignments(m.assign) }) })));
    } else if (d.kind === 'CompliancePolicy') {
      const m = mapCompliance(d, groupDocs);
      policies.set(`CompliancePolicy/${d.metadata.name}`, m.objects.map((o) => ({
        target: o.target,
        object: stored(o.body, { assignments: assignments(m.assign), scheduledActionsForRule: m.scheduledActions.map((r) => ({ ...r, id: id(), scheduledActionConfigurations: (r.scheduledActionConfigurations as object[]).map((c) => ({ ...c, id: id() })) })) }),
      })));
    }
  }
  return { groupDocs, groups, groupNames, policies };
}

function readBack(t: ReturnType<typeof tenantOf>, d: ResourceDocument): ResourceDocument {
  if (d.kind === 'Group') {
    const o = t.groups.get(d.metadata.name)!;
    return readGroup(readMarker(o.displayName, o.description)!, o);
  }
  const objects = t.policies.get(`${d.kind}/${d.metadata.name}`)!;
  const marker = readMarker(objects[0]!.object.displayName, objects[0]!.object.description)!;
  return d.kind === 'Policy' ? readPolicy(marker, objects, t.groupNames) : readCompliance(marker, objects, t.groupNames);
}

describe('intune mapping', () => {
  it('reads every example Group, Policy and CompliancePolicy back as it was written', async () => {
    const docs = (await examples()).filter((d) => d.kind !== 'EnrollmentProfile');
    expect(docs.length).toBeGreaterThan(8);
    const t = tenantOf(docs);
    for (const d of docs) expect(normalizeDocument(readBack(t, d)), `${d.kind}/${d.metadata.name}`).toEqual(normalizeDocument(d));
  });

  it('reads a property changed in the portal as a change of the emmctl field', async () => {
    const docs = await examples();
    const t = tenantOf(docs);
    const policy = docs.find((d): d is PolicyDocument => d.kind === 'Policy' && d.spec.settings.passcode?.minLength !== undefined)!;
    const objects = t.policies.get(`Policy/${policy.metadata.name}`)!;
    const edited = objects[0]!;
    const prop = Object.keys(edited.object).find((k) => /MinimumLength$/.test(k) && typeof edited.object[k] === 'number')!;
    edited.object[prop] = 99;
    edited.object.lastModifiedDateTime = '2026-02-01T00:00:00Z';
    const back = readBack(t, policy) as PolicyDocument;
    expect(back.spec.settings.passcode?.minLength).toBe(99);
  });

  it('names objects emmctl:<name>:<target> and marks them as emmctl\'s', async () => {
    const docs = await examples();
    const groups = new Map(docs.filter((d): d is GroupDocument => d.kind === 'Group').map((d) => [d.metadata.name, d]));
    const p = docs.find((d): d is PolicyDocument => d.kind === 'Policy')!;
    const m = mapPolicy(p, groups);
    for (const o of m.objects) {
      expect(o.body.displayName).toBe(`emmctl:${p.metadata.name}:${o.target}`);
      expect(readMarker(o.body.displayName, o.body.description)).toMatchObject({ kind: 'Policy', name: p.metadata.name });
    }
    expect(readMarker('Contoso baseline', String(m.objects[0]!.body.description))).toBeUndefined();
    expect(readMarker('emmctl:x', 'no marker here')).toBeUndefined();
  });

  it('turns match into a dynamic device rule and reads only its own rule shape back', () => {
    const rule = membershipRule({ platforms: ['ios', 'ipados'], ownership: 'personal' })!;
    expect(rule).toBe('((device.deviceOSType -eq "iPhone") -or (device.deviceOSType -eq "iPad")) -and (device.deviceOwnership -eq "Personal")');
    expect(parseMembershipRule(rule)).toEqual({ platforms: ['ios', 'ipados'], ownership: 'personal' });
    expect(parseMembershipRule('(device.deviceOSType -eq "iPhone") -or (user.department -eq "x")')).toBeUndefined();
    const g = mapGroup({ apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'fin' }, spec: { match: { labels: { dept: 'fin' }, owners: ['example.com'] } } });
    expect(g.body).toMatchObject({ securityEnabled: true, mailEnabled: false, groupTypes: [], mailNickname: 'emmctl-fin' });
    expect(g.unmapped.map((u) => u.path)).toEqual(['spec.match.labels', 'spec.match.owners', 'spec.match']);
  });

  it('reaches Intune targets by the groups\' platforms and ownership', () => {
    const g = (name: string, match: GroupDocument['spec']['match']): [string, GroupDocument] => [name, { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name }, spec: { match } }];
    const groups = new Map([g('corp-android', { platforms: ['android'], ownership: 'corporate' }), g('byod', { platforms: ['android', 'ipados'], ownership: 'personal' })]);
    expect(targetsFor(['corp-android'], groups)).toEqual(['android-owner']);
    expect(targetsFor(['byod'], groups)).toEqual(['android-work', 'ios']);
    expect(targetsFor(['all'], groups)).toEqual(['android-work', 'android-owner', 'ios', 'macos', 'windows']);
  });

  it('maps escalation steps to scheduled actions with exactly one block', () => {
    expect(durationHours('1d12h')).toBe(36);
    expect(durationHours('90m')).toBeUndefined();
    const steps = scheduledActionsFor([{ after: '1d', do: 'notify' }, { after: '3d', do: 'lock' }]);
    expect(steps.configs.map((c) => [c.actionType, c.gracePeriodHours])).toEqual([['block', 0], ['notification', 24], ['remoteLock', 72]]);
    expect(steps.implicitBlock).toBe(true);
    expect(scheduledActionsFor([{ after: '2d', do: 'markNoncompliant' }]).configs).toEqual([{ actionType: 'block', gracePeriodHours: 48 }]);
  });

  it('reports what Intune cannot hold, the tenant-wide check-in age included', async () => {
    const docs = await examples();
    const groups = new Map(docs.filter((d): d is GroupDocument => d.kind === 'Group').map((d) => [d.metadata.name, d]));
    const baseline = docs.find((d) => d.kind === 'CompliancePolicy' && d.spec.rules.maxCheckInAgeDays !== undefined)!;
    const m = mapCompliance(baseline as never, groups);
    expect(m.unmapped.find((u) => u.path === 'spec.rules.maxCheckInAgeDays')?.why).toMatch(/tenant-wide/);
    expect(m.needsBeta).toBe(true);
  });

  it('warns where two policies set one field differently on one group (Intune has no priority)', () => {
    const p = (name: string, minLength: number, priority?: number): PolicyDocument => ({ apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name }, spec: { assign: ['all'], ...(priority ? { priority } : {}), settings: { passcode: { minLength } } } });
    const lines = priorityConflicts([p('a', 6), p('b', 8, 200)], new Map());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Policy\/a and Policy\/b set settings.passcode.minLength differently \(6 vs 8\).*Intune has no priority \(emmctl would apply Policy\/b's\)/);
    expect(priorityConflicts([p('a', 6), p('b', 6)], new Map())).toEqual([]);
  });

  it('fingerprints a resource: any change to one of its objects changes its version', () => {
    const a = { object: { id: '1', version: 1, lastModifiedDateTime: 'x' } };
    const b = { object: { id: '2', version: 4, lastModifiedDateTime: 'y' } };
    const v = fingerprint([a, b]);
    expect(fingerprint([b, a])).toBe(v);
    expect(fingerprint([a, { object: { ...b.object, version: 5 } }])).not.toBe(v);
    expect(Number.isSafeInteger(v) && v > 0).toBe(true);
  });
});

describe('docs/intune.md', () => {
  it('names every Graph property the mapping writes', async () => {
    const { readFileSync } = await import('node:fs');
    const { CONFIGURATION_FIELDS, COMPLIANCE_FIELDS, CONFIGURATION_TYPES, COMPLIANCE_TYPES, INTUNE_TARGETS } = await import('../../src/backends/intune/targets.js');
    const doc = readFileSync(join(ROOT, 'docs', 'intune.md'), 'utf8');
    const missing: string[] = [];
    for (const t of INTUNE_TARGETS) {
      for (const f of [...CONFIGURATION_FIELDS[t], ...COMPLIANCE_FIELDS[t]]) if (!doc.includes(`\`${f.prop}\``)) missing.push(`${t}: ${f.prop}`);
      for (const type of [CONFIGURATION_TYPES[t], COMPLIANCE_TYPES[t]]) if (!doc.includes(`\`${type.odataType.replace('#microsoft.graph.', '')}\``)) missing.push(type.odataType);
    }
    expect(missing).toEqual([]);
  });
});
