// Which groups a device belongs to, and which documents reach it through those groups.
import { DEVICE_ID_SHAPE, type Device } from '../model/fleet.js';
import { ownerMatches } from '../model/filter.js';
import type { EnrollmentProfileDocument, GroupDocument, GroupMatch } from '../model/policy.generated.js';

/** The built-in group every device belongs to. */
export const ALL_GROUP = 'all';

/**
 * A device's groups, sorted and unique, always including `all`. A device joins a group when
 * - the group's `match` holds: every condition given must hold (an empty `match` holds for all);
 *   platforms: any of; ownership: equal; labels: every key equal; owners: any pattern
 *   (exact address, bare domain or `*@domain`, case-insensitive);
 * - or the group's static `devices` list names its id or serial (the enrolled serial, or the
 *   one the device last reported); an entry shaped like a device id names an id only, so a
 *   device cannot join by taking another device's id as its serial;
 * - or the device enrolled with a profile whose `spec.group` names the group.
 */
export function groupsForDevice(device: Device, groups: GroupDocument[], profiles: EnrollmentProfileDocument[]): string[] {
  const out = new Set<string>([ALL_GROUP]);
  for (const g of groups) {
    if (inGroup(device, g)) out.add(g.metadata.name);
  }
  if (device.profile !== undefined) {
    for (const p of profiles) {
      if (p.metadata.name === device.profile && p.spec.group !== undefined) out.add(p.spec.group);
    }
  }
  return [...out].sort();
}

// Static lists can hold thousands of ids and are asked once per device per evaluation: index
// each list once. Keyed by the array itself, so a changed document gets a fresh index.
const staticIndex = new WeakMap<readonly string[], Set<string>>();

function staticMembers(devices: readonly string[]): Set<string> {
  let set = staticIndex.get(devices);
  if (!set) staticIndex.set(devices, (set = new Set(devices)));
  return set;
}

function inGroup(device: Device, group: GroupDocument): boolean {
  const { match, devices } = group.spec;
  if (devices) {
    const members = staticMembers(devices);
    const serial = device.serial ?? device.posture?.serial;
    if (members.has(device.id) || (serial !== undefined && !DEVICE_ID_SHAPE.test(serial) && members.has(serial))) return true;
  }
  return match !== undefined && matches(device, match);
}

function matches(device: Device, m: GroupMatch): boolean {
  if (m.platforms && !m.platforms.includes(device.platform)) return false;
  if (m.ownership !== undefined && m.ownership !== device.ownership) return false;
  if (m.labels) {
    for (const [k, v] of Object.entries(m.labels)) if (device.labels[k] !== v) return false;
  }
  if (m.owners && !m.owners.some((p) => ownerMatches(device.owner, p))) return false;
  return true;
}

/** The documents assigned to any of `groups`, in their given order. */
export function policiesForGroups<T extends { spec: { assign: readonly string[] } }>(docs: readonly T[], groups: readonly string[]): T[] {
  const set = new Set(groups);
  return docs.filter((d) => d.spec.assign.some((a) => set.has(a)));
}
