// Device listing: sort keys, opaque cursors, and device filters turned into SQL. Filters that
// need policy evaluation (group, compliance) cannot be SQL; they come back as `needs` and the
// store applies them while scanning in sort order.
import { createHash } from 'node:crypto';
import { BackendError } from '../errors.js';
import type { DeviceFilter } from '../model/requests.js';
import { COMPLIANCE_STATUSES, DEVICE_STATES } from '../model/fleet.js';
import { DEVICE_SORT_FIELDS, globMatch, hasWildcard } from '../model/filter.js';
import { versionSortKey } from '../compliance/index.js';
import type { Dialect } from './engine.js';

/** Sort field → SQL key expression (matches an index in migrations.ts; NULLs sort as ''). */
const SORT_KEYS: Record<string, string> = {
  name: 'name',
  platform: 'platform',
  owner: "coalesce(owner, '')",
  osVersion: "coalesce(os_key, '')",
  os: "coalesce(os_key, '')",
  lastCheckIn: "coalesce(last_check_in, '')",
  enrolledAt: "coalesce(enrolled_at, '')",
  state: 'state',
  id: 'id',
};
export const SORT_FIELDS = DEVICE_SORT_FIELDS;

export interface DeviceSort {
  spec: string;
  expr: string;
  desc: boolean;
}

export function parseSort(sort: string | undefined): DeviceSort {
  const spec = sort?.trim() || 'name';
  const desc = spec.startsWith('-');
  const field = desc ? spec.slice(1) : spec;
  // Own keys only: `sort=constructor` must not find Object.prototype's members.
  const expr = Object.prototype.hasOwnProperty.call(SORT_KEYS, field) ? SORT_KEYS[field] : undefined;
  if (!expr) throw new BackendError('invalid', `cannot sort devices by "${field}"`, { hint: `sort by one of: ${SORT_FIELDS.join(', ')} (prefix - for descending)` });
  return { spec: `${desc ? '-' : ''}${field === 'os' ? 'osVersion' : field}`, expr, desc };
}

interface CursorData {
  s: string;
  /** The last row's sort key, when it is short. */
  k?: string;
  /** Otherwise a digest of it: the key is read back from that row (see resolveCursor). */
  h?: string;
  i: string;
}

/**
 * Sort keys up to this many UTF-8 bytes travel in the cursor itself; longer ones (a name or
 * owner stored before the device field limits, a long OS version key) as a 22-character digest.
 * So a cursor is at most a few hundred bytes whatever the data, and fits any URL or header.
 */
const INLINE_KEY_BYTES = 96;

function keyDigest(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

export function encodeCursor(sort: DeviceSort, key: string, id: string): string {
  const data: CursorData = Buffer.byteLength(key) <= INLINE_KEY_BYTES ? { s: sort.spec, k: key, i: id } : { s: sort.spec, h: keyDigest(key), i: id };
  return Buffer.from(JSON.stringify(data)).toString('base64url');
}

/** A cursor that is not one this store handed out (the device listings' and the seq-paged ones'). */
export function invalidCursor(): BackendError {
  return new BackendError('invalid', 'invalid paging cursor', { hint: 'pass back the nextCursor of the previous page unchanged' });
}

/**
 * The position a cursor continues after. `currentKey` reads the sort key of a device now: a
 * digest cursor needs it, and if that device's key changed since the page was served the
 * position is gone, which is said rather than guessed.
 */
export async function decodeCursor(cursor: string, sort: DeviceSort, currentKey: (id: string) => Promise<string | undefined>): Promise<{ key: string; id: string }> {
  let data: CursorData;
  try {
    data = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorData;
  } catch {
    throw invalidCursor();
  }
  if (typeof data?.i !== 'string' || (typeof data.k !== 'string' && typeof data.h !== 'string') || data.s !== sort.spec) {
    throw new BackendError('invalid', 'invalid paging cursor for this sort order', { hint: 'a cursor only continues the listing (same sort) that returned it' });
  }
  if (typeof data.k === 'string') return { key: data.k, id: data.i };
  const key = await currentKey(data.i);
  if (key === undefined || keyDigest(key) !== data.h) {
    throw new BackendError('conflict', 'the device at this page boundary changed since the page was listed; cannot continue from it', { hint: 'list again from the start' });
  }
  return { key, id: data.i };
}

/**
 * `17.4.1` → a key whose string order is compareVersions' order (the engine's versionSortKey),
 * so `os<14` and sorting by OS version run in SQL on an index. NULL when no version is known.
 */
export function versionKey(version: string | undefined | null): string | null {
  return version ? versionSortKey(version) : null;
}

export interface CompiledFilters {
  where: string[];
  params: unknown[];
  /** Filters that need evaluation per device (group membership, compliance status). */
  group: DeviceFilter[];
  compliance: DeviceFilter[];
}

const COLUMNS: Record<string, string> = { id: 'id', name: 'name', serial: 'serial', platform: 'platform', ownership: 'ownership', state: 'state', profile: 'profile', model: 'model' };
const GLOBBABLE = new Set(['name', 'serial', 'model']);

export function compileFilters(filters: DeviceFilter[] = [], dialect: Dialect): CompiledFilters {
  const out: CompiledFilters = { where: [], params: [], group: [], compliance: [] };
  for (const f of filters) {
    const neg = f.op === '!=';
    if (f.field === 'group') {
      if (f.op !== '=' && f.op !== '!=') throw badOp(f);
      out.group.push(f);
    } else if (f.field === 'compliance') {
      if (f.op !== '=' && f.op !== '!=') throw badOp(f);
      if (!(COMPLIANCE_STATUSES as readonly string[]).includes(f.value)) throw new BackendError('invalid', `unknown compliance status "${f.value}"`, { hint: `one of: ${COMPLIANCE_STATUSES.join(', ')}` });
      out.compliance.push(f);
    } else if (f.field === 'os') {
      const key = versionKey(f.value)!;
      const op = f.op === '=' ? '=' : f.op === '!=' ? 'IS DISTINCT FROM' : f.op;
      out.where.push(`os_key ${op} ?`);
      out.params.push(key);
    } else if (f.field === 'owner') {
      if (f.op !== '=' && f.op !== '!=') throw badOp(f);
      out.where.push(`${neg ? 'NOT ' : ''}${dialect.ownerMatches('owner')}`);
      out.params.push(f.value);
    } else if (f.field.startsWith('label.')) {
      if (f.op !== '=' && f.op !== '!=') throw badOp(f);
      const key = f.field.slice('label.'.length);
      if (key.includes('"')) throw new BackendError('invalid', `invalid label key "${key}"`);
      if (hasWildcard(f.value)) out.where.push(`${neg ? 'NOT ' : ''}${dialect.foldedGlob(dialect.jsonText('labels'))}`);
      else out.where.push(`${dialect.jsonText('labels')} ${neg ? 'IS DISTINCT FROM' : '='} ?`);
      out.params.push(key, f.value);
    } else if (Object.prototype.hasOwnProperty.call(COLUMNS, f.field)) {
      if (f.op !== '=' && f.op !== '!=') throw badOp(f);
      if (f.field === 'state' && !(DEVICE_STATES as readonly string[]).includes(f.value)) throw new BackendError('invalid', `unknown device state "${f.value}"`, { hint: `one of: ${DEVICE_STATES.join(', ')}` });
      const col = COLUMNS[f.field];
      if (GLOBBABLE.has(f.field) && hasWildcard(f.value)) {
        out.where.push(`${neg ? 'NOT ' : ''}${dialect.foldedGlob(col)}`);
      } else {
        out.where.push(`${col} ${neg ? 'IS DISTINCT FROM' : '='} ?`);
      }
      out.params.push(f.value);
    } else {
      throw new BackendError('invalid', `unknown device filter field "${f.field}"`);
    }
  }
  return out;
}

function badOp(f: DeviceFilter): BackendError {
  return new BackendError('invalid', `filter ${f.field}${f.op}${f.value}: ${f.op} works only with os; use = or !=`);
}

/**
 * Case-insensitive glob (`*`, `?`), the same rule as owner patterns. Never SQLite's GLOB or LIKE:
 * their wildcard sets (`[`, `%`, `_`) differ from ours and a filter must mean the same in every store.
 */
export function globMatches(value: string | null | undefined, pattern: string): boolean {
  if (value == null) return false;
  return globMatch(value.toLowerCase(), lowered(pattern));
}

// The pattern is the same for every device of a listing: lower-case it once, not per row.
let lastPattern = '';
let lastLowered = '';
function lowered(pattern: string): string {
  if (pattern !== lastPattern) {
    lastPattern = pattern;
    lastLowered = pattern.toLowerCase();
  }
  return lastLowered;
}
