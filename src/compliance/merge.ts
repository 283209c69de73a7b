// The effective configuration of a device: every Policy assigned to its groups merged into one
// settings object, with where each value came from and a version hash the agent reports back.
//
// Conflict rule, per leaf field (`passcode.minLength`, `camera`, `vpn.alwaysOn`, ...):
//  1. the higher `spec.priority` wins (default 100);
//  2. at equal priority the STRICTER value wins: passcode.required true; minLength, historyLength
//     larger; quality stronger (any < numeric < numeric-complex < alphabetic < alphanumeric <
//     complex); maxFailedAttempts, screenLock.maxTimeoutSeconds smaller; expirationDays smaller
//     but non-zero (0 = never expires, the weakest); encryption required; camera, screenCapture,
//     usbFileTransfer, bluetooth disabled; vpn.alwaysOn, vpn.lockdown true;
//  3. still tied (equal values, or no notion of stricter such as vpn.app): the policy whose name
//     sorts first, so the result never depends on the order policies were listed in.
// Special fields:
//  - apps.required and apps.blocked are unions over every policy, whatever the priority. An app
//    both required (by one policy) and blocked (by another) is blocked: keeping a forbidden app
//    off the device is the safer reading, and `conflictingSettings` reports the clash.
//  - wifi is a union by ssid; for one ssid the higher priority network wins whole, then the
//    stronger security (open < wpa2-personal < wpa3-personal < wpa2-enterprise < wpa3-enterprise),
//    then the policy name.
//  - osUpdates is one unit (mode, window and postponeDays belong together): the higher priority
//    wins whole; at equal priority the stricter mode (automatic > windowed > postponed > manual).
//  - vpn.lockdown needs vpn.alwaysOn: a merged lockdown turns always-on with it.
//  - a setting this module does not know (a newer schema) merges like rule 1 + 3.
// `sources` maps every leaf path to the policy that supplied it, and every top-level setting to
// the policies that supplied any part of it (sorted, ", "-joined: one name in the common case).
import { createHash } from 'node:crypto';
import type { EffectiveConfiguration } from '../model/requests.js';
import type { PolicyDocument, WifiNetwork } from '../model/policy.generated.js';

export const DEFAULT_PRIORITY = 100;

/** Positive when `a` is stricter than `b`. */
type Stricter = (a: unknown, b: unknown) => number;

const rank = (order: readonly unknown[]): Stricter => (a, b) => order.indexOf(a) - order.indexOf(b);
const larger: Stricter = (a, b) => Number(a) - Number(b);
const smaller: Stricter = (a, b) => Number(b) - Number(a);
const trueWins = rank([false, true]);
const disabledWins = rank(['enabled', 'disabled']);
// 0 means "never expires": weaker than any real expiry.
const smallerNonZero: Stricter = (a, b) => (a === b ? 0 : a === 0 ? -1 : b === 0 ? 1 : smaller(a, b));

export const PASSCODE_QUALITY = ['any', 'numeric', 'numeric-complex', 'alphabetic', 'alphanumeric', 'complex'] as const;
export const OS_UPDATE_MODES_WEAK_TO_STRICT = ['manual', 'postponed', 'windowed', 'automatic'] as const;
export const WIFI_SECURITY_WEAK_TO_STRONG = ['open', 'wpa2-personal', 'wpa3-personal', 'wpa2-enterprise', 'wpa3-enterprise'] as const;

const STRICTER: Record<string, Stricter> = {
  'passcode.required': trueWins,
  'passcode.minLength': larger,
  'passcode.quality': rank(PASSCODE_QUALITY),
  'passcode.maxFailedAttempts': smaller,
  'passcode.expirationDays': smallerNonZero,
  'passcode.historyLength': larger,
  'screenLock.maxTimeoutSeconds': smaller,
  encryption: rank(['optional', 'required']),
  camera: disabledWins,
  screenCapture: disabledWins,
  usbFileTransfer: disabledWins,
  bluetooth: disabledWins,
  'vpn.alwaysOn': trueWins,
  'vpn.lockdown': trueWins,
  osUpdates: (a, b) => rank(OS_UPDATE_MODES_WEAK_TO_STRICT)((a as { mode?: unknown }).mode, (b as { mode?: unknown }).mode),
};
const wifiStricter: Stricter = (a, b) => rank(WIFI_SECURITY_WEAK_TO_STRONG)((a as WifiNetwork).security, (b as WifiNetwork).security);

/** Settings merged as one unit even though they are objects. */
const WHOLE = new Set(['osUpdates']);

interface Candidate {
  value: unknown;
  priority: number;
  policy: string;
}

export function effectiveConfiguration(policies: PolicyDocument[]): EffectiveConfiguration {
  const ordered = [...policies].sort(byName);
  const leaves = new Map<string, Candidate[]>();
  const wifi = new Map<string, Candidate[]>();
  const required = new Map<string, Set<string>>();
  const blocked = new Map<string, Set<string>>();

  for (const p of ordered) {
    const priority = p.spec.priority ?? DEFAULT_PRIORITY;
    const policy = p.metadata.name;
    for (const [key, value] of Object.entries(p.spec.settings) as Array<[string, unknown]>) {
      if (value === undefined) continue;
      if (key === 'apps') {
        const apps = value as { required?: string[]; blocked?: string[] };
        for (const app of apps.required ?? []) addTo(required, app, policy);
        for (const app of apps.blocked ?? []) addTo(blocked, app, policy);
      } else if (key === 'wifi' && Array.isArray(value)) {
        for (const net of value as WifiNetwork[]) push(wifi, net.ssid, { value: net, priority, policy });
      } else if (isObject(value) && !WHOLE.has(key)) {
        for (const [sub, v] of Object.entries(value)) if (v !== undefined) push(leaves, `${key}.${sub}`, { value: v, priority, policy });
      } else {
        push(leaves, key, { value, priority, policy });
      }
    }
  }

  const settings: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const topSources = new Map<string, Set<string>>();
  const credit = (top: string, path: string, policy: string) => {
    sources[path] = policy;
    addTo(topSources, top, policy);
  };

  for (const [path, cands] of leaves) {
    const win = pick(cands, STRICTER[path]);
    const dot = path.indexOf('.');
    if (dot < 0) {
      settings[path] = win.value;
    } else {
      const top = path.slice(0, dot);
      ((settings[top] ??= {}) as Record<string, unknown>)[path.slice(dot + 1)] = win.value;
    }
    credit(dot < 0 ? path : path.slice(0, dot), path, win.policy);
  }

  // Per-field merging can pair a lockdown from one policy with alwaysOn: false from a
  // higher-priority one; lockdown without always-on is not a configuration a device can apply,
  // so the stricter reading keeps the lockdown and turns always-on with it.
  const vpn = settings.vpn as { alwaysOn?: boolean; lockdown?: boolean } | undefined;
  if (vpn?.lockdown === true && vpn.alwaysOn !== true) {
    vpn.alwaysOn = true;
    sources['vpn.alwaysOn'] = sources['vpn.lockdown']!;
    topSources.set('vpn', new Set(Object.keys(vpn).map((k) => sources[`vpn.${k}`]!)));
  }

  if (required.size > 0 || blocked.size > 0) {
    const apps: { required?: string[]; blocked?: string[] } = {};
    const req = [...required.keys()].filter((a) => !blocked.has(a)).sort();
    const blk = [...blocked.keys()].sort();
    for (const [field, list, by] of [['required', req, required], ['blocked', blk, blocked]] as const) {
      if (list.length === 0) continue;
      apps[field] = list;
      const names = new Set<string>();
      for (const app of list) {
        const who = [...by.get(app)!].sort();
        sources[`apps.${field}[${app}]`] = who.join(', ');
        for (const n of who) names.add(n);
      }
      sources[`apps.${field}`] = [...names].sort().join(', ');
      for (const n of names) addTo(topSources, 'apps', n);
    }
    if (apps.required || apps.blocked) settings.apps = apps;
  }

  if (wifi.size > 0) {
    const ssids = [...wifi.keys()].sort();
    settings.wifi = ssids.map((ssid) => {
      const win = pick(wifi.get(ssid)!, wifiStricter);
      credit('wifi', `wifi[${ssid}]`, win.policy);
      return win.value;
    });
  }

  for (const [top, names] of topSources) if (!(top in sources)) sources[top] = [...names].sort().join(', ');
  const sortedSettings = sortKeys(settings) as Record<string, unknown>;
  return { version: configVersion(sortedSettings), settings: sortedSettings, sources: sortKeys(sources) as Record<string, string> };
}

/** sha256 of the canonical JSON (keys sorted at every level), first 16 hex digits. */
export function configVersion(settings: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(settings)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted at every level and undefined members left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) if (value[k] !== undefined) out[k] = sortKeys(value[k]);
  return out;
}

export interface SettingConflict {
  group: string;
  /** Leaf path: `passcode.minLength`, `camera`, `osUpdates`, `wifi[Corp]`, `apps[com.x]`. */
  field: string;
  /** The two policies, names in sorted order. */
  policies: [string, string];
  values: [unknown, unknown];
}

/**
 * Pairs of Policies with the same priority, assigned to the same group, that set the same leaf
 * field to different values — the cases the stricter-wins rule had to settle. An app one policy
 * requires and the other blocks is a conflict on `apps[<app>]` with values "required"/"blocked";
 * app lists are otherwise unions and never conflict. Sorted by group, field, then policies.
 */
export function conflictingSettings(policies: PolicyDocument[]): SettingConflict[] {
  const ordered = [...policies].sort(byName);
  const leafMaps = new Map(ordered.map((p) => [p, leafValues(p)] as const));
  const byGroup = new Map<string, PolicyDocument[]>();
  for (const p of ordered) for (const g of new Set(p.spec.assign)) push(byGroup, g, p);

  const out: SettingConflict[] = [];
  for (const group of [...byGroup.keys()].sort()) {
    const members = byGroup.get(group)!;
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const a = members[i]!;
        const b = members[j]!;
        if ((a.spec.priority ?? DEFAULT_PRIORITY) !== (b.spec.priority ?? DEFAULT_PRIORITY)) continue;
        const la = leafMaps.get(a)!;
        const lb = leafMaps.get(b)!;
        for (const [field, va] of la) {
          if (!lb.has(field)) continue;
          const vb = lb.get(field);
          if (canonicalJson(va) !== canonicalJson(vb)) out.push({ group, field, policies: [a.metadata.name, b.metadata.name], values: [va, vb] });
        }
      }
    }
  }
  return out.sort((x, y) => cmp(x.group, y.group) || cmp(x.field, y.field) || cmp(x.policies[0], y.policies[0]) || cmp(x.policies[1], y.policies[1]));
}

function leafValues(p: PolicyDocument): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(p.spec.settings) as Array<[string, unknown]>) {
    if (value === undefined) continue;
    if (key === 'apps') {
      const apps = value as { required?: string[]; blocked?: string[] };
      for (const app of apps.required ?? []) out.set(`apps[${app}]`, 'required');
      for (const app of apps.blocked ?? []) out.set(`apps[${app}]`, 'blocked');
    } else if (key === 'wifi' && Array.isArray(value)) {
      for (const net of value as WifiNetwork[]) out.set(`wifi[${net.ssid}]`, net);
    } else if (isObject(value) && !WHOLE.has(key)) {
      for (const [sub, v] of Object.entries(value)) if (v !== undefined) out.set(`${key}.${sub}`, v);
    } else {
      out.set(key, value);
    }
  }
  return out;
}

// Candidates arrive in policy-name order, so keeping the incumbent on a full tie makes the
// first name win.
function pick(cands: Candidate[], stricter: Stricter | undefined): Candidate {
  let best = cands[0]!;
  for (let i = 1; i < cands.length; i++) {
    const c = cands[i]!;
    if (c.priority > best.priority || (c.priority === best.priority && stricter !== undefined && stricter(c.value, best.value) > 0)) best = c;
  }
  return best;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byName(a: PolicyDocument, b: PolicyDocument): number {
  return cmp(a.metadata.name, b.metadata.name);
}
