// Which API role a command needs, and which role a resource change needs because of the
// commands its effect can queue. Written once: the server enforces it (direct commands and
// apply), and `plan` over HTTP uses it to warn before anything is applied.
//
// The rule: an escalation step that queues a command (lock, retire) needs the role that the
// direct command needs. A change needs that role when, after it, the step can reach devices
// it could not before or in a new way:
//   - creating or updating a CompliancePolicy that has such a step (any edit of its rules or
//     assignments changes who gets the command);
//   - creating or updating a Group that such a policy assigns (its members are who gets it);
//   - creating or updating an EnrollmentProfile whose devices could be in a group such a policy
//     assigns: its `group`, the built-in `all`, or any Group whose `match` its platforms,
//     ownership and labels could meet (a condition on a field the profile does not fix, such as
//     owners, counts as met);
//   - pre-registering a device whose labels or ownership could bring it into such a Group
//     (a Group whose `match` tests a label or the ownership the row sets, and nothing it contradicts).
// Deletions already need admin.
import type { CommandType } from '../model/fleet.js';
import type { ComplianceAction, GroupMatch, Ownership, Platform, ResourceDocument, ResourceKind } from '../model/policy.generated.js';
import type { ApiRole } from '../model/access.js';

const RANK: Record<ApiRole, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleAtLeast(role: ApiRole, needed: ApiRole): boolean {
  return RANK[role] >= RANK[needed];
}

/** The role a direct command needs; destroying data needs more than the operator role. */
export const COMMAND_ROLES: Readonly<Record<CommandType, ApiRole>> = { lock: 'operator', reboot: 'operator', wipe: 'admin', retire: 'admin' };

/** Escalation steps that queue a command, and which. */
const STEP_COMMANDS: Partial<Record<ComplianceAction['do'], CommandType>> = { lock: 'lock', retire: 'retire' };

export interface RoleChange {
  op: 'create' | 'update' | 'delete';
  kind: ResourceKind;
  name: string;
  document?: ResourceDocument;
}

export interface RoleNeed {
  /** Index of the change in the list. */
  change: number;
  /** `Kind/name` of the changed document. */
  ref: string;
  role: ApiRole;
  /** Why, in the words of the 403: `its step spec.actions[0] {after: 0d, do: retire} queues retire commands, which need the admin role`. */
  reason: string;
}

interface Step {
  policy: string;
  index: number;
  action: ComplianceAction;
  command: CommandType;
  role: ApiRole;
  assign: readonly string[];
}

function commandSteps(doc: ResourceDocument | undefined): Step[] {
  if (doc?.kind !== 'CompliancePolicy') return [];
  const actions = Array.isArray(doc.spec?.actions) ? doc.spec.actions : [];
  const assign = Array.isArray(doc.spec?.assign) ? doc.spec.assign : [];
  const steps: Step[] = [];
  actions.forEach((action, index) => {
    const command = Object.prototype.hasOwnProperty.call(STEP_COMMANDS, action?.do) ? STEP_COMMANDS[action.do] : undefined;
    if (command) steps.push({ policy: doc.metadata.name, index, action, command, role: COMMAND_ROLES[command], assign });
  });
  return steps;
}

const describeStep = (s: Step) => `step spec.actions[${s.index}] {after: ${s.action.after}, do: ${s.action.do}} queues ${s.command} commands, which need the ${s.role} role`;

/**
 * Every role the changes need because of command-queueing steps, strongest first within a
 * change. `current` is the stored state the changes apply to.
 */
export function roleNeeds(changes: readonly RoleChange[], current: ReadonlyArray<{ kind: ResourceKind; name: string; document: ResourceDocument }>): RoleNeed[] {
  // The state after the changes: who the steps reach is decided by the documents as they will be.
  const after = new Map(current.map((r) => [`${r.kind}/${r.name}`, r.document]));
  for (const c of changes) {
    if (c.op === 'delete') after.delete(`${c.kind}/${c.name}`);
    else if (c.document) after.set(`${c.kind}/${c.name}`, c.document);
  }
  const steps = [...after.values()].flatMap(commandSteps);
  const needs: RoleNeed[] = [];
  changes.forEach((c, i) => {
    if (c.op === 'delete' || !c.document) return;
    const ref = `${c.kind}/${c.name}`;
    let found: Array<{ step: Step; reason: string }> = [];
    if (c.kind === 'CompliancePolicy') {
      found = commandSteps(c.document).map((step) => ({ step, reason: `its ${describeStep(step)}` }));
    } else if (c.kind === 'Group') {
      found = steps.filter((s) => s.assign.includes(c.name)).map((step) => ({ step, reason: `it chooses the devices of CompliancePolicy/${step.policy}, whose ${describeStep(step)}` }));
    } else if (c.kind === 'EnrollmentProfile' && c.document.kind === 'EnrollmentProfile') {
      const spec = c.document.spec;
      const groups = new Set(['all', ...reachableGroups(after.values(), { platforms: spec?.platforms, ownership: spec?.ownership, labels: spec?.labels })]);
      if (spec?.group !== undefined) groups.add(spec.group);
      found = steps.flatMap((step) => {
        const g = step.assign.find((a) => groups.has(a));
        return g === undefined ? [] : [{ step, reason: `its devices can be in group ${g} of CompliancePolicy/${step.policy}, whose ${describeStep(step)}` }];
      });
    }
    found.sort((a, b) => RANK[b.step.role] - RANK[a.step.role]);
    for (const f of found) needs.push({ change: i, ref, role: f.step.role, reason: f.reason });
  });
  return needs;
}

/** What a device is known to have before it enrolls; a field left out may be anything. */
export interface DeviceTraits {
  platforms?: readonly Platform[];
  ownership?: Ownership;
  labels?: Readonly<Record<string, string>>;
}

/** A `match` the device could meet: nothing it tests contradicts what the traits fix. */
function couldMatch(t: DeviceTraits, m: GroupMatch): boolean {
  if (m.platforms && t.platforms && !t.platforms.some((p) => m.platforms!.includes(p))) return false;
  if (m.ownership !== undefined && t.ownership !== undefined && m.ownership !== t.ownership) return false;
  for (const [k, v] of Object.entries(m.labels ?? {})) if (t.labels && Object.prototype.hasOwnProperty.call(t.labels, k) && t.labels[k] !== v) return false;
  return true;
}

/** Groups (by `match`) whose members devices with these traits could be; `onlyIfSet`: only those the traits help into. */
function reachableGroups(docs: Iterable<ResourceDocument>, t: DeviceTraits, onlyIfSet = false): string[] {
  const out: string[] = [];
  for (const d of docs) {
    if (d.kind !== 'Group' || !d.spec?.match || !couldMatch(t, d.spec.match)) continue;
    const m = d.spec.match;
    const helped = (m.ownership !== undefined && t.ownership !== undefined) || Object.keys(m.labels ?? {}).some((k) => t.labels && Object.prototype.hasOwnProperty.call(t.labels, k));
    if (!onlyIfSet || helped) out.push(d.metadata.name);
  }
  return out;
}

/**
 * Roles the pre-registration rows need: a row whose labels or ownership can bring its device
 * into a group that a command-queueing step reaches needs that step's role. `where` names the row.
 */
export function preregisterNeeds(rows: ReadonlyArray<{ platform: Platform; ownership?: Ownership; labels?: Record<string, string> }>, current: ReadonlyArray<{ document: ResourceDocument }>): Array<{ row: number; role: ApiRole; reason: string }> {
  const docs = current.map((r) => r.document);
  const steps = docs.flatMap(commandSteps).sort((a, b) => RANK[b.role] - RANK[a.role]);
  const needs: Array<{ row: number; role: ApiRole; reason: string }> = [];
  rows.forEach((r, row) => {
    const groups = new Set(reachableGroups(docs, { platforms: [r.platform], ownership: r.ownership, labels: r.labels }, true));
    for (const step of steps) {
      const g = step.assign.find((a) => groups.has(a));
      if (g !== undefined) needs.push({ row, role: step.role, reason: `its labels/ownership can put the device in group ${g} of CompliancePolicy/${step.policy}, whose ${describeStep(step)}` });
    }
  });
  return needs;
}

/** The first need the role does not meet, if any. */
export function unmetNeed<N extends { role: ApiRole }>(needs: readonly N[], role: ApiRole): N | undefined {
  return needs.find((n) => !roleAtLeast(role, n.role));
}
