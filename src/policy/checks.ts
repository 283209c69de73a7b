// Checks the schema cannot express: per document (settings that only make sense together,
// real dates, sane durations) and across documents (unique names, resolvable group
// references, conflicting settings between policies of equal priority).
import { conflictingSettings } from '../compliance/merge.js';
import type { ComplianceAction, PolicyDocument, ResourceDocument } from '../model/policy.generated.js';
import { didYouMean } from '../model/suggest.js';
import { pathString, type DocPath, type Problem, type Severity, type SourcePosition } from './types.js';

export const BUILTIN_GROUP = 'all';

/** Every rule id the checks beyond the schema emit (docs/policy-reference.md lists them). */
export const CHECK_RULES = [
  'duplicate-name', 'unknown-group', 'reserved-name', 'policy-conflict', 'invalid-version', 'invalid-date',
  'invalid-duration', 'action-order', 'os-update-window', 'vpn-lockdown', 'wifi-password', 'app-conflict', 'unset-secret',
  'notify-no-channel',
] as const;

/**
 * A `notify` step reaches people only through a server started with `--notify-webhook`. The files
 * cannot know the target, so the warning is always made here and dropped by the command when the
 * target has a channel: `validate --notify-channel`, or plan/apply asking the backend.
 */
export const NOTIFY_NO_CHANNEL: CheckRule = 'notify-no-channel';
export type CheckRule = (typeof CHECK_RULES)[number];

export interface CheckedDocument {
  document: ResourceDocument;
  file: string;
  locate(path: DocPath, target?: 'key' | 'value'): SourcePosition;
}

function problem(d: CheckedDocument, path: DocPath, message: string, rule: CheckRule, severity: Severity = 'error', target: 'key' | 'value' = 'value'): Problem {
  return { ...d.locate(path, target), path: pathString(path), message, rule, severity };
}

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const MAX_DURATION_MS = 3650 * 86_400_000;

export function durationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || !text) return undefined;
  const [d, h, mi, s] = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number];
  return (((d * 24 + h) * 60 + mi) * 60 + s) * 1000;
}

export function isRealDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

function checkDuration(d: CheckedDocument, path: DocPath, text: string, out: Problem[], minMs = 0): void {
  const ms = durationMs(text);
  if (ms === undefined) return; // the schema already said so
  if (ms > MAX_DURATION_MS) out.push(problem(d, path, `duration "${text}" is longer than 3650 days`, 'invalid-duration'));
  else if (ms < minMs) out.push(problem(d, path, `duration "${text}" is too short: at least 1m`, 'invalid-duration'));
}

/** Checks of one schema-valid document on its own. */
export function checkDocument(d: CheckedDocument): Problem[] {
  const out: Problem[] = [];
  const doc = d.document;
  switch (doc.kind) {
    case 'Group':
      if (doc.metadata.name === BUILTIN_GROUP) out.push(problem(d, ['metadata', 'name'], `"${BUILTIN_GROUP}" is the built-in group of every device: choose another name`, 'reserved-name'));
      break;
    case 'Policy': {
      const s = doc.spec.settings;
      if (s.osUpdates) {
        const { mode, window, postponeDays } = s.osUpdates;
        const base = ['spec', 'settings', 'osUpdates'];
        if (mode === 'windowed' && !window) out.push(problem(d, [...base, 'mode'], 'osUpdates mode "windowed" needs a "window" (start, end)', 'os-update-window'));
        if (mode !== 'windowed' && window) out.push(problem(d, [...base, 'window'], `osUpdates "window" only applies to mode "windowed" (mode is "${mode}")`, 'os-update-window', 'error', 'key'));
        if (mode === 'postponed' && postponeDays === undefined) out.push(problem(d, [...base, 'mode'], 'osUpdates mode "postponed" needs "postponeDays"', 'os-update-window'));
        if (mode !== 'postponed' && postponeDays !== undefined) out.push(problem(d, [...base, 'postponeDays'], `osUpdates "postponeDays" only applies to mode "postponed" (mode is "${mode}")`, 'os-update-window', 'error', 'key'));
        if (window && window.start === window.end) out.push(problem(d, [...base, 'window', 'end'], 'maintenance window is empty: start and end are equal', 'os-update-window'));
      }
      if (s.vpn?.lockdown === true && s.vpn.alwaysOn !== true) out.push(problem(d, ['spec', 'settings', 'vpn', 'lockdown'], 'vpn lockdown needs "alwaysOn: true" (traffic is blocked only while an always-on VPN is down)', 'vpn-lockdown'));
      const ssids = new Map<string, number>();
      (s.wifi ?? []).forEach((net, i) => {
        const base = ['spec', 'settings', 'wifi', i];
        const personal = net.security.endsWith('-personal');
        if (personal && net.password === undefined) out.push(problem(d, [...base, 'security'], `Wi-Fi "${net.ssid}" uses ${net.security} and needs a "password" secret reference like \${env:WIFI_PSK}`, 'wifi-password'));
        if (!personal && net.password !== undefined) out.push(problem(d, [...base, 'password'], `Wi-Fi "${net.ssid}" uses ${net.security}, which takes no password`, 'wifi-password', 'error', 'key'));
        const first = ssids.get(net.ssid);
        if (first !== undefined) out.push(problem(d, [...base, 'ssid'], `Wi-Fi "${net.ssid}" is listed twice (first at wifi[${first}])`, 'wifi-password'));
        else ssids.set(net.ssid, i);
      });
      appConflicts(d, s.apps?.required, s.apps?.blocked, ['spec', 'settings', 'apps', 'blocked'], out);
      break;
    }
    case 'CompliancePolicy': {
      const r = doc.spec.rules;
      for (const [platform, version] of Object.entries(r.minOsVersion ?? {})) {
        if (typeof version === 'string' && version.split('.').some((part) => part.length > 9)) out.push(problem(d, ['spec', 'rules', 'minOsVersion', platform], `version "${version}" has a part longer than 9 digits`, 'invalid-version'));
      }
      if (r.minPatchLevel !== undefined && !isRealDate(r.minPatchLevel)) out.push(problem(d, ['spec', 'rules', 'minPatchLevel'], `"${r.minPatchLevel}" is not a calendar date`, 'invalid-date'));
      appConflicts(d, r.requiredApps, r.blockedApps, ['spec', 'rules', 'blockedApps'], out);
      checkActions(d, doc.spec.actions ?? [], out);
      break;
    }
    case 'EnrollmentProfile':
      if (doc.spec.tokenTtl !== undefined) checkDuration(d, ['spec', 'tokenTtl'], doc.spec.tokenTtl, out, 60_000);
      break;
  }
  return out;
}

function appConflicts(d: CheckedDocument, required: readonly string[] | undefined, blocked: readonly string[] | undefined, blockedPath: DocPath, out: Problem[]): void {
  if (!required || !blocked) return;
  const req = new Set(required);
  blocked.forEach((app, i) => {
    if (req.has(app)) out.push(problem(d, [...blockedPath, i], `app "${app}" is both required and blocked`, 'app-conflict'));
  });
}

function checkActions(d: CheckedDocument, actions: readonly ComplianceAction[], out: Problem[]): void {
  let prevMs = -1;
  const seen = new Set<string>();
  actions.forEach((a, i) => {
    const path = ['spec', 'actions', i, 'after'];
    checkDuration(d, path, a.after, out);
    const ms = durationMs(a.after);
    if (ms === undefined) return;
    if (ms < prevMs) out.push(problem(d, path, `actions must be listed in increasing "after" order: ${a.after} comes after a later step`, 'action-order'));
    const key = `${ms}:${a.do}`;
    if (seen.has(key)) out.push(problem(d, ['spec', 'actions', i, 'do'], `"${a.do}" after ${a.after} is listed twice`, 'action-order'));
    seen.add(key);
    if (a.do === 'notify') {
      out.push(problem(d, ['spec', 'actions', i, 'do'], `the notify step after ${a.after} reaches nobody unless the server has a notification channel (emmctl server --notify-webhook URL)`, 'notify-no-channel', 'warning'));
    }
    prevMs = Math.max(prevMs, ms);
  });
}

/** Checks across every document loaded together. */
export function checkDocumentSet(docs: readonly CheckedDocument[]): Problem[] {
  const out: Problem[] = [];
  const first = new Map<string, CheckedDocument>();
  const groups = new Set<string>([BUILTIN_GROUP]);
  for (const d of docs) if (d.document.kind === 'Group') groups.add(d.document.metadata.name);
  for (const d of docs) {
    const { kind, metadata } = d.document;
    const id = `${kind}/${metadata.name}`;
    const prior = first.get(id);
    if (prior) {
      const at = prior.locate(['metadata', 'name']);
      out.push(problem(d, ['metadata', 'name'], `${kind} "${metadata.name}" is declared twice (first at ${prior.file}:${at.line}:${at.column}); names are unique per kind`, 'duplicate-name'));
    } else first.set(id, d);
    const refs: Array<[string, DocPath]> =
      d.document.kind === 'EnrollmentProfile'
        ? d.document.spec.group !== undefined ? [[d.document.spec.group, ['spec', 'group']]] : []
        : d.document.kind === 'Group' ? [] : d.document.spec.assign.map((g, i) => [g, ['spec', 'assign', i]]);
    for (const [group, path] of refs) {
      if (groups.has(group)) continue;
      const guess = didYouMean(group, groups);
      out.push(problem(d, path, `unknown group "${group}"${guess ? ` (did you mean "${guess}"?)` : ''}: declare a Group with this name or use the built-in "all"`, 'unknown-group'));
    }
  }
  out.push(...policyConflicts(docs));
  return out;
}

function policyConflicts(docs: readonly CheckedDocument[]): Problem[] {
  const policies = docs.filter((d) => d.document.kind === 'Policy');
  if (policies.length < 2) return [];
  const byName = new Map(policies.map((d) => [d.document.metadata.name, d]));
  const out: Problem[] = [];
  for (const c of conflictingSettings(policies.map((d) => d.document as PolicyDocument))) {
    const a = byName.get(c.policies[0])!;
    const b = byName.get(c.policies[1])!;
    const path = settingPath(c.field);
    const at = a.locate(path);
    out.push(problem(
      b,
      path,
      `Policy "${c.policies[1]}" and Policy "${c.policies[0]}" (${a.file}:${at.line}:${at.column}) both set ${c.field} for group "${c.group}" at the same priority: ${fmt(c.values[1])} vs ${fmt(c.values[0])}; the stricter value wins — give one a higher priority to decide explicitly`,
      'policy-conflict',
      'warning',
    ));
  }
  return out;
}

function settingPath(field: string): DocPath {
  const m = /^(apps|wifi)\[/.exec(field);
  if (m) return ['spec', 'settings', m[1]!];
  return ['spec', 'settings', ...field.split('.')];
}

const fmt = (v: unknown) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v));
