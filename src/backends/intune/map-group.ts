// Group → an Entra ID security group. `match` becomes a dynamic membershipRule on device
// properties; a static `devices` list an assigned group. Match fields with no device property
// (labels, owners) are reported at plan time and kept in the marker. Pure.
import type { GroupDocument, Platform } from '../../model/policy.generated.js';
import { displayName, withMarker, type Marker } from './marker.js';
import type { Unmapped } from './map-policy.js';

/** device.deviceOSType values Entra ID records per platform (Android has one per management mode). */
const OS_TYPES: Record<Platform, string[]> = {
  android: ['Android', 'AndroidEnterprise', 'AndroidForWork'],
  ios: ['iPhone'],
  ipados: ['iPad'],
  macos: ['MacMDM'],
  windows: ['Windows'],
};
const OWNERSHIP = { corporate: 'Company', personal: 'Personal' } as const;

export function membershipRule(match: { platforms?: readonly Platform[]; ownership?: 'corporate' | 'personal' }): string | undefined {
  const clauses: string[] = [];
  if (match.platforms?.length) {
    const types = match.platforms.flatMap((p) => OS_TYPES[p]);
    clauses.push(`(${types.map((t) => `(device.deviceOSType -eq "${t}")`).join(' -or ')})`);
  }
  if (match.ownership) clauses.push(`(device.deviceOwnership -eq "${OWNERSHIP[match.ownership]}")`);
  return clauses.length ? clauses.join(' -and ') : undefined;
}

/** Reads back a rule emmctl wrote; undefined for a rule of another shape (not emmctl's). */
export function parseMembershipRule(rule: string): NonNullable<GroupDocument['spec']['match']> | undefined {
  const out: { platforms?: [Platform, ...Platform[]]; ownership?: 'corporate' | 'personal' } = {};
  const types = [...rule.matchAll(/device\.deviceOSType -eq "([^"]+)"/g)].map((m) => m[1]!);
  const platforms = (Object.keys(OS_TYPES) as Platform[]).filter((p) => OS_TYPES[p].every((t) => types.includes(t)));
  if (types.length) {
    const covered = platforms.flatMap((p) => OS_TYPES[p]);
    if (types.some((t) => !covered.includes(t))) return undefined;
    if (!platforms.length) return undefined;
    out.platforms = platforms as [Platform, ...Platform[]];
  }
  const owner = /device\.deviceOwnership -eq "(Company|Personal)"/.exec(rule);
  if (owner) out.ownership = owner[1] === 'Company' ? 'corporate' : 'personal';
  const rebuilt = membershipRule(out);
  if (rebuilt !== rule.trim()) return undefined;
  return out;
}

export interface MappedGroup {
  body: Record<string, unknown>;
  unmapped: Unmapped[];
  /** Static members to resolve to Entra device objects (ids or serials, as written). */
  members?: string[];
}

/** mailNickname is required and unique in the tenant even for groups without mail. */
export function mailNickname(name: string): string {
  return `emmctl-${name}`;
}

export function mapGroup(doc: GroupDocument): MappedGroup {
  const keep: Record<string, unknown> = {};
  const unmapped: Unmapped[] = [];
  const match = doc.spec.match;
  let rule: string | undefined;
  if (match) {
    rule = membershipRule(match);
    if (match.labels && Object.keys(match.labels).length) {
      keep['match.labels'] = match.labels;
      unmapped.push({ path: 'spec.match.labels', why: 'Entra ID devices have no labels; no dynamic rule can test them' });
    }
    if (match.owners?.length) {
      keep['match.owners'] = match.owners;
      unmapped.push({ path: 'spec.match.owners', why: "a device membership rule cannot test the owner's address (device rules have no user properties)" });
    }
    if (!rule) unmapped.push({ path: 'spec.match', why: 'no condition Intune can test is left: the group would have no rule; it is made an assigned group with no members' });
  }
  if (doc.spec.devices) keep.devices = doc.spec.devices;
  const marker: Marker = {
    kind: 'Group',
    name: doc.metadata.name,
    ...(doc.metadata.description !== undefined ? { description: doc.metadata.description } : {}),
    ...(doc.metadata.labels && Object.keys(doc.metadata.labels).length ? { labels: doc.metadata.labels } : {}),
    ...(Object.keys(keep).length ? { keep } : {}),
    ...(match && (!rule || match.platforms) ? { x: { ...(rule ? {} : { emptyMatch: true }), ...(match.platforms ? { platforms: match.platforms } : {}) } } : {}),
  };
  const body: Record<string, unknown> = {
    displayName: displayName(doc.metadata.name),
    description: withMarker(marker),
    mailEnabled: false,
    mailNickname: mailNickname(doc.metadata.name),
    securityEnabled: true,
    groupTypes: rule ? ['DynamicMembership'] : [],
    ...(rule ? { membershipRule: rule, membershipRuleProcessingState: 'On' } : {}),
  };
  return { body, unmapped, ...(doc.spec.devices ? { members: [...doc.spec.devices] } : {}) };
}

export function readGroup(marker: Marker, group: Record<string, unknown>): GroupDocument {
  const keep = marker.keep ?? {};
  const spec: GroupDocument['spec'] = {};
  const rule = typeof group.membershipRule === 'string' ? group.membershipRule : undefined;
  const match: NonNullable<GroupDocument['spec']['match']> = {};
  if (rule) {
    // A rule edited into a shape emmctl does not write reads as no condition: the plan then shows it.
    const parsed = parseMembershipRule(rule) ?? {};
    // The rule's OS types are a set: the platforms read back in the order they were written.
    const written = Array.isArray(marker.x?.platforms) ? (marker.x!.platforms as Platform[]) : undefined;
    if (parsed.platforms && written && written.length === parsed.platforms.length && written.every((p) => parsed.platforms!.includes(p))) parsed.platforms = [...written] as [Platform, ...Platform[]];
    Object.assign(match, parsed);
  }
  if (keep['match.labels']) match.labels = keep['match.labels'] as Record<string, string>;
  if (keep['match.owners']) match.owners = keep['match.owners'] as [string, ...string[]];
  if (Object.keys(match).length || marker.x?.emptyMatch) spec.match = match;
  if (keep.devices) spec.devices = keep.devices as [string, ...string[]];
  return {
    apiVersion: 'emmctl/v1',
    kind: 'Group',
    metadata: { name: marker.name, ...(marker.description !== undefined ? { description: marker.description } : {}), ...(marker.labels ? { labels: marker.labels } : {}) },
    spec,
  };
}

/** A group emmctl does not own, as the Group it can express (for `export --adopt`), or why not. */
export function adoptGroup(group: Record<string, unknown>, name: string): { doc?: GroupDocument; why?: string } {
  const rule = typeof group.membershipRule === 'string' ? group.membershipRule : undefined;
  const dynamic = Array.isArray(group.groupTypes) && group.groupTypes.includes('DynamicMembership');
  const description = typeof group.description === 'string' && group.description ? { description: group.description } : {};
  if (dynamic && rule) {
    const match = parseMembershipRule(rule);
    if (!match) return { why: `its membership rule "${rule}" uses conditions emmctl cannot express` };
    return { doc: { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name, ...description }, spec: { match } } };
  }
  return { why: 'it is an assigned group: emmctl adopts dynamic device groups only' };
}
