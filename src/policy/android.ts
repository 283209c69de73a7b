// What the policy files ask of Android devices that Google's Android Management API cannot carry,
// as warnings at the setting's file:line:col. The rules are the Android compiler's own
// (src/channels/android/compile.ts, `unmappable`): this module only decides which documents
// reach Android devices, in which mode, and where in the files each finding belongs.
//
// Which Policies reach Android devices, per mode (the file set is all there is to go on):
//  - Modes come from the EnrollmentProfiles whose platforms include android, since an Android
//    device enrolls only with a token of one: corporate → fully managed, personal → a work
//    profile (enrollment.ts). With no such profile in the files, both modes are assumed.
//  - A group can hold Android devices of a mode unless its `match` rules them out (platforms
//    without android, or another ownership) and neither its static `devices` list nor an Android
//    profile's `spec.group` can put them there. Labels and owners cannot be judged from the files:
//    such a group may hold Android devices. `all` holds every device.
//  - A Policy reaches a mode when one of its groups can hold devices of that mode.
// Each Policy is judged on what every device it reaches is sure to receive with it: it is merged
// (src/compliance/merge.ts, the same rules the server uses) with the Policies assigned to `all`,
// to a group holding every Android device of the mode, or to every group it is assigned to; then
// compiled for the mode (Policies reaching the same groups share that merge: one per distinct
// set, not one per Policy, so a large repo costs little). A finding is reported on the Policy
// that supplied the setting (the merge's `sources`), once, naming the modes it applies to. So a `passcode.minLength` whose
// quality comes from a baseline policy assigned to `all` is not reported, and a combination that
// only some devices get (two policies on overlapping groups) is judged by the server's compiler
// when it happens, where the channel reports it.
// Wi-Fi keys are never read here (validate does not resolve secrets): a key's shape is judged by
// the compiler on the server, which holds the value.
//
// Outside Policy settings: an Android EnrollmentProfile's maxUses above 1 (AMAPI's tokens are
// one-time or unlimited) and Groups matching by owner e-mail (AMAPI has no field for the owner).
import { compilePolicy, type AndroidDeviceMode, type UnmappableRule } from '../channels/android/compile.js';
import { effectiveConfiguration } from '../compliance/merge.js';
import type { EnrollmentProfileDocument, GroupDocument, Ownership, PolicyDocument } from '../model/policy.generated.js';
import { BUILTIN_GROUP, type CheckedDocument } from './checks.js';
import { pathString, type DocPath, type Problem } from './types.js';

/** Every rule id this module emits: the compiler's, for settings, profiles and groups alike. */
export const ANDROID_RULES: readonly UnmappableRule[] = ['android/unmappable', 'android/management-mode', 'android/invalid-value', 'android/unknown-setting'];

/** Android warnings are made only when asked (validate --android, a target with the channel): this tells them apart in a cached load's warnings. */
export function isAndroidProblem(p: Pick<Problem, 'rule'>): boolean {
  return p.rule.startsWith('android/');
}

interface Mode {
  ownership: Ownership;
  device: AndroidDeviceMode;
  label: string;
}

const MODES: Record<Ownership, Mode> = {
  corporate: { ownership: 'corporate', device: { ownership: 'corporate', managementMode: 'fully-managed' }, label: 'fully managed' },
  personal: { ownership: 'personal', device: { ownership: 'personal', managementMode: 'work-profile' }, label: 'personal work-profile' },
};

// The compiler needs a key to compile a personal network; its shape is judged where the value is.
const PLACEHOLDER_KEY = 'placeholder-key';

export function androidProblems(docs: readonly CheckedDocument[]): Problem[] {
  const of = <K extends CheckedDocument['document']['kind']>(kind: K) =>
    docs.filter((d) => d.document.kind === kind) as Array<CheckedDocument & { document: Extract<CheckedDocument['document'], { kind: K }> }>;
  const profiles = of('EnrollmentProfile').filter((d) => d.document.spec.platforms.includes('android'));
  const groups = new Map(of('Group').map((d) => [d.document.metadata.name, d.document] as const));
  const policies = of('Policy');
  const ownerships = new Set<Ownership>(profiles.map((d) => d.document.spec.ownership));
  const modes = ownerships.size ? [MODES.corporate, MODES.personal].filter((m) => ownerships.has(m.ownership)) : [MODES.corporate, MODES.personal];
  const out: Problem[] = [];

  for (const d of profiles) {
    const { maxUses } = d.document.spec;
    if (maxUses !== undefined && maxUses > 1) {
      out.push(warn(d, ['spec', 'maxUses'], 'android/unmappable',
        `EnrollmentProfile "${d.document.metadata.name}": maxUses ${maxUses} is not an Android enrollment token's limit: AMAPI's tokens are one-time or unlimited, so the token is unlimited at Google and emmctl counts the enrollments itself, deletes the token at ${maxUses} and removes a device that enrolled past the limit before the deletion took effect`));
    }
  }

  const profileDocs = profiles.map((d) => d.document);
  for (const d of of('Group')) {
    const owners = d.document.spec.match?.owners;
    const reached = modes.filter((m) => canHold(d.document.metadata.name, m, groups, profileDocs));
    if (owners && reached.length) {
      out.push(warn(d, ['spec', 'match', 'owners'], 'android/unmappable',
        `Group "${d.document.metadata.name}": AMAPI has no field for a device's owner, so an Android device managed through Google reports no owner e-mail and this match holds for it only where emmctl knows the owner otherwise (a pre-registered device's owner)`, 'key'));
    }
  }

  // One finding per (policy, setting, rule, reason), naming every mode it applies to.
  const findings = new Map<string, { d: CheckedDocument; path: DocPath; ruleId: UnmappableRule; setting: string; reason: string; modes: string[] }>();
  const byName = new Map(policies.map((p) => [p.document.metadata.name, p] as const));
  for (const mode of modes) {
    const reach = new Map(policies.map((p) => [p, p.document.spec.assign.filter((g) => canHold(g, mode, groups, profileDocs))] as const));
    // Policies with the same reaching groups are judged in the same merge: one per distinct set.
    const sets = new Map<string, string[]>();
    for (const groupsOf of reach.values()) if (groupsOf.length) sets.set([...new Set(groupsOf)].sort().join('\0'), groupsOf);
    for (const of of sets.values()) {
      const sure = policies.filter((q) => reach.get(q)!.length > 0 && reachesAll(q.document, of, mode, groups, profileDocs));
      const configuration = effectiveConfiguration(sure.map((q) => q.document));
      const ssids = ((configuration.settings.wifi as Array<{ ssid: string }> | undefined) ?? []).map((n) => n.ssid);
      const compiled = compilePolicy({ configuration, mode: mode.device, wifiPassphrases: new Map(ssids.map((ssid) => [ssid, PLACEHOLDER_KEY])) });
      for (const u of compiled.unmappable) {
        for (const name of suppliers(configuration.sources, u.path, ssids)) {
          const p = byName.get(name);
          if (!p) continue;
          const key = `${name}\0${u.path}\0${u.ruleId}\0${u.reason}`;
          const seen = findings.get(key);
          if (seen) {
            if (!seen.modes.includes(mode.label)) seen.modes.push(mode.label);
          } else {
            findings.set(key, { d: p, path: docPath(p.document, u.path), ruleId: u.ruleId, setting: u.path, reason: u.reason, modes: [mode.label] });
          }
        }
      }
    }
  }
  for (const f of findings.values()) {
    const where = f.modes.length === modes.length && modes.length > 1 ? 'Android devices' : `${f.modes.join(' and ')} Android devices`;
    out.push(warn(f.d, f.path, f.ruleId, `Policy "${f.d.document.metadata.name}": ${f.setting} is not applied on ${where}: ${f.reason}`));
  }
  return out;
}

function warn(d: CheckedDocument, path: DocPath, rule: UnmappableRule, message: string, target: 'key' | 'value' = 'value'): Problem {
  return { ...d.locate(path, target), path: pathString(path), message, rule, severity: 'warning' };
}

/** Whether the group can hold Android devices of this mode (groups.ts's rules, as far as the files tell). */
function canHold(name: string, mode: Mode, groups: ReadonlyMap<string, GroupDocument>, profiles: readonly EnrollmentProfileDocument[]): boolean {
  if (name === BUILTIN_GROUP) return true;
  if (profiles.some((p) => p.spec.group === name && p.spec.ownership === mode.ownership)) return true;
  const g = groups.get(name);
  if (!g) return false; // an unknown group is an error of its own; it holds nothing
  if (g.spec.devices) return true;
  const m = g.spec.match;
  if (!m) return false;
  return (!m.platforms || m.platforms.includes('android')) && (m.ownership === undefined || m.ownership === mode.ownership);
}

/** Whether the group holds every Android device of this mode, whatever its labels and owner. */
function holdsAll(name: string, mode: Mode, groups: ReadonlyMap<string, GroupDocument>, profiles: readonly EnrollmentProfileDocument[]): boolean {
  if (name === BUILTIN_GROUP) return true;
  // Every Android device of the mode enrolled with one of these profiles, which all name the group.
  const ofMode = profiles.filter((p) => p.spec.ownership === mode.ownership);
  if (ofMode.length && ofMode.every((p) => p.spec.group === name)) return true;
  const m = groups.get(name)?.spec.match;
  if (!m || m.labels !== undefined || m.owners !== undefined) return false;
  return (!m.platforms || m.platforms.includes('android')) && (m.ownership === undefined || m.ownership === mode.ownership);
}

/** Whether `q` reaches every device of this mode that the groups `of` hold. */
function reachesAll(q: PolicyDocument, of: readonly string[], mode: Mode, groups: ReadonlyMap<string, GroupDocument>, profiles: readonly EnrollmentProfileDocument[]): boolean {
  if (q.spec.assign.some((g) => holdsAll(g, mode, groups, profiles))) return true;
  return of.every((g) => q.spec.assign.includes(g));
}

/** The Policies that supplied the value the compiler's finding at `path` is about (the merge's sources). */
function suppliers(sources: Record<string, string>, path: string, ssids: readonly string[]): string[] {
  for (let at: string | undefined = path; at !== undefined; at = parent(at, ssids)) {
    const who = sources[at];
    if (who !== undefined) return who.split(', ');
  }
  return [];
}

/** `osUpdates.window.days` → `osUpdates.window`; `wifi[a.b].password` → `wifi[a.b]`; a top-level key → undefined. */
function parent(path: string, ssids: readonly string[]): string | undefined {
  const ssid = ssidOf(path, ssids);
  if (ssid !== undefined) return path === `wifi[${ssid}]` ? 'wifi' : `wifi[${ssid}]`;
  const bracket = path.endsWith(']') ? path.lastIndexOf('[') : -1;
  if (bracket > 0) return path.slice(0, bracket);
  const dot = path.lastIndexOf('.');
  return dot > 0 ? path.slice(0, dot) : undefined;
}

// An SSID may hold "." or "]": the network is found among the names given, not by parsing.
function ssidOf(path: string, ssids: readonly string[]): string | undefined {
  if (!path.startsWith('wifi[')) return undefined;
  let best: string | undefined;
  for (const ssid of ssids) {
    const at = `wifi[${ssid}]`;
    if ((path === at || path.startsWith(`${at}.`)) && (best === undefined || ssid.length > best.length)) best = ssid;
  }
  return best;
}

/** Where in the Policy document the compiler's setting path is (the nearest node there is, when the merge made it). */
function docPath(p: PolicyDocument, path: string): DocPath {
  const base = ['spec', 'settings'];
  const nets = (p.spec.settings.wifi ?? []).map((n) => n.ssid);
  const ssid = ssidOf(path, nets);
  if (ssid !== undefined) {
    const rest = path.slice(`wifi[${ssid}]`.length);
    return [...base, 'wifi', nets.indexOf(ssid), ...(rest ? rest.slice(1).split('.') : [])];
  }
  const app = /^apps\.(required|blocked)\[(.*)\]$/.exec(path);
  if (app) {
    const list = p.spec.settings.apps?.[app[1] as 'required' | 'blocked'] ?? [];
    const i = list.indexOf(app[2]!);
    return i >= 0 ? [...base, 'apps', app[1]!, i] : [...base, 'apps', app[1]!];
  }
  return [...base, ...path.split('.')];
}
