// Policy → one deviceConfiguration per Intune target; CompliancePolicy → one
// deviceCompliancePolicy per target with its scheduledActionsForRule. And back: Graph objects
// (with their assignments and scheduled actions) → the emmctl document, read from Intune's own
// properties plus what the marker kept. Pure functions: no I/O.
import type { ComplianceAction, CompliancePolicyDocument, GroupDocument, PolicyDocument } from '../../model/policy.generated.js';
import { displayName, getDotted, leafPaths, setDotted, withMarker, type Marker } from './marker.js';
import { COMPLIANCE_FIELDS, COMPLIANCE_TYPES, CONFIGURATION_FIELDS, CONFIGURATION_TYPES, type FieldMap, type IntuneTarget, type TypeInfo, targetsFor } from './targets.js';

export interface Unmapped {
  /** Dotted path from the document root. */
  path: string;
  why: string;
}

export interface TargetObject {
  target: IntuneTarget;
  type: TypeInfo;
  displayName: string;
  /** Properties to create with (no nulls); `reset` lists mapped properties to clear on update. */
  body: Record<string, unknown>;
  reset: Record<string, unknown>;
}

export interface MappedPolicy {
  objects: TargetObject[];
  /** What Intune cannot hold; kept in the marker, reported at plan time. */
  unmapped: Unmapped[];
  /** Group names as assigned; `all` becomes allDevicesAssignmentTarget. */
  assign: string[];
}


function mapFields(values: unknown, fields: FieldMap[], root: string): { props: Record<string, unknown>; reset: Record<string, unknown>; mapped: Set<string> } {
  const props: Record<string, unknown> = {};
  const reset: Record<string, unknown> = {};
  const mapped = new Set<string>();
  for (const f of fields) {
    const v = getDotted(values, f.path);
    const g = v === undefined ? undefined : f.to(v);
    if (g !== undefined) {
      props[f.prop] = g;
      mapped.add(`${root}.${f.path}`);
    } else reset[f.prop] = f.reset;
  }
  return { props, reset, mapped };
}

function keepOf(spec: Record<string, unknown>, root: 'settings' | 'rules', mapped: Set<string>): Record<string, unknown> {
  const keep: Record<string, unknown> = {};
  for (const path of leafPaths(spec[root], root)) if (!mapped.has(path)) keep[path] = getDotted(spec, path);
  return keep;
}

const WHY_NO_TARGET = 'no Graph property of the Intune types it reaches holds this value';

export function mapPolicy(doc: PolicyDocument, groups: ReadonlyMap<string, GroupDocument>): MappedPolicy {
  const targets = targetsFor(doc.spec.assign, groups);
  const mapped = new Set<string>();
  const parts = targets.map((t) => {
    const r = mapFields(doc.spec.settings, CONFIGURATION_FIELDS[t], 'settings');
    r.mapped.forEach((p) => mapped.add(p));
    return { t, ...r };
  });
  const keep = keepOf(doc.spec as unknown as Record<string, unknown>, 'settings', mapped);
  if (doc.spec.priority !== undefined) keep.priority = doc.spec.priority;
  const unmapped: Unmapped[] = Object.keys(keep).filter((p) => p !== 'priority').map((p) => ({ path: `spec.${p}`, why: WHY_NO_TARGET }));
  const marker: Marker = { kind: 'Policy', name: doc.metadata.name, ...meta(doc), ...(Object.keys(keep).length ? { keep } : {}), x: { assign: doc.spec.assign } };
  const description = withMarker(marker);
  return {
    assign: [...doc.spec.assign],
    unmapped,
    objects: parts.map(({ t, props, reset }) => ({
      target: t,
      type: CONFIGURATION_TYPES[t],
      displayName: displayName(doc.metadata.name, t),
      body: { '@odata.type': CONFIGURATION_TYPES[t].odataType, displayName: displayName(doc.metadata.name, t), description, ...props },
      reset,
    })),
  };
}

function meta(doc: { metadata: { description?: string; labels?: Record<string, string> } }): Pick<Marker, 'description' | 'labels'> {
  return {
    ...(doc.metadata.description !== undefined ? { description: doc.metadata.description } : {}),
    ...(doc.metadata.labels && Object.keys(doc.metadata.labels).length ? { labels: doc.metadata.labels } : {}),
  };
}

// ---- compliance ----

/** Whole hours only: Intune's grace periods are hours. */
export function durationHours(d: string): number | undefined {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  if (!m || d === '') return undefined;
  const [, days, hours, mins, secs] = m;
  if ((mins && Number(mins) % 60 !== 0) || (secs && Number(secs) !== 0)) return undefined;
  return Number(days ?? 0) * 24 + Number(hours ?? 0) + Number(mins ?? 0) / 60;
}

const ACTION_TYPE: Record<ComplianceAction['do'], string> = { markNoncompliant: 'block', notify: 'notification', retire: 'retire', lock: 'remoteLock' };
/** The notification action needs a template; the empty GUID is Intune's "no message template". */
const NO_TEMPLATE = '00000000-0000-0000-0000-000000000000';

export interface MappedCompliance extends MappedPolicy {
  /** The scheduled actions (Graph shape), the same for every target. */
  scheduledActions: Array<Record<string, unknown>>;
  /** remoteLock exists only in beta: a policy with a lock step lives there. */
  needsBeta: boolean;
}

export function scheduledActionsFor(actions: readonly ComplianceAction[] | undefined): { configs: Array<Record<string, unknown>>; unmapped: Unmapped[]; implicitBlock: boolean } {
  const unmapped: Unmapped[] = [];
  const configs: Array<Record<string, unknown>> = [];
  (actions ?? []).forEach((a, i) => {
    const hours = durationHours(a.after);
    if (hours === undefined) {
      unmapped.push({ path: `spec.actions[${i}]`, why: `Intune schedules actions in whole hours; "${a.after}" is not` });
      return;
    }
    const c: Record<string, unknown> = { actionType: ACTION_TYPE[a.do], gracePeriodHours: hours };
    if (a.do === 'notify') Object.assign(c, { notificationTemplateId: NO_TEMPLATE, notificationMessageCCList: [] });
    configs.push(c);
  });
  // Graph refuses a compliance policy without exactly one block action: emmctl's "no
  // markNoncompliant step" means non-compliant at once, which is a block at 0 hours.
  const blocks = configs.filter((c) => c.actionType === 'block');
  const implicitBlock = blocks.length === 0;
  if (implicitBlock) configs.unshift({ actionType: 'block', gracePeriodHours: 0 });
  if (blocks.length > 1) {
    for (const extra of blocks.slice(1)) configs.splice(configs.indexOf(extra), 1);
    unmapped.push({ path: 'spec.actions', why: 'Intune takes exactly one markNoncompliant (block) step; the first is applied' });
  }
  return { configs, unmapped, implicitBlock };
}

export function mapCompliance(doc: CompliancePolicyDocument, groups: ReadonlyMap<string, GroupDocument>): MappedCompliance {
  const targets = targetsFor(doc.spec.assign, groups);
  const mapped = new Set<string>();
  const parts = targets.map((t) => {
    const r = mapFields(doc.spec.rules, COMPLIANCE_FIELDS[t], 'rules');
    r.mapped.forEach((p) => mapped.add(p));
    return { t, ...r };
  });
  const keep = keepOf(doc.spec as unknown as Record<string, unknown>, 'rules', mapped);
  const unmapped: Unmapped[] = Object.keys(keep).map((p) => ({
    path: `spec.${p}`,
    why: p === 'rules.maxCheckInAgeDays'
      ? "Intune's check-in age is one tenant-wide setting (Compliance policy settings: \"Compliance status validity period\"), not per policy: set it in the portal"
      : p.startsWith('rules.minOsVersion.ipados')
        ? "iPadOS shares iOS's compliance policy in Intune: minOsVersion.ios applies to iPads"
        : WHY_NO_TARGET,
  }));
  const sched = scheduledActionsFor(doc.spec.actions);
  unmapped.push(...sched.unmapped);
  const needsBeta = sched.configs.some((c) => c.actionType === 'remoteLock');
  const scheduledActions = [{ ruleName: 'PasswordRequired', scheduledActionConfigurations: sched.configs }];
  const marker: Marker = {
    kind: 'CompliancePolicy',
    name: doc.metadata.name,
    ...meta(doc),
    ...(Object.keys(keep).length ? { keep } : {}),
    x: { assign: doc.spec.assign, ...(doc.spec.actions ? { actions: doc.spec.actions } : {}), ...(sched.implicitBlock ? { implicitBlock: true } : {}) },
  };
  const description = withMarker(marker);
  return {
    assign: [...doc.spec.assign],
    unmapped,
    scheduledActions,
    needsBeta,
    objects: parts.map(({ t, props, reset }) => {
      const type = needsBeta ? { ...COMPLIANCE_TYPES[t], version: 'beta' as const } : COMPLIANCE_TYPES[t];
      return {
        target: t,
        type,
        displayName: displayName(doc.metadata.name, t),
        body: { '@odata.type': type.odataType, displayName: displayName(doc.metadata.name, t), description, ...props },
        reset,
      };
    }),
  };
}

// ---- reading back ----

export interface ReadObject {
  target: IntuneTarget;
  /** The Graph object as read (properties, `assignments`, `scheduledActionsForRule`). */
  object: Record<string, unknown>;
}

/** Group names of an object's assignments, in the order the marker recorded, others after. */
export function readAssign(objects: ReadObject[], groupNames: ReadonlyMap<string, string>, recorded: unknown): { assign: string[]; foreign: string[] } {
  const found = new Set<string>();
  const foreign: string[] = [];
  for (const { object } of objects) {
    for (const a of (object.assignments as Array<{ target?: Record<string, unknown> }> | undefined) ?? []) {
      const t = a.target ?? {};
      if (t['@odata.type'] === '#microsoft.graph.allDevicesAssignmentTarget') found.add('all');
      else if (t['@odata.type'] === '#microsoft.graph.groupAssignmentTarget' && typeof t.groupId === 'string') {
        const name = groupNames.get(t.groupId);
        if (name) found.add(name);
        else foreign.push(t.groupId);
      }
    }
  }
  const order = Array.isArray(recorded) ? (recorded as string[]) : [];
  const assign = [...order.filter((n) => found.has(n)), ...[...found].filter((n) => !order.includes(n)).sort()];
  return { assign, foreign };
}

/**
 * Settings read from each object; where two platform objects disagree (one edited in the
 * portal), the most recently modified one speaks, so the plan shows the edit as drift.
 */
function readFields(objects: ReadObject[], tables: Record<IntuneTarget, FieldMap[]>, into: Record<string, unknown>): void {
  const newestFirst = [...objects].sort((a, b) => String(b.object.lastModifiedDateTime ?? '').localeCompare(String(a.object.lastModifiedDateTime ?? '')));
  const seen = new Set<string>();
  for (const { target, object } of newestFirst) {
    for (const f of tables[target]) {
      if (seen.has(f.path)) continue;
      const v = f.from(object[f.prop]);
      if (v === undefined) continue;
      seen.add(f.path);
      setDotted(into, f.path, v);
    }
  }
}

function applyKeep(spec: Record<string, unknown>, keep: Record<string, unknown> | undefined, root: string): void {
  for (const [path, value] of Object.entries(keep ?? {})) {
    if (path === 'priority') spec.priority = value;
    else if (path.startsWith(`${root}.`) || path === root) setDotted(spec, path, value);
  }
}

function metadataOf(marker: Marker): { name: string; description?: string; labels?: Record<string, string> } {
  return { name: marker.name, ...(marker.description !== undefined ? { description: marker.description } : {}), ...(marker.labels ? { labels: marker.labels } : {}) };
}

export function readPolicy(marker: Marker, objects: ReadObject[], groupNames: ReadonlyMap<string, string>): PolicyDocument {
  const settings: Record<string, unknown> = {};
  readFields(objects, CONFIGURATION_FIELDS, settings);
  const spec: Record<string, unknown> = { assign: readAssign(objects, groupNames, marker.x?.assign).assign, settings };
  applyKeep(spec, marker.keep, 'settings');
  return { apiVersion: 'emmctl/v1', kind: 'Policy', metadata: metadataOf(marker), spec: spec as unknown as PolicyDocument['spec'] };
}

const DO_OF: Record<string, ComplianceAction['do']> = { block: 'markNoncompliant', notification: 'notify', retire: 'retire', remoteLock: 'lock' };

function spellHours(hours: number): string {
  return hours % 24 === 0 ? `${hours / 24}d` : `${hours}h`;
}

export function readActions(object: Record<string, unknown>, marker: Marker): ComplianceAction[] | undefined {
  const rules = (object.scheduledActionsForRule as Array<{ scheduledActionConfigurations?: Array<{ actionType?: string; gracePeriodHours?: number }> }> | undefined) ?? [];
  const configs = rules.flatMap((r) => r.scheduledActionConfigurations ?? []);
  const recorded = Array.isArray(marker.x?.actions) ? (marker.x!.actions as ComplianceAction[]) : [];
  let steps: ComplianceAction[] = [];
  for (const c of configs) {
    const what = DO_OF[c.actionType ?? ''];
    if (!what || typeof c.gracePeriodHours !== 'number') continue;
    // The block emmctl added for a policy without a markNoncompliant step is not a step of its own.
    if (what === 'markNoncompliant' && marker.x?.implicitBlock && c.gracePeriodHours === 0 && !recorded.some((a) => a.do === 'markNoncompliant')) continue;
    const same = recorded.find((a) => a.do === what && durationHours(a.after) === c.gracePeriodHours);
    steps.push({ after: same?.after ?? spellHours(c.gracePeriodHours), do: what });
  }
  // In the order written; steps added in the portal after, by time.
  const rank = (s: ComplianceAction) => {
    const i = recorded.findIndex((a) => a.do === s.do && a.after === s.after);
    return i < 0 ? recorded.length + (durationHours(s.after) ?? 0) / 1e6 : i;
  };
  steps = steps.sort((a, b) => rank(a) - rank(b));
  // Steps the mapping could not express were kept in the marker's copy: put them back in place.
  for (const [i, a] of recorded.entries()) {
    if (durationHours(a.after) === undefined && !steps.includes(a)) steps.splice(Math.min(i, steps.length), 0, a);
  }
  return steps.length ? steps : undefined;
}

export function readCompliance(marker: Marker, objects: ReadObject[], groupNames: ReadonlyMap<string, string>): CompliancePolicyDocument {
  const rules: Record<string, unknown> = {};
  readFields(objects, COMPLIANCE_FIELDS, rules);
  const spec: Record<string, unknown> = { assign: readAssign(objects, groupNames, marker.x?.assign).assign, rules };
  applyKeep(spec, marker.keep, 'rules');
  const first = [...objects].sort((a, b) => String(b.object.lastModifiedDateTime ?? '').localeCompare(String(a.object.lastModifiedDateTime ?? '')))[0];
  const actions = first ? readActions(first.object, marker) : undefined;
  if (actions) spec.actions = actions;
  return { apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: metadataOf(marker), spec: spec as unknown as CompliancePolicyDocument['spec'] };
}
