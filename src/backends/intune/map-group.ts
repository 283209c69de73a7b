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
    // A rule with conditions emmctl cannot express reads as none: the plan then shows the difference.
    // emmctl's own shape first; a rule edited (or adopted) in another shape is read for what it means.
    const parsed = parseMembershipRule(rule) ?? parseAdoptableRule(rule) ?? {};
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

/**
 * A rule written by hand, read for adoption: an AND of clauses, each an OR of
 * `device.deviceOSType -eq "…"` or of `device.deviceOwnership -eq "…"` (parentheses, `-and`/`and`,
 * `-eq`/`eq` and case as people write them). A platform counts when any of its OS types is named.
 */
export function parseAdoptableRule(rule: string): NonNullable<GroupDocument['spec']['match']> | undefined {
  const text = rule.replace(/[()]/g, ' ').trim();
  if (!text) return undefined;
  const out: { platforms?: [Platform, ...Platform[]]; ownership?: 'corporate' | 'personal' } = {};
  for (const part of text.split(/\s+-?and\s+/i)) {
    const atoms = part.split(/\s+-?or\s+/i).map((a) => /^device\.(deviceOSType|deviceOwnership)\s+-?eq\s+"([^"]*)"$/i.exec(a.trim()));
    if (atoms.some((a) => !a)) return undefined;
    const props = new Set(atoms.map((a) => a![1]!.toLowerCase()));
    if (props.size !== 1) return undefined;
    const values = atoms.map((a) => a![2]!.toLowerCase());
    if (props.has('deviceostype')) {
      if (out.platforms) return undefined;
      const platforms = (Object.keys(OS_TYPES) as Platform[]).filter((p) => OS_TYPES[p].some((t) => values.includes(t.toLowerCase())));
      const known = (Object.values(OS_TYPES).flat() as string[]).map((t) => t.toLowerCase());
      if (!platforms.length || values.some((v) => !known.includes(v) && v !== 'ios' && v !== 'ipad')) return undefined;
      if (values.includes('ios') && !platforms.includes('ios')) platforms.push('ios');
      out.platforms = (Object.keys(OS_TYPES) as Platform[]).filter((p) => platforms.includes(p)) as [Platform, ...Platform[]];
    } else {
      if (out.ownership || values.length !== 1 || !['company', 'personal'].includes(values[0]!)) return undefined;
      out.ownership = values[0] === 'company' ? 'corporate' : 'personal';
    }
  }
  return out;
}

/** A group emmctl does not own, as the Group it can express (for `export --adopt`), or why not. */
export function adoptGroup(group: Record<string, unknown>, name: string): { doc?: GroupDocument; why?: string } {
  const rule = typeof group.membershipRule === 'string' ? group.membershipRule : undefined;
  const dynamic = Array.isArray(group.groupTypes) && group.groupTypes.includes('DynamicMembership');
  const description = typeof group.description === 'string' && group.description ? { description: group.description } : {};
  if (dynamic && rule) {
    const match = parseAdoptableRule(rule);
    if (!match) return { why: `its membership rule "${rule}" uses conditions emmctl cannot express` };
    return { doc: { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name, ...description }, spec: { match } } };
  }
  return { why: 'it is an assigned group: emmctl adopts dynamic device groups only' };
}
