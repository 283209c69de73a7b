// The wipe/retire guard (issue #7 item 17): off the prompt, more than one device needs
// --max-devices N with N at least the count; --yes never raises the limit; --dry-run is never
// refused and lists every target. Driven through the built CLI with no terminal (and one
// pseudo-terminal run for the typed count).
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, runCli } from '../helpers/cli.js';
import { seedStore, type SeedDevice, type SeededStore } from './devices.seed.js';

const IPHONES: SeedDevice[] = Array.from({ length: 13 }, (_, i) => ({
  name: `iphone-${String(i + 1).padStart(2, '0')}`,
  serial: `SN-IOS-${i + 1}`,
  platform: 'ios' as const,
  owner: `user${i + 1}@example.com`,
  posture: { osVersion: '17.4' },
}));
const ANDROIDS: SeedDevice[] = ['a1', 'a2', 'a3'].map((n) => ({ name: `android-${n}`, serial: `SN-${n}`, platform: 'android' as const, owner: `${n}@example.com`, posture: {} }));

let fleet: SeededStore;
const cli = (...args: string[]) => runCli(args, { env: fleet.env });

async function commandsOfType(type: string): Promise<Array<{ deviceId: string; type: string }>> {
  const r = await cli('commands', 'list', '--type', type, '-o', 'json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function onTerminal(args: string[], answer?: string): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', `stty cols 120; ${quoted}`, '/dev/null'], { env: cliEnv({ ...fleet.env, CI: undefined }) });
    let output = '';
    let answered = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (answer !== undefined && !answered && /to confirm:/.test(output)) {
        answered = true;
        setTimeout(() => child.stdin.write(`${answer}\r`), 50);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

beforeAll(async () => {
  fleet = await seedStore([...IPHONES, ...ANDROIDS]);
});
afterAll(() => fleet.cleanup());

describe('wipe guard off a terminal', () => {
  it('--yes alone never raises the limit: 13 matching devices are refused with exit 2, nothing queued', async () => {
    for (const type of ['wipe', 'retire']) {
      const r = await cli(type, '--filter', 'platform=ios', '--yes', '--reason', 'drill');
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${type} would target 13 devices, more than --max-devices 1; nothing was queued`);
      expect(r.stderr).toContain('pass --max-devices 13');
      expect(r.stdout).toBe('');
      expect(await commandsOfType(type)).toEqual([]);
    }
  });

  it('--max-devices below the count is refused too, with or without --yes', async () => {
    const low = await cli('wipe', '--filter', 'platform=ios', '--yes', '--max-devices', '12');
    expect(low.code).toBe(2);
    expect(low.stderr).toContain('more than --max-devices 12');
    const noYes = await cli('retire', '--filter', 'platform=android');
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toContain('pass --max-devices 3 --yes');
    expect(await commandsOfType('wipe')).toEqual([]);
    expect(await commandsOfType('retire')).toEqual([]);
  });

  it('--dry-run is never refused: it lists all 13 targets and its hint does not point at --dry-run', async () => {
    for (const extra of [[], ['--yes'], ['--max-devices', '2']]) {
      const r = await cli('wipe', '--filter', 'platform=ios', '--dry-run', ...extra, '-o', 'json');
      expect(r.code, r.stderr).toBe(0);
      const records = JSON.parse(r.stdout) as Array<{ outcome: string; name: string }>;
      expect(records.map((x) => x.name).sort()).toEqual(IPHONES.map((d) => d.name));
      expect(records.every((x) => x.outcome === 'would-queue')).toBe(true);
      expect(r.stderr).toMatch(/Dry run: nothing was queued/);
      expect(r.stderr).toMatch(/a real run would be refused: 13 devices is more than --max-devices (1|2); to go ahead, pass --max-devices 13/);
      expect(r.stderr).not.toMatch(/with --dry-run|check the targets with --dry-run/);
    }
    const text = await cli('retire', '--filter', 'platform=ios', '--dry-run');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.trimEnd().split('\n')).toHaveLength(14); // header + 13 rows
    expect(await commandsOfType('wipe')).toEqual([]);
    expect(await commandsOfType('retire')).toEqual([]);
  });

  it('--max-devices 13 with --yes queues 13 wipes', async () => {
    const r = await cli('wipe', '--filter', 'platform=ios', '--yes', '--max-devices', '13', '--reason', 'fleet recall', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const records = JSON.parse(r.stdout) as Array<{ outcome: string }>;
    expect(records.filter((x) => x.outcome === 'queued')).toHaveLength(13);
    expect(r.stderr).toMatch(/Queued wipe for 13 devices/);
    expect(await commandsOfType('wipe')).toHaveLength(13);
  });

  it('reversible actions keep the default of 25 without --max-devices', async () => {
    const r = await cli('lock', '--filter', 'platform=ios', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as unknown[]).length).toBe(13);
  });
});

describe('wipe guard on a terminal', () => {
  it('typing the count confirms several devices without --max-devices', async () => {
    const r = await onTerminal(['retire', '--filter', 'platform=android', '--reason', 'typed count'], '3');
    expect(r.output).toMatch(/This will retire 3 devices\. Type the number of devices to confirm/);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/Queued retire for 3 devices/);
  });

  it('--yes skips the prompt, so it confirms one device only: several are refused', async () => {
    const r = await onTerminal(['wipe', '--filter', 'platform=android', '--yes']);
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/more than --max-devices 1; nothing was queued/);
    expect(r.output).toMatch(/pass --max-devices 3, or leave out --yes and type the count at the prompt/);
    expect(await commandsOfType('wipe')).toHaveLength(13); // only the iPhones from before
  });
});
