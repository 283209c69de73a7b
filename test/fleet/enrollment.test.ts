// src/fleet/enrollment.ts: token states, enrollment URLs, and the import's row validation
// (rows as src/output/csv.ts parses them: 1-based line, raw fields).
import { describe, expect, it } from 'vitest';
import { enrollmentUrl, type ImportRow, tokenState, validateImport } from '../../src/fleet/enrollment.js';
import { PLATFORMS } from '../../src/model/fleet.js';
import type { EnrollmentToken } from '../../src/model/fleet.js';
import { parseCsv } from '../../src/output/csv.js';
import { runCli } from '../helpers/cli.js';

const NOW = new Date('2026-03-01T12:00:00Z');

function token(over: Partial<EnrollmentToken> = {}): EnrollmentToken {
  return { id: 'tok_1', profile: 'corp', createdAt: '2026-02-01T00:00:00Z', expiresAt: '2026-03-08T00:00:00Z', uses: 0, revoked: false, createdBy: 'local:ana', ...over };
}

describe('tokenState', () => {
  it('is active while unexpired, unrevoked and under its use limit', () => {
    expect(tokenState(token(), NOW)).toBe('active');
    expect(tokenState(token({ maxUses: 3, uses: 2 }), NOW)).toBe('active');
  });

  it('expires at the expiry instant, not after', () => {
    expect(tokenState(token({ expiresAt: NOW.toISOString() }), NOW)).toBe('expired');
    expect(tokenState(token({ expiresAt: new Date(NOW.getTime() + 1).toISOString() }), NOW)).toBe('active');
  });

  it('is used up at its limit; revoked beats expired beats used up', () => {
    expect(tokenState(token({ maxUses: 3, uses: 3 }), NOW)).toBe('used-up');
    expect(tokenState(token({ maxUses: 3, uses: 3, expiresAt: '2026-01-01T00:00:00Z' }), NOW)).toBe('expired');
    expect(tokenState(token({ maxUses: 3, uses: 3, expiresAt: '2026-01-01T00:00:00Z', revoked: true }), NOW)).toBe('revoked');
  });

  it('treats a null limit (JSON from a server) as unlimited', () => {
    expect(tokenState(token({ maxUses: null as unknown as undefined, uses: 1000 }), NOW)).toBe('active');
  });
});

describe('enrollmentUrl', () => {
  it('points a server URL (without trailing slashes) at the agent enroll endpoint, secret escaped', () => {
    expect(enrollmentUrl({ kind: 'http', location: 'https://emm.example.com//' }, 'a+b/c=')).toBe('https://emm.example.com/v1/agent/enroll?token=a%2Bb%2Fc%3D');
  });

  it('uses the emmctl: scheme on the embedded store', () => {
    expect(enrollmentUrl({ kind: 'embedded', location: '/tmp/store' }, 's&t')).toBe('emmctl://enroll?token=s%26t');
  });
});

describe('validateImport', () => {
  const rows = (text: string): ImportRow[] => parseCsv(text);

  it('returns typed devices with their lines, normalising case and blanks', () => {
    const r = validateImport(rows('Serial, PLATFORM ,owner,ownership,name,labels\nR1,Android,ana@example.com,Corporate,Ana,team=sales; site = lisbon\n\nR2,ios,,,,\n'), 'd.csv');
    expect(r.errors).toEqual([]);
    expect(r.devices).toEqual([
      { line: 2, serial: 'R1', platform: 'android', ownership: 'corporate', owner: 'ana@example.com', name: 'Ana', labels: { team: 'sales', site: 'lisbon' } },
      { line: 4, serial: 'R2', platform: 'ios', ownership: undefined, owner: undefined, name: undefined, labels: {} },
    ]);
  });

  it('reports an empty file at line 1 with the expected header', () => {
    expect(validateImport([], 'e.csv')).toEqual({ devices: [], errors: ['e.csv:1: empty file; expected a header row: serial,platform,owner,ownership,name,labels'] });
  });

  it('rejects unknown and missing header columns before reading any row', () => {
    const r = validateImport(rows('serial,colour\nR1,red\n'), 'h.csv');
    expect(r.devices).toEqual([]);
    expect(r.errors).toEqual([
      'h.csv:1: unknown column "colour" (columns: serial, platform, owner, ownership, name, labels, hardwareHash)',
      'h.csv:1: missing required column "platform"',
    ]);
  });

  it('reports every problem of a row with its line, and keeps the valid rows', () => {
    const r = validateImport(rows('serial,platform,ownership,labels\nR1,android,,\n,blackberry,leased,bad;=x\nR1,ios,,\nR3,windows\nR4,macos,personal,a=1=2\n'), 'f.csv');
    expect(r.errors).toEqual([
      'f.csv:3: serial is empty',
      'f.csv:3: platform "blackberry" is not one of android, ios, ipados, macos, windows',
      'f.csv:3: ownership "leased" is not one of corporate, personal',
      'f.csv:3: label "bad" is not KEY=VALUE (labels are k=v;k2=v2)',
      'f.csv:3: label "=x" is not KEY=VALUE (labels are k=v;k2=v2)',
      'f.csv:4: serial "R1" repeats line 2',
      'f.csv:5: 2 fields, the header has 4',
    ]);
    expect(r.devices.map((d) => [d.line, d.serial, d.labels])).toEqual([[2, 'R1', {}], [6, 'R4', { a: '1=2' }]]);
  });

  it('the import help names exactly the platforms the import accepts', async () => {
    const r = await runCli(['enroll', 'import', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`platform is one of ${PLATFORMS.join(', ')};`);
  });
});
