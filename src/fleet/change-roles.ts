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
//   - creating or updating an EnrollmentProfile whose `group` such a policy assigns.
// Deletions already need admin.
import type { CommandType } from '../model/fleet.js';
import type { ComplianceAction, ResourceDocument, ResourceKind } from '../model/policy.generated.js';
import type { ApiRole } from '../store/api.js';

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
      const group = c.document.spec?.group;
      if (group !== undefined) found = steps.filter((s) => s.assign.includes(group)).map((step) => ({ step, reason: `it puts devices in group ${group} of CompliancePolicy/${step.policy}, whose ${describeStep(step)}` }));
    }
    found.sort((a, b) => RANK[b.step.role] - RANK[a.step.role]);
    for (const f of found) needs.push({ change: i, ref, role: f.step.role, reason: f.reason });
  });
  return needs;
}

/** The first need the role does not meet, if any. */
export function unmetNeed(needs: readonly RoleNeed[], role: ApiRole): RoleNeed | undefined {
  return needs.find((n) => !roleAtLeast(role, n.role));
}
