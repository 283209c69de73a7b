// What an Android version cannot apply, read from Google's own words: the discovery document's
// field and enum descriptions say, for many Policy settings, "A NonComplianceDetail with
// API_LEVEL is reported if the Android version is less than N" (sometimes only "on work
// profiles" or "on fully managed devices"). The simulated devices report exactly that, so a test
// that sends a newer setting to an older phone sees what Android Device Policy would report.
// Without ../shared/vendor-specs there are no such rules (the fake still works, less strictly).
import { discovery, specsAvailable, type DiscoverySchema } from '../amapi-schema.js';

export interface ApiLevelRule {
  /** Dotted path in the Policy, arrays transparent: `deviceConnectivityManagement.wifiDirectSettings`. */
  path: string;
  /** The enum value the sentence belongs to; undefined when it is about the field being set at all. */
  value?: string;
  /** The lowest Android major version that applies it. */
  minVersion: number;
  /** Only for this management mode, when the sentence says so. */
  only?: 'work-profile' | 'fully-managed';
}

const SENTENCE = /API_LEVEL is reported( on work profiles| on fully managed devices| for work profiles| for fully managed devices)? if the Android version is less than (\d+)/;

let rules: ApiLevelRule[] | undefined;

export function apiLevelRules(): ApiLevelRule[] {
  if (rules) return rules;
  rules = [];
  if (!specsAvailable()) return rules;
  const schemas = discovery().schemas;
  const walk = (s: DiscoverySchema | undefined, path: string, seen: Set<string>): void => {
    if (!s?.properties) return;
    for (const [k, v] of Object.entries(s.properties)) {
      const p = path ? `${path}.${k}` : k;
      const enumSource = v.enum ? v : v.items?.enum ? v.items : undefined;
      const add = (text: string | undefined, value?: string): void => {
        const m = text ? SENTENCE.exec(text) : null;
        if (!m) return;
        const rule: ApiLevelRule = { path: p, minVersion: Number(m[2]) };
        if (value !== undefined) rule.value = value;
        if (m[1]) rule.only = m[1].includes('work') ? 'work-profile' : 'fully-managed';
        rules!.push(rule);
      };
      add(v.description);
      const descriptions = (enumSource as { enumDescriptions?: string[] } | undefined)?.enumDescriptions;
      enumSource?.enum?.forEach((value, i) => add(descriptions?.[i], value));
      const ref = v.$ref ?? v.items?.$ref;
      if (ref && !seen.has(ref) && p.split('.').length < 5) walk(schemas[ref], p, new Set([...seen, ref]));
    }
  };
  walk(schemas.Policy, '', new Set(['Policy']));
  return rules;
}

export interface Violation {
  settingName: string;
  fieldPath: string;
  minVersion: number;
}

/** The settings of `policy` this device cannot apply for its Android version (one per field path). */
export function apiLevelViolations(policy: Record<string, unknown>, androidMajor: number, mode: 'work-profile' | 'fully-managed'): Violation[] {
  const out = new Map<string, Violation>();
  for (const rule of apiLevelRules()) {
    if (androidMajor >= rule.minVersion || (rule.only && rule.only !== mode)) continue;
    for (const { fieldPath, value } of valuesAt(policy, rule.path.split('.'), '')) {
      const hit = rule.value === undefined ? value !== undefined : value === rule.value || (Array.isArray(value) && value.includes(rule.value));
      if (hit && !out.has(fieldPath)) out.set(fieldPath, { settingName: rule.path.split('.')[0]!, fieldPath, minVersion: rule.minVersion });
    }
  }
  return [...out.values()];
}

function valuesAt(node: unknown, keys: string[], at: string): Array<{ fieldPath: string; value: unknown }> {
  if (keys.length === 0) return [{ fieldPath: at, value: node }];
  if (Array.isArray(node)) return node.flatMap((x, i) => valuesAt(x, keys, `${at}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  const [k, ...rest] = keys as [string, ...string[]];
  const next = (node as Record<string, unknown>)[k];
  if (next === undefined) return [];
  return valuesAt(next, rest, at ? `${at}.${k}` : k);
}
