// Bounds on everything a device sends. Devices are strangers: without a bound, one enrollment
// can store a megabyte name that every later listing, cursor and terminal has to carry. The
// server checks these on the way in (400 naming the field) and the store checks them again on
// the way down, so no path (server, simulator, embedded callers) stores more. docs/api.md lists
// them; the OpenAPI document declares them from this table.
import { BackendError } from '../errors.js';
import { isCalendarDateText } from './duration.js';
import { labelKeyProblem, serialProblem, type Posture } from './fleet.js';
import type { EnrollRequest } from './protocol.js';

/** Maximum length in characters (Unicode code points) of each text field, and the app-list size. */
export const DEVICE_LIMITS = {
  token: 256,
  serial: 64,
  name: 128,
  model: 128,
  owner: 254,
  osVersion: 64,
  appliedConfigVersion: 128,
  /** Entries in posture.installedApps. */
  installedApps: 2000,
  /** One app id in posture.installedApps. */
  appId: 255,
  /** A command result's detail. */
  detail: 1024,
} as const;

/** Pre-registration (an admin's CSV, but the same serial/name/owner fields end up in the same columns). */
export const LABEL_LIMITS = { count: 64, key: 63, value: 256 } as const;

/** Throws a 400-class BackendError naming `field` when `value` has more than `max` characters. */
export function checkLength(value: string, max: number, field: string): void {
  // Code points are never more than UTF-16 units, so the common short case costs one comparison.
  if (value.length <= max) return;
  let n = 0;
  for (const _ of value) n++;
  if (n > max) throw new BackendError('invalid', `${field} is too long: ${n} characters, at most ${max}`);
}

/** Throws a 400-class BackendError naming `field` when the serial is too long or not a serial (serialProblem). */
export function checkSerial(value: string, field: string): void {
  checkLength(value, DEVICE_LIMITS.serial, field);
  const problem = serialProblem(value);
  if (problem) throw new BackendError('invalid', `${field} ${problem}`);
}

/** Label count, key pattern (the policy schema's) and lengths; `at` names where they came from. */
export function checkLabels(labels: Record<string, unknown>, at: string): void {
  const entries = Object.entries(labels);
  if (entries.length > LABEL_LIMITS.count) throw new BackendError('invalid', `${at} ${entries.length} labels, at most ${LABEL_LIMITS.count}`);
  for (const [key, value] of entries) {
    const problem = labelKeyProblem(key);
    if (problem) throw new BackendError('invalid', `${at} ${problem}`);
    if (typeof value !== 'string') throw new BackendError('invalid', `${at} label ${key} must be a string`);
    checkLength(value, LABEL_LIMITS.value, `${at} label ${key}`);
  }
}

/** Bounds of an enrollment request whose types are already checked. */
export function checkEnrollRequest(request: EnrollRequest, where: string): void {
  for (const key of ['token', 'serial', 'name', 'model', 'owner', 'osVersion'] as const) {
    const value = request[key];
    if (typeof value === 'string') checkLength(value, DEVICE_LIMITS[key], `${where}.${key}`);
  }
  if (typeof request.serial === 'string') checkSerial(request.serial, `${where}.serial`);
}

/**
 * A check-in's posture, checked field by field (type and bound), as a fresh object of the known
 * fields only: what is stored is exactly what was checked.
 */
export function parsePosture(value: unknown, where: string): Posture {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BackendError('invalid', `${where} is required (an object)`);
  const v = value as Record<string, unknown>;
  const text = (key: string, max: number, required: boolean): string | undefined => {
    const s = v[key];
    if (s === undefined || s === null) {
      if (required) throw new BackendError('invalid', `${where}.${key} is required (a non-empty string)`);
      return undefined;
    }
    if (typeof s !== 'string' || (required && s === '')) throw new BackendError('invalid', `${where}.${key} must be a${required ? ' non-empty' : ''} string`);
    checkLength(s, max, `${where}.${key}`);
    return s;
  };
  const flag = (key: 'encrypted' | 'passcodeSet' | 'compromised'): boolean => {
    if (typeof v[key] !== 'boolean') throw new BackendError('invalid', `${where}.${key} must be true or false`);
    return v[key] as boolean;
  };
  const osVersion = text('osVersion', DEVICE_LIMITS.osVersion, true)!;
  const posture: Posture = { osVersion, encrypted: flag('encrypted'), passcodeSet: flag('passcodeSet'), compromised: flag('compromised'), installedApps: [] };
  const apps = v.installedApps;
  if (!Array.isArray(apps)) throw new BackendError('invalid', `${where}.installedApps must be an array of app ids`);
  if (apps.length > DEVICE_LIMITS.installedApps) throw new BackendError('invalid', `${where}.installedApps has ${apps.length} entries, at most ${DEVICE_LIMITS.installedApps}`);
  apps.forEach((app, i) => {
    if (typeof app !== 'string') throw new BackendError('invalid', `${where}.installedApps[${i}] must be an app id (a string)`);
    checkLength(app, DEVICE_LIMITS.appId, `${where}.installedApps[${i}]`);
  });
  posture.installedApps = apps as string[];
  const patchLevel = text('patchLevel', 10, false);
  if (patchLevel !== undefined) {
    if (!isCalendarDateText(patchLevel)) throw new BackendError('invalid', `${where}.patchLevel must be a real calendar date YYYY-MM-DD (got "${patchLevel}")`);
    posture.patchLevel = patchLevel;
  }
  for (const key of ['model', 'serial', 'appliedConfigVersion'] as const) {
    const s = text(key, DEVICE_LIMITS[key], false);
    if (key === 'serial' && s !== undefined) checkSerial(s, `${where}.serial`);
    if (s !== undefined) posture[key] = s;
  }
  return posture;
}
