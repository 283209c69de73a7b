// Enrollment as admin operations, apart from the CLI: what a token's state is, which URL a device
// enrolls with, and which rows of a pre-registration import are valid. Reading the file and its
// CSV syntax stay with the caller (src/output/csv.ts), so this module works on parsed rows.
import type { PreregisteredDevice } from '../backends/backend.js';
import type { EnrollmentToken } from '../model/fleet.js';
import { labelKeyProblem, OWNERSHIPS, PLATFORMS, serialProblem } from '../model/fleet.js';
import { LABEL_LIMITS } from '../model/device-limits.js';
import type { Ownership, Platform } from '../model/policy.generated.js';

// The server's and the simulator's import place for these lists (their home is src/model/fleet.ts).
export const IMPORT_COLUMNS = ['serial', 'platform', 'owner', 'ownership', 'name', 'labels'] as const;
/** Columns only some backends take: the Windows Autopilot hardware hash (intune). */
export const OPTIONAL_IMPORT_COLUMNS = ['hardwareHash'] as const;
const ALL_IMPORT_COLUMNS: readonly string[] = [...IMPORT_COLUMNS, ...OPTIONAL_IMPORT_COLUMNS];

/**
 * What a device agent, an onboarding app or a QR code carries: against a server the agent POSTs
 * the token to `<server>/v1/agent/enroll`; the embedded store has no network endpoint, so there
 * the URL only names the secret (`emmctl simulate` and local agents take it).
 */
export function enrollmentUrl(backend: { kind: string; location: string }, secret: string): string {
  const token = encodeURIComponent(secret);
  if (backend.kind === 'http') return `${backend.location.replace(/\/+$/, '')}/v1/agent/enroll?token=${token}`;
  return `emmctl://enroll?token=${token}`;
}

/** Revoked wins over expired, expired over used-up: the most final reason a token no longer works. */
export function tokenState(t: EnrollmentToken, now: Date): 'active' | 'revoked' | 'expired' | 'used-up' {
  if (t.revoked) return 'revoked';
  if (Date.parse(t.expiresAt) <= now.getTime()) return 'expired';
  if (t.maxUses !== undefined && t.maxUses !== null && t.uses >= t.maxUses) return 'used-up';
  return 'active';
}

/** A CSV record with the 1-based line it starts on. */
export interface ImportRow {
  line: number;
  fields: string[];
}

export type ImportDevice = PreregisteredDevice & { line: number };

/**
 * Validates an import file's rows (the first is the header). Every problem is `FILE:LINE: message`;
 * valid rows are returned either way, so the caller decides between all-or-nothing and --skip-invalid.
 */
export function validateImport(rows: readonly ImportRow[], file: string): { devices: ImportDevice[]; errors: string[] } {
  const errors: string[] = [];
  const devices: ImportDevice[] = [];
  if (rows.length === 0) return { devices, errors: [`${file}:1: empty file; expected a header row: ${IMPORT_COLUMNS.join(',')}`] };
  const [header, ...body] = rows as [ImportRow, ...ImportRow[]];
  // Column names are case-insensitive; `hardwareHash` is spelled as Autopilot's CSV spells it.
  const names = header.fields.map((f) => f.trim().toLowerCase()).map((n) => (n === 'hardwarehash' || n === 'hardware hash' ? 'hardwareHash' : n));
  for (const name of names) {
    if (!ALL_IMPORT_COLUMNS.includes(name)) errors.push(`${file}:${header.line}: unknown column "${name}" (columns: ${ALL_IMPORT_COLUMNS.join(', ')})`);
  }
  for (const required of ['serial', 'platform']) {
    if (!names.includes(required)) errors.push(`${file}:${header.line}: missing required column "${required}"`);
  }
  if (errors.length) return { devices, errors };
  const seen = new Map<string, number>();
  for (const row of body) {
    const at = `${file}:${row.line}:`;
    if (row.fields.length !== names.length) {
      errors.push(`${at} ${row.fields.length} fields, the header has ${names.length}`);
      continue;
    }
    const get = (col: string) => {
      const i = names.indexOf(col);
      return i < 0 ? '' : row.fields[i]!.trim();
    };
    const rowErrors: string[] = [];
    const serial = get('serial');
    const platform = get('platform').toLowerCase();
    const ownership = get('ownership').toLowerCase();
    if (!serial) rowErrors.push('serial is empty');
    else if (seen.has(serial)) rowErrors.push(`serial "${serial}" repeats line ${seen.get(serial)}`);
    if (!(PLATFORMS as readonly string[]).includes(platform)) rowErrors.push(`platform "${get('platform')}" is not one of ${PLATFORMS.join(', ')}`);
    if (ownership && !(OWNERSHIPS as readonly string[]).includes(ownership)) rowErrors.push(`ownership "${get('ownership')}" is not one of ${OWNERSHIPS.join(', ')}`);
    const labels: Record<string, string> = {};
    const labelText = get('labels');
    if (labelText) {
      for (const pair of labelText.split(';').map((p) => p.trim()).filter(Boolean)) {
        const eq = pair.indexOf('=');
        const key = eq < 0 ? '' : pair.slice(0, eq).trim();
        if (eq < 0 || key === '') rowErrors.push(`label "${pair}" is not KEY=VALUE (labels are k=v;k2=v2)`);
        else if (labelKeyProblem(key)) rowErrors.push(labelKeyProblem(key)!);
        else Object.defineProperty(labels, key, { value: pair.slice(eq + 1).trim(), enumerable: true, writable: true, configurable: true });
      }
      if (Object.keys(labels).length > LABEL_LIMITS.count) rowErrors.push(`${Object.keys(labels).length} labels, at most ${LABEL_LIMITS.count}`);
    }
    const hash = get('hardwareHash');
    if (hash && !/^[A-Za-z0-9+/]+={0,2}$/.test(hash)) rowErrors.push('hardwareHash is not base64 (the "Hardware Hash" column of Get-WindowsAutopilotInfo)');
    const serialIssue = serial ? serialProblem(serial) : undefined;
    if (serialIssue) rowErrors.push(`serial ${serialIssue}`);
    if (serial && !seen.has(serial)) seen.set(serial, row.line);
    if (rowErrors.length) {
      for (const message of rowErrors) errors.push(`${at} ${message}`);
      continue;
    }
    devices.push({
      line: row.line,
      serial,
      platform: platform as Platform,
      ownership: (ownership || undefined) as Ownership | undefined,
      owner: get('owner') || undefined,
      name: get('name') || undefined,
      labels,
      ...(get('hardwareHash') ? { hardwareHash: get('hardwareHash') } : {}),
    });
  }
  return { devices, errors };
}
