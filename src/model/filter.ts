// Device filters as typed on the command line and carried in query strings:
// `platform=android`, `os<14`, `label.team=sales`, `compliance!=compliant`, `owner=*@example.com`.
// One parser for the CLI, the server and the store, so a filter means the same everywhere.
import { UsageError } from '../errors.js';
import type { DeviceFilter } from '../backends/backend.js';

export const FILTER_FIELDS = ['id', 'name', 'serial', 'platform', 'ownership', 'owner', 'group', 'compliance', 'state', 'os', 'profile', 'model'] as const;
const ORDERED_FIELDS = new Set(['os']);

/** Parses `FIELD OP VALUE`; throws UsageError naming the accepted fields and operators. */
export function parseDeviceFilter(text: string): DeviceFilter {
  const match = /^\s*([A-Za-z][A-Za-z0-9_.\/-]*)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$/.exec(text);
  if (!match) {
    throw new UsageError(`invalid filter "${text}": expected FIELD=VALUE (or !=, <, <=, >, >=)`, `fields: ${FILTER_FIELDS.join(', ')}, label.KEY; e.g. --filter platform=android --filter os<14`);
  }
  const [, rawField, op, value] = match as unknown as [string, string, DeviceFilter['op'], string];
  const field = rawField === 'osVersion' ? 'os' : rawField;
  const isLabel = field.startsWith('label.') && field.length > 'label.'.length;
  if (!isLabel && !(FILTER_FIELDS as readonly string[]).includes(field)) {
    throw new UsageError(`unknown filter field "${rawField}" in "${text}"`, `fields: ${FILTER_FIELDS.join(', ')}, label.KEY`);
  }
  if (value === '') throw new UsageError(`filter "${text}" has no value`);
  if ((op === '<' || op === '<=' || op === '>' || op === '>=') && !ORDERED_FIELDS.has(field)) {
    throw new UsageError(`filter "${text}": ${op} works only with os (a version); use = or != for ${field}`);
  }
  if (field === 'os' && !/^\d+(\.\d+){0,3}$/.test(value)) {
    throw new UsageError(`filter "${text}": "${value}" is not a version like 14 or 17.4.1`);
  }
  return { field, op, value };
}

export function formatDeviceFilter(filter: DeviceFilter): string {
  return `${filter.field}${filter.op}${filter.value}`;
}

/** Glob match for owner patterns: `*@example.com`, `ana@example.com`, or a bare domain `example.com`. */
export function ownerMatches(owner: string | undefined, pattern: string): boolean {
  if (!owner) return false;
  const o = owner.toLowerCase();
  const p = pattern.toLowerCase();
  if (!p.includes('@') && !p.includes('*')) return o.endsWith(`@${p}`);
  return globRegExp(p).test(o);
}

// A pattern (a filter, a group's owners) is matched once per device, up to 100k times per
// listing: compile it once, not per device.
const globCache = new Map<string, RegExp>();

/** `*` matches any run of characters, everything else itself; anchored at both ends. */
export function globRegExp(pattern: string, flags = ''): RegExp {
  const key = `${flags}\0${pattern}`;
  let re = globCache.get(key);
  if (!re) {
    if (globCache.size >= 1000) globCache.clear();
    re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, flags);
    globCache.set(key, re);
  }
  return re;
}
