// Device filters as typed on the command line and carried in query strings:
// `platform=android`, `os<14`, `label.team=sales`, `compliance!=compliant`, `owner=*@example.com`.
// One parser for the CLI, the server and the store, so a filter means the same everywhere.
import { UsageError } from '../errors.js';
import type { DeviceFilter } from './requests.js';
import { COMPLIANCE_STATUSES, DEVICE_STATES, OWNERSHIPS, PLATFORMS } from './fleet.js';
import { didYouMean } from './suggest.js';

export const FILTER_FIELDS = ['id', 'name', 'serial', 'platform', 'ownership', 'owner', 'group', 'compliance', 'state', 'os', 'profile', 'model'] as const;
const ORDERED_FIELDS = new Set(['os']);
/**
 * Longest filter value, in characters. Filters come from any token holder and are matched
 * against every device of a listing, so their size is bounded before anything else looks at
 * them; no device field is longer than this, so a longer value could match nothing anyway.
 */
export const MAX_FILTER_VALUE_LENGTH = 256;
/** Longest field name (`label.KEY` included). */
const MAX_FILTER_FIELD_LENGTH = 128;
/** Longest whole filter text (field, operator, value and spaces). */
export const MAX_FILTER_TEXT_LENGTH = MAX_FILTER_VALUE_LENGTH + MAX_FILTER_FIELD_LENGTH + 8;
// Fields with a closed set of values: a typo (`platform=andriod`) is an error, not an empty listing.
const ENUM_VALUES: Record<string, readonly string[]> = { platform: PLATFORMS, ownership: OWNERSHIPS, compliance: COMPLIANCE_STATUSES, state: DEVICE_STATES };

/** Parses `FIELD OP VALUE`; throws UsageError naming the accepted fields and operators. */
export function parseDeviceFilter(text: string): DeviceFilter {
  if (text.length > MAX_FILTER_TEXT_LENGTH) throw tooLong(text);
  const match = /^\s*([A-Za-z][A-Za-z0-9_.\/-]*)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$/.exec(text);
  if (!match) {
    throw new UsageError(`invalid filter "${text}": expected FIELD=VALUE (or !=, <, <=, >, >=)`, `fields: ${FILTER_FIELDS.join(', ')}, label.KEY; e.g. --filter platform=android --filter 'os<14'`);
  }
  const [, rawField, op, value] = match as unknown as [string, string, DeviceFilter['op'], string];
  const field = rawField === 'osVersion' ? 'os' : rawField;
  const isLabel = field.startsWith('label.') && field.length > 'label.'.length;
  if (!isLabel && !(FILTER_FIELDS as readonly string[]).includes(field)) {
    throw new UsageError(`unknown filter field "${rawField}" in "${text}"`, `fields: ${FILTER_FIELDS.join(', ')}, label.KEY`);
  }
  if (value === '') throw new UsageError(`filter "${text}" has no value`);
  if (value.length > MAX_FILTER_VALUE_LENGTH || rawField.length > MAX_FILTER_FIELD_LENGTH) throw tooLong(text);
  if ((op === '<' || op === '<=' || op === '>' || op === '>=') && !ORDERED_FIELDS.has(field)) {
    throw new UsageError(`filter "${text}": ${op} works only with os (a version); use = or != for ${field}`);
  }
  if (field === 'os' && !/^\d+(\.\d+){0,3}$/.test(value)) {
    throw new UsageError(`filter "${text}": "${value}" is not a version like 14 or 17.4.1`);
  }
  const allowed = ENUM_VALUES[field];
  if (allowed && !allowed.includes(value)) {
    const guess = didYouMean(value, allowed);
    throw new UsageError(`filter "${text}": unknown ${field} "${value}"${guess ? ` (did you mean "${guess}"?)` : ''}`, `${field} is one of: ${allowed.join(', ')}`);
  }
  return { field, op, value };
}

function tooLong(text: string): UsageError {
  return new UsageError(
    `filter "${text.slice(0, 40)}…" is too long (${text.length} characters)`,
    `a filter value is at most ${MAX_FILTER_VALUE_LENGTH} characters and a field name at most ${MAX_FILTER_FIELD_LENGTH}`,
  );
}

export function formatDeviceFilter(filter: DeviceFilter): string {
  return `${filter.field}${filter.op}${filter.value}`;
}

/** Glob match for owner patterns: `*@example.com`, `ana@example.com`, or a bare domain `example.com`. */
export function ownerMatches(owner: string | undefined, pattern: string): boolean {
  if (!owner) return false;
  const o = owner.toLowerCase();
  const p = pattern.toLowerCase();
  if (!p.includes('@') && !hasWildcard(p)) return o.endsWith(`@${p}`);
  return globMatch(o, p);
}

/** True when `pattern` holds a glob wildcard (`*` or `?`). */
export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/**
 * `*` matches any run of characters, `?` exactly one character, everything else itself;
 * anchored at both ends, case-sensitive (callers lower-case both sides for case-insensitive).
 *
 * Filters are typed by any token holder, so this must not be a RegExp: `.*.*.*…!` backtracks
 * exponentially. Greedy two-pointer match: on a mismatch, only the most recent `*` is retried
 * one character further; earlier stars never need revisiting, because whatever the later
 * segments need can always be absorbed by the latest star. No recursion, no allocation; each
 * text position is retried at most once per pattern character, so the work is bounded by
 * text length × pattern length and never grows with the number of stars.
 */
export function globMatch(text: string, pattern: string): boolean {
  const tn = text.length;
  const pn = pattern.length;
  let t = 0;
  let p = 0;
  let star = -1; // index in pattern of the last `*` seen
  let mark = 0; // text index that star currently ends at
  while (t < tn) {
    const pc = p < pn ? pattern.charCodeAt(p) : -1;
    if (pc === STAR) {
      while (p < pn && pattern.charCodeAt(p) === STAR) p++; // a run of stars is one star
      if (p === pn) return true;
      star = p;
      mark = t;
    } else if (pc === QUESTION || pc === text.charCodeAt(t)) {
      // `?` takes a whole code point, so an emoji is one character, as people count them.
      t += pc === QUESTION ? codePointWidth(text, t) : 1;
      p++;
    } else if (star >= 0) {
      mark += codePointWidth(text, mark);
      t = mark;
      p = star;
    } else {
      return false;
    }
  }
  while (p < pn && pattern.charCodeAt(p) === STAR) p++;
  return p === pn;
}

const STAR = 0x2a;
const QUESTION = 0x3f;

function codePointWidth(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/** What a device listing sorts by (`-` prefix: descending; `os` is osVersion); the store keys each one. */
export const DEVICE_SORT_FIELDS: readonly string[] = ['name', 'platform', 'owner', 'osVersion', 'lastCheckIn', 'enrolledAt', 'state', 'id'];

/** Checks a `--sort` value before any query runs, so a typo is a usage error (exit 2) with a suggestion. */
export function checkDeviceSort(text: string): string {
  const field = text.trim().replace(/^-/, '');
  if (field === 'os' || DEVICE_SORT_FIELDS.includes(field)) return text.trim();
  const guess = didYouMean(field, DEVICE_SORT_FIELDS);
  throw new UsageError(`cannot sort devices by "${field}"${guess ? ` (did you mean "${guess}"?)` : ''}`, `sort by one of: ${DEVICE_SORT_FIELDS.join(', ')} (prefix - for descending)`);
}
