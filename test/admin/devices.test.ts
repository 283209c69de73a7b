// `emmctl devices list|show` end to end: the built CLI on a real embedded store seeded through the agent API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { seedStore, type SeededStore } from './devices.seed.js';

let fleet: SeededStore;
const cli = (...args: string[]) => runCli(args, { env: fleet.env });

beforeAll(async () => {
  fleet = await seedStore();
});
afterAll(() => fleet.cleanup());

describe('devices list', () => {
  it('prints the table with the documented columns, piped: full values, ISO times', async () => {
    const r = await cli('devices', 'list');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+PLATFORM\s+OS\s+OWNER\s+OWNERSHIP\s+STATE\s+LAST SEEN$/);
    expect(lines).toHaveLength(6);
    expect(r.stdout).toMatch(new RegExp(`${fleet.ids['bo-galaxy']}\\s+bo-galaxy\\s+android\\s+12\\s+bo@example.com\\s+corporate\\s+enrolled\\s+\\d{4}-\\d{2}-\\d{2}T`));
    expect(r.stdout).not.toMatch(/\u001b\[/);
  });

  it('wide adds serial, model, labels, profile', async () => {
    const r = await cli('devices', 'list', '-o', 'wide', '--filter', 'name=ana-pixel');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/LAST SEEN\s+SERIAL\s+MODEL\s+LABELS\s+PROFILE$/);
    expect(r.stdout).toMatch(/SN-A1\s+.*team=sales\s+corp/);
  });

  it('filters (platform, os<, owner glob, compliance) combine; no match is exit 0 with a note on stderr', async () => {
    const names = async (...filters: string[]) => {
      const r = await cli('devices', 'list', '-o', 'json', ...filters.flatMap((f) => ['--filter', f]));
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as Array<{ name: string }>).map((d) => d.name).sort();
    };
    expect(await names('platform=ios')).toEqual(['di-iphone', 'ed-iphone']);
    expect(await names('platform=android', 'os<13')).toEqual(['bo-galaxy']);
    expect(await names('owner=*@example.com', 'platform=android')).toEqual(['ana-pixel', 'bo-galaxy']);
    expect(await names('compliance=noncompliant')).toEqual(['bo-galaxy', 'cy-pixel', 'ed-iphone']);
    const none = await cli('devices', 'list', '--filter', 'platform=windows');
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/No devices match/);
  });

  it('rejects a bad filter with exit 2 naming the fields', async () => {
    const r = await cli('devices', 'list', '--filter', 'colour=red');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown filter field "colour"/);
    expect(r.stdout).toBe('');
  });

  it('sorts and limits', async () => {
    const r = await cli('devices', 'list', '--sort', '-name', '--limit', '2', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Array<{ name: string }>).map((d) => d.name)).toEqual(['ed-iphone', 'di-iphone']);
    const asc = await cli('devices', 'list', '--sort', 'name', '-o', 'json');
    expect((JSON.parse(asc.stdout) as Array<{ name: string }>).map((d) => d.name)).toEqual(['ana-pixel', 'bo-galaxy', 'cy-pixel', 'di-iphone', 'ed-iphone']);
    const bad = await cli('devices', 'list', '--limit', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--limit expects a whole number/);
  });

  it('-o json gives Device records with stable camelCase fields', async () => {
    const r = await cli('devices', 'list', '-o', 'json', '--filter', 'name=cy-pixel');
    const [d] = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(d).toMatchObject({
      id: fleet.ids['cy-pixel'], name: 'cy-pixel', serial: 'SN-A3', platform: 'android', ownership: 'corporate',
      owner: 'cy@other.org', labels: { team: 'sales' }, state: 'enrolled', profile: 'corp', osVersion: '14',
    });
    expect(typeof d!.lastCheckIn).toBe('string');
    expect(typeof d!.enrolledAt).toBe('string');
  });

  it('-o csv and -o yaml carry the same devices', async () => {
    const csv = await cli('devices', 'list', '-o', 'csv', '--sort', 'name');
    expect(csv.code, csv.stderr).toBe(0);
    const rows = csv.stdout.trimEnd().split('\r\n');
    expect(rows[0]).toBe('ID,NAME,PLATFORM,OS,OWNER,OWNERSHIP,STATE,LAST SEEN,SERIAL,MODEL,LABELS,PROFILE');
    expect(rows).toHaveLength(6);
    expect(rows[1]).toContain(',ana-pixel,android,14,ana@example.com,corporate,enrolled,');
    const yaml = await cli('devices', 'list', '-o', 'yaml', '--sort', 'name');
    const { parse } = await import('yaml');
    const parsed = parse(yaml.stdout) as Array<{ name: string; labels: Record<string, string> }>;
    expect(parsed.map((d) => d.name)).toEqual(['ana-pixel', 'bo-galaxy', 'cy-pixel', 'di-iphone', 'ed-iphone']);
    expect(parsed[0]!.labels).toEqual({ team: 'sales' });
  });
});

describe('devices show', () => {
  it('shows posture, groups, effective configuration, compliance with reasons', async () => {
    const r = await cli('devices', 'show', fleet.ids['bo-galaxy']!);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('bo-galaxy');
    expect(r.stdout).toMatch(/Posture\n\s+encrypted:\s+yes/);
    expect(r.stdout).toMatch(/Groups\n\s+all, corp-android/);
    expect(r.stdout).toMatch(/Compliance: noncompliant/);
    expect(r.stdout).toMatch(/✗ baseline\/minOsVersion: expected .*13.*, actual 12/);
    expect(r.stdout).toMatch(/camera: disabled\s+← android-baseline/);
    expect(r.stdout).toMatch(/Commands\n\s+none/);
  });

  it('-o json prints the DeviceDetail', async () => {
    const r = await cli('devices', 'show', fleet.ids['cy-pixel']!, '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.id).toBe(fleet.ids['cy-pixel']);
    expect(d.groups).toEqual(['all', 'corp-android']);
    expect(d.compliance.status).toBe('noncompliant');
    expect(d.compliance.failures).toEqual([expect.objectContaining({ policy: 'baseline', rule: 'encryption', actual: expect.any(String) })]);
    expect(d.effectiveConfiguration.settings).toMatchObject({ camera: 'disabled' });
    expect(d.commands).toEqual([]);
    expect(d.posture.encrypted).toBe(false);
  });

  it('an unknown id is exit 1 with a message on stderr', async () => {
    const r = await cli('devices', 'show', 'dev_nope');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/dev_nope/);
  });
});

describe('output to a closed pipe and to a terminal', () => {
  it('stops quietly (exit 0, nothing on stderr) when the reader goes away, as `| head` does', async () => {
    const big = await seedStore(Array.from({ length: 2000 }, (_, i) => ({ name: `bulk-${i}`, serial: `BULK-${i}`, platform: 'android' as const, owner: `u${i}@example.com`, posture: {} })));
    try {
      const { spawn } = await import('node:child_process');
      const { BIN, cliEnv } = await import('../helpers/cli.js');
      const child = spawn(process.execPath, [BIN, 'compliance', '-o', 'json'], { env: cliEnv(big.env), stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout.once('data', () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(0);
      expect(stderr).toBe('');
    } finally {
      big.cleanup();
    }
  });

  it('on a terminal: colours and relative times (pseudo-terminal)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { BIN, cliEnv } = await import('../helpers/cli.js');
    const r = spawnSync('script', ['-qfec', `stty cols 200; '${process.execPath}' '${BIN}' compliance`, '/dev/null'], { env: cliEnv(fleet.env), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\u001b\[31mnoncompliant\u001b\[39m/);
    expect(r.stdout).toMatch(/just now|\dm ago/);
    expect(r.stdout).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:/);
  });
});
