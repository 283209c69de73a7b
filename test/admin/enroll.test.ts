// `emmctl enroll token create|list|revoke` and `enroll import` end to end on a real store.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetService } from '../../src/service/fleet-service.js';
import { runCli } from '../helpers/cli.js';
import { seedStore, type SeededStore } from './devices.seed.js';

let fleet: SeededStore;
const cli = (...args: string[]) => runCli(args, { env: fleet.env });

beforeAll(async () => {
  fleet = await seedStore([]);
});
afterAll(() => fleet.cleanup());

describe('enroll token', () => {
  it('create prints the secret and the enrollment URL once; the secret enrolls a device', async () => {
    const r = await cli('enroll', 'token', 'create', '--profile', 'corp', '--expires', '2d', '--max-uses', '3');
    expect(r.code, r.stderr).toBe(0);
    const secret = /^token:\s+(\S+)$/m.exec(r.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(r.stdout).toContain(`url:      emmctl://enroll?token=${encodeURIComponent(secret!)}`);
    expect(r.stdout).toMatch(/max uses:\s+3/);
    expect(r.stderr).toMatch(/shown only this once/);
    // The printed secret is the real one: a device enrolls with it through the agent API.
    const store = await FleetService.open(fleet.dataDir);
    try {
      const enrolled = await store.enrollDevice({ token: secret!, platform: 'android', serial: 'SN-TOKEN', osVersion: '14' }, 'test');
      expect(enrolled.deviceId).toMatch(/\S/);
    } finally {
      await store.close();
    }
  });

  it('-o json carries the token record, the secret and the URL', async () => {
    const r = await cli('enroll', 'token', 'create', '--profile', 'corp', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout);
    expect(t).toMatchObject({ profile: 'corp', uses: 0, revoked: false, secret: expect.any(String), enrollmentUrl: expect.stringMatching(/^emmctl:\/\/enroll\?token=/) });
    // No --expires/--max-uses: the profile's tokenTtl (2d) and maxUses (test/admin/enroll-defaults.test.ts has the rest).
    expect(Date.parse(t.expiresAt) - Date.parse(t.createdAt)).toBe(2 * 86_400_000);
    expect(t.maxUses).toBe(100000);
  });

  it('--qr off a terminal warns and still prints the token', async () => {
    const r = await cli('enroll', 'token', 'create', '--profile', 'corp', '--qr');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--qr needs a terminal/);
    expect(r.stdout).toMatch(/^token:/m);
  });

  it('--qr on a terminal draws the QR code (pseudo-terminal)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { BIN, cliEnv } = await import('../helpers/cli.js');
    const r = spawnSync('script', ['-qfec', `'${process.execPath}' '${BIN}' enroll token create --profile corp --qr`, '/dev/null'], { env: cliEnv(fleet.env), encoding: 'utf8' });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/token:/);
    expect(r.stdout).toMatch(/[▀▄█]{10,}/);
  });

  it('rejects an unknown profile (exit 1) and a bad --expires (exit 2)', async () => {
    const unknown = await cli('enroll', 'token', 'create', '--profile', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/enrollment profile "nope" does not exist/);
    const bad = await cli('enroll', 'token', 'create', '--profile', 'corp', '--expires', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--expires "soon"/);
  });

  it('list never shows secrets; revoke marks the token revoked', async () => {
    const created = JSON.parse((await cli('enroll', 'token', 'create', '--profile', 'corp', '-o', 'json')).stdout);
    const list = await cli('enroll', 'token', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+PROFILE\s+STATE\s+USES\s+EXPIRES\s+CREATED$/);
    expect(list.stdout).toMatch(new RegExp(`${created.id}\\s+corp\\s+active\\s+0`));
    expect(list.stdout).not.toContain(created.secret);
    const json = await cli('enroll', 'token', 'list', '-o', 'json');
    expect(json.stdout).not.toContain(created.secret);
    expect(json.stdout).not.toMatch(/"secret"/);

    const revoke = await cli('enroll', 'token', 'revoke', created.id);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toMatch(new RegExp(`${created.id}\\s+corp\\s+revoked`));
    const after = JSON.parse((await cli('enroll', 'token', 'list', '-o', 'json')).stdout) as Array<{ id: string; revoked: boolean }>;
    expect(after.find((t) => t.id === created.id)!.revoked).toBe(true);
    const missing = await cli('enroll', 'token', 'revoke', 'et_missing');
    expect(missing.code).toBe(1);
  });
});

describe('enroll import', () => {
  const file = (name: string, text: string) => {
    const path = join(fleet.dataDir, '..', name);
    writeFileSync(path, text);
    return path;
  };
  const preregistered = async () => {
    const r = await cli('devices', 'list', '--filter', 'state=preregistered', '-o', 'json', '--sort', 'name');
    return JSON.parse(r.stdout) as Array<{ serial: string; name: string; labels: Record<string, string>; owner?: string; ownership: string; platform: string }>;
  };

  it('reports every bad row as FILE:LINE and imports nothing', async () => {
    const path = file('bad.csv', [
      'serial,platform,owner,ownership,name,labels',
      'S-1,android,ana@example.com,corporate,Ana,team=sales;site=lisbon',
      'S-2,blackberry,bo@example.com,corporate,Bo,',
      ',ios,,,,',
      'S-1,ios,,personal,Dup,',
      'S-5,ios,,rented,X,nolabel',
      'S-6,ios',
    ].join('\n'));
    const r = await cli('enroll', 'import', path);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path}:3: platform "blackberry" is not one of android, ios, ipados, macos, windows`);
    expect(r.stderr).toContain(`${path}:4: serial is empty`);
    expect(r.stderr).toContain(`${path}:5: serial "S-1" repeats line 2`);
    expect(r.stderr).toContain(`${path}:6: ownership "rented" is not one of corporate, personal`);
    expect(r.stderr).toContain(`${path}:6: label "nolabel" is not KEY=VALUE`);
    expect(r.stderr).toContain(`${path}:7: 2 fields, the header has 6`);
    expect(r.stderr).toMatch(/6 problems in .*; nothing was imported/);
    expect(r.stderr).toMatch(/--skip-invalid/);
    expect(await preregistered()).toEqual([]);
  });

  it('an unknown column is reported on line 1', async () => {
    const r = await cli('enroll', 'import', file('cols.csv', 'serial,platform,colour\nS-1,ios,red\n'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cols\.csv:1: unknown column "colour"/);
  });

  it('--skip-invalid imports the valid rows (quoted fields included)', async () => {
    const path = file('mixed.csv', 'serial,platform,owner,ownership,name,labels\r\nS-10,android,ana@example.com,corporate,"Ana, ""work"" phone",team=sales;site=lisbon\r\nS-11,palm,,,,\r\nS-12,ios,,personal,,\r\n');
    const r = await cli('enroll', 'import', path, '--skip-invalid');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/mixed\.csv:3: platform "palm"/);
    expect(r.stderr).toMatch(/Imported 2 devices .*2 created, 0 updated; 1 invalid row\(s\) skipped/);
    const devices = await preregistered();
    expect(devices.map((d) => d.serial).sort()).toEqual(['S-10', 'S-12']);
    expect(devices.find((d) => d.serial === 'S-10')).toMatchObject({ name: 'Ana, "work" phone', owner: 'ana@example.com', labels: { team: 'sales', site: 'lisbon' }, platform: 'android' });
  });

  it('--dry-run checks and imports nothing; a missing file is a clear error', async () => {
    const r = await cli('enroll', 'import', file('ok.csv', 'serial,platform\nS-20,windows\n'), '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1 valid row; dry run, nothing imported/);
    expect((await preregistered()).map((d) => d.serial)).not.toContain('S-20');
    const missing = await cli('enroll', 'import', '/nonexistent/devices.csv');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read \/nonexistent\/devices\.csv: no such file/);
  });
});
