// lock/reboot/wipe/retire end to end: confirmation rules (no terminal → --yes, PTY typed
// confirmation), already-pending, --max-devices, --dry-run, --wait with a device acknowledging,
// then commands list/show/cancel and the audit log.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, runCli, tempDir } from '../helpers/cli.js';
import { deviceRunsCommands, seedStore, type SeededStore } from './devices.seed.js';

let fleet: SeededStore;
const cli = (...args: string[]) => runCli(args, { env: fleet.env });

interface CommandJson {
  id: string;
  deviceId: string;
  type: string;
  status: string;
  reason?: string;
  requestedBy: string;
}

async function commandsOf(deviceId: string): Promise<CommandJson[]> {
  const r = await cli('commands', 'list', '--device', deviceId, '-o', 'json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as CommandJson[];
}

/**
 * Runs emmctl on a pseudo-terminal (util-linux `script`), answers the first prompt with `answer`
 * once it appears, and returns the terminal transcript and exit code.
 */
function onTerminal(args: string[], answer: string): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    // CI=true turns prompts off by design (a CI job has no one to answer); this run has a person's terminal.
    const child = spawn('script', ['-qfec', `stty cols 120; ${quoted}`, '/dev/null'], { env: cliEnv({ ...fleet.env, CI: undefined }) });
    let output = '';
    let answered = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (!answered && /to confirm:|\(y\/N\)/.test(output)) {
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
  fleet = await seedStore();
});
afterAll(() => fleet.cleanup());

describe('wipe off a terminal', () => {
  it('without --yes: exit 2 naming --yes, the targets shown, nothing queued', async () => {
    const id = fleet.ids['bo-galaxy']!;
    const r = await cli('wipe', id, '--reason', 'lost');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/wipe \(destructive\) needs confirmation, and there is no terminal/);
    expect(r.stderr).toMatch(/pass --yes/);
    expect(r.stderr).toContain(`${id}  bo-galaxy`);
    expect(r.stdout).toBe('');
    expect(await commandsOf(id)).toEqual([]);
  });

  it('--dry-run shows what would be queued and queues nothing', async () => {
    const id = fleet.ids['bo-galaxy']!;
    const r = await cli('wipe', id, '--dry-run', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ deviceId: id, name: 'bo-galaxy', type: 'wipe', outcome: 'would-queue' }]);
    expect(r.stderr).toMatch(/Dry run: nothing was queued/);
    expect(await commandsOf(id)).toEqual([]);
  });

  it('--yes queues with the reason; a second wipe reports already pending and queues nothing new', async () => {
    const id = fleet.ids['bo-galaxy']!;
    const first = await cli('wipe', id, '--yes', '--reason', 'reported stolen', '-o', 'json');
    expect(first.code, first.stderr).toBe(0);
    const [queued] = JSON.parse(first.stdout) as Array<{ commandId: string; outcome: string; status: string; reason: string }>;
    expect(queued).toMatchObject({ deviceId: id, type: 'wipe', outcome: 'queued', status: 'queued', reason: 'reported stolen' });
    expect(queued!.commandId).toMatch(/\S/);

    const second = await cli('wipe', id, '--yes');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`${queued!.commandId}\\s+${id}\\s+bo-galaxy\\s+wipe\\s+already pending`));
    const cmds = await commandsOf(id);
    expect(cmds).toHaveLength(1);
    expect(cmds[0]).toMatchObject({ id: queued!.commandId, type: 'wipe', status: 'queued', reason: 'reported stolen' });

    const dry = await cli('wipe', id, '--dry-run', '-o', 'json');
    expect(JSON.parse(dry.stdout)[0]).toMatchObject({ outcome: 'already-pending', commandId: queued!.commandId });
  });

  it('--max-devices: a filter matching more devices than allowed is refused, naming the flag', async () => {
    const noYes = await cli('wipe', '--filter', 'platform=android');
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toMatch(/wipe would target 3 devices, more than --max-devices 1; nothing was queued/);
    const limited = await cli('retire', '--filter', 'platform=android', '--yes', '--max-devices', '2');
    expect(limited.code).toBe(2);
    expect(limited.stderr).toMatch(/more than --max-devices 2/);
    expect(limited.stderr).toMatch(/pass --max-devices 3/);
    for (const name of ['ana-pixel', 'cy-pixel']) expect((await commandsOf(fleet.ids[name]!)).filter((c) => c.type === 'retire')).toEqual([]);
  });

  it('a filter with no match is an error; so is an unknown id; neither queues', async () => {
    const none = await cli('lock', '--filter', 'platform=windows');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no device matches --filter platform=windows/);
    const unknown = await cli('lock', 'dev_missing', '--yes');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/device "dev_missing" not found; nothing was queued/);
    const nothing = await cli('lock');
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/lock needs device ids or --filter/);
  });
});

describe('lock off a terminal', () => {
  it('is reversible, so it proceeds without --yes (bounded by --max-devices)', async () => {
    const r = await cli('lock', '--filter', 'platform=ios', '--reason', 'audit drill');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(r.stderr).toMatch(/Queued lock for 2 devices/);
  });
});

describe('--wait', () => {
  it('follows the command until the device acknowledges it, exit 0', async () => {
    const id = fleet.ids['ana-pixel']!;
    const waiting = cli('reboot', id, '--wait', '--timeout', '40s', '-o', 'json');
    // The device checks in once the command is queued, as the simulator's agent would.
    let ran: string[] = [];
    for (let i = 0; i < 100 && ran.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if ((await commandsOf(id)).some((c) => c.type === 'reboot')) ran = await deviceRunsCommands(fleet.dataDir, id);
    }
    expect(ran).toHaveLength(1);
    const r = await waiting;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ commandId: ran[0], outcome: 'queued', status: 'acknowledged' })]);
    expect(r.stderr).toMatch(/All commands acknowledged/);
    expect(r.stderr).not.toMatch(/\r|\u001b\[/); // no progress frames off a terminal
  });

  it('exits 1 when the device reports failure', async () => {
    const id = fleet.ids['cy-pixel']!;
    const waiting = cli('reboot', id, '--wait', '--timeout', '40s');
    let ran: string[] = [];
    for (let i = 0; i < 100 && ran.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if ((await commandsOf(id)).some((c) => c.type === 'reboot')) ran = await deviceRunsCommands(fleet.dataDir, id, 'failed');
    }
    const r = await waiting;
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/reboot\s+queued\s+failed\s+device refused/);
    expect(r.stderr).toMatch(/1 of 1 commands did not succeed/);
  });

  it('times out with exit 1 when no device checks in', async () => {
    const r = await cli('reboot', fleet.ids['di-iphone']!, '--wait', '--timeout', '1s');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/timed out after 1s waiting for 1 command/);
    expect(r.stdout).toMatch(/reboot\s+queued\s+queued/);
  });
});

describe('on a terminal (pseudo-terminal)', () => {
  it('wipe asks to type the device name; a wrong name cancels (130) and queues nothing', async () => {
    const id = fleet.ids['di-iphone']!;
    const r = await onTerminal(['wipe', id], 'not-the-name');
    expect(r.output).toMatch(/Type the device name \(or its ID\) to confirm/);
    expect(r.code).toBe(130);
    expect(r.output).toMatch(/confirmation did not match "di-iphone"/);
    expect((await commandsOf(id)).filter((c) => c.type === 'wipe')).toEqual([]);
  });

  it('typing the device name queues the wipe', async () => {
    const id = fleet.ids['di-iphone']!;
    const r = await onTerminal(['wipe', id, '--reason', 'typed'], 'di-iphone');
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/Queued wipe for 1 device/);
    expect((await commandsOf(id)).filter((c) => c.type === 'wipe')).toEqual([expect.objectContaining({ reason: 'typed', status: 'queued' })]);
  });

  it('several devices: the admin types the count', async () => {
    const r = await onTerminal(['retire', '--filter', 'platform=android', '--max-devices', '3'], '3');
    expect(r.output).toMatch(/This will retire 3 devices\. Type the number of devices to confirm/);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/Queued retire for 3 devices/);
  });

  it('lock asks yes/no; "n" cancels', async () => {
    const r = await onTerminal(['lock', fleet.ids['ed-iphone']!], 'n');
    expect(r.output).toMatch(/Lock 1 device\?/);
    expect(r.code).toBe(130);
    expect((await commandsOf(fleet.ids['ed-iphone']!)).filter((c) => c.type === 'lock' && c.reason === undefined)).toEqual([]);
  });
});

describe('commands and audit', () => {
  it('commands list filters by device, status and type; show and cancel work on one command', async () => {
    const id = fleet.ids['bo-galaxy']!;
    const list = await cli('commands', 'list', '--device', id, '--type', 'wipe');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+DEVICE\s+TYPE\s+STATUS\s+REQUESTED BY\s+CREATED\s+UPDATED$/);
    const [wipe] = await commandsOf(id).then((c) => c.filter((x) => x.type === 'wipe'));
    expect(list.stdout).toContain(wipe!.id);

    const show = await cli('commands', 'show', wipe!.id);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/reason:\s+reported stolen/);
    expect(show.stdout).toMatch(/status:\s+queued/);

    const cancel = await cli('commands', 'cancel', wipe!.id, '-o', 'json');
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ id: wipe!.id, status: 'cancelled' });
    const cancelled = await cli('commands', 'list', '--status', 'cancelled', '-o', 'json');
    expect((JSON.parse(cancelled.stdout) as CommandJson[]).map((c) => c.id)).toContain(wipe!.id);

    const again = await cli('commands', 'cancel', wipe!.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error:/);

    const badStatus = await cli('commands', 'list', '--status', 'done');
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(/--status must be one of queued, sent/);
  });

  it('audit shows the wipe with its reason and the local actor', async () => {
    const r = await cli('audit', '--since', '1h', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const records = JSON.parse(r.stdout) as Array<{ actor: string; action: string; target: string; detail?: Record<string, unknown> }>;
    const wipe = records.find((a) => a.action === 'command.wipe' && a.target.includes(fleet.ids['bo-galaxy']!));
    expect(wipe).toBeDefined();
    expect(wipe!.actor).toMatch(/^local:/);
    expect(wipe!.detail).toMatchObject({ reason: 'reported stolen' });

    const table = await cli('audit', '--actor', wipe!.actor);
    expect(table.stdout.split('\n')[0]).toMatch(/^TIME\s+ACTOR\s+ACTION\s+TARGET\s+DETAIL$/);
    expect(table.stdout).toMatch(/command\.wipe\s+\S+\s+.*reason=reported stolen/);
    expect(table.stdout).not.toMatch(/local:seed/);

    const future = await cli('audit', '--since', '2999-01-01');
    expect(future.stdout).toBe('');
    const bad = await cli('audit', '--since', 'yesterday');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since "yesterday"/);
  });
});

describe('--wait with the fleet simulator as the devices', () => {
  it('wipe --yes --wait finishes when `emmctl simulate --once` runs the command', async () => {
    const dir = tempDir('emmctl-sim-');
    const env = { EMMCTL_DATA_DIR: join(dir.path, 'data'), HOME: dir.path };
    const run = (...args: string[]) => runCli(args, { env });
    try {
      const sim = await run('simulate', '--devices', '4', '--once', '--seed', '7');
      expect(sim.code, sim.stderr).toBe(0);
      const devices = JSON.parse((await run('devices', 'list', '-o', 'json', '--sort', 'name')).stdout) as Array<{ id: string; name: string }>;
      expect(devices).toHaveLength(4);
      const target = devices[0]!;
      const waiting = run('wipe', target.id, '--yes', '--wait', '--timeout', '40s', '--reason', 'simulated loss', '-o', 'json');
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const cmds = JSON.parse((await run('commands', 'list', '--device', target.id, '-o', 'json')).stdout) as CommandJson[];
        if (cmds.length) break;
      }
      const again = await run('simulate', '--devices', '4', '--once', '--seed', '7');
      expect(again.code, again.stderr).toBe(0);
      const r = await waiting;
      const [record] = JSON.parse(r.stdout) as Array<{ status: string; commandId: string }>;
      // The simulator decides each device's outcome (seeded); --wait must report it and exit accordingly.
      expect(['acknowledged', 'failed']).toContain(record!.status);
      expect(r.code, r.stderr).toBe(record!.status === 'acknowledged' ? 0 : 1);
      const shown = JSON.parse((await run('commands', 'show', record!.commandId, '-o', 'json')).stdout) as CommandJson;
      expect(shown).toMatchObject({ status: record!.status, reason: 'simulated loss', type: 'wipe' });
    } finally {
      dir.cleanup();
    }
  });
});
