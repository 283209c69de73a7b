// src/fleet/device-actions.ts: the --max-devices guard, target resolution against a real embedded
// store, enqueue results as records, and the --wait polling loop on an injected clock.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, EnqueueResult } from '../../src/backends/backend.js';
import { openEmbeddedBackend } from '../../src/backends/embedded/index.js';
import { EmmctlError } from '../../src/errors.js';
import {
  DEFAULT_MAX_DEVICES,
  dryRunRecords,
  maxDevicesFor,
  resolveTargets,
  toRecords,
  waitForCommands,
  type ActionRecord,
} from '../../src/fleet/device-actions.js';
import type { CommandStatus, Device, DeviceCommand } from '../../src/model/fleet.js';
import { runCli, tempDir } from '../helpers/cli.js';

describe('maxDevicesFor', () => {
  const destructive = { destructive: true };
  const reversible = { destructive: false };

  it('limits a destructive action off the prompt to one device, --yes included', () => {
    expect(maxDevicesFor(destructive, {})).toBe(1);
    expect(maxDevicesFor(destructive, { yes: false })).toBe(1);
    expect(maxDevicesFor(destructive, { yes: true })).toBe(1);
    expect(maxDevicesFor(destructive, { yes: true, canPrompt: true })).toBe(1);
  });

  it('allows the default when the count is typed at the prompt, and always for reversible actions', () => {
    expect(maxDevicesFor(destructive, { canPrompt: true })).toBe(DEFAULT_MAX_DEVICES);
    expect(maxDevicesFor(reversible, {})).toBe(DEFAULT_MAX_DEVICES);
    expect(maxDevicesFor(reversible, { yes: true })).toBe(DEFAULT_MAX_DEVICES);
    expect(DEFAULT_MAX_DEVICES).toBe(25);
  });

  it('takes an explicit --max-devices over every default', () => {
    expect(maxDevicesFor(destructive, { maxDevices: 7 })).toBe(7);
    expect(maxDevicesFor(destructive, { maxDevices: 40, yes: true })).toBe(40);
    expect(maxDevicesFor(reversible, { maxDevices: 1 })).toBe(1);
  });

  it('matches the default the CLI help states', async () => {
    const r = await runCli(['lock', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(`(default ${DEFAULT_MAX_DEVICES})`);
  });
});

function device(id: string, name = `name-${id}`): Device {
  return { id, name, platform: 'android', ownership: 'corporate', labels: {}, state: 'enrolled' };
}

function command(id: string, deviceId: string, status: CommandStatus, reason?: string): DeviceCommand {
  return { id, deviceId, type: 'wipe', status, reason, requestedBy: 'local:test', createdAt: '2026-01-01T00:00:00Z' } as DeviceCommand;
}

describe('toRecords', () => {
  it('maps each backend outcome to a record, naming devices from the targets', () => {
    const result: EnqueueResult = {
      results: [
        { deviceId: 'dev_1', outcome: 'queued', command: command('cmd_1', 'dev_1', 'queued', 'lost') },
        { deviceId: 'dev_2', outcome: 'pending', command: command('cmd_0', 'dev_2', 'sent', 'earlier reason') },
        { deviceId: 'dev_3', outcome: 'skipped', message: 'device is wiped' },
        { deviceId: 'dev_unknown', outcome: 'skipped' },
      ],
    };
    const devices = new Map([['dev_1', device('dev_1', 'Ana')], ['dev_2', device('dev_2', 'Bo')], ['dev_3', device('dev_3', 'Cy')]]);
    expect(toRecords(result, 'wipe', devices, 'lost')).toEqual([
      { commandId: 'cmd_1', deviceId: 'dev_1', name: 'Ana', type: 'wipe', outcome: 'queued', status: 'queued', reason: 'lost', message: undefined },
      { commandId: 'cmd_0', deviceId: 'dev_2', name: 'Bo', type: 'wipe', outcome: 'already-pending', status: 'sent', reason: 'earlier reason', message: 'a wipe is already pending' },
      { commandId: undefined, deviceId: 'dev_3', name: 'Cy', type: 'wipe', outcome: 'skipped', status: undefined, reason: 'lost', message: 'device is wiped' },
      { commandId: undefined, deviceId: 'dev_unknown', name: 'dev_unknown', type: 'wipe', outcome: 'skipped', status: undefined, reason: 'lost', message: undefined },
    ]);
  });

  it('keeps a backend message for a pending command over the default one', () => {
    const result: EnqueueResult = { results: [{ deviceId: 'dev_1', outcome: 'pending', message: 'queued 5 min ago' }] };
    expect(toRecords(result, 'lock', new Map())[0]).toMatchObject({ outcome: 'already-pending', message: 'queued 5 min ago', name: 'dev_1' });
  });
});

describe('resolveTargets and dryRunRecords (embedded store)', () => {
  let dir: ReturnType<typeof tempDir>;
  let backend: Backend;
  let ids: string[];

  beforeEach(async () => {
    dir = tempDir('emmctl-fleet-');
    backend = await openEmbeddedBackend({ dataDir: join(dir.path, 'store'), actor: 'local:test' });
    await backend.preregisterDevices(
      Array.from({ length: 6 }, (_, i) => ({ serial: `SER${i}`, platform: 'android' as const, name: `phone-${i}`, labels: { lost: i < 4 ? 'true' : 'false' } })),
    );
    ids = (await backend.listDevices({ limit: 100 })).items.map((d) => d.id).sort();
  });

  afterEach(async () => {
    await backend.close();
    dir.cleanup();
  });

  const lost = [{ field: 'label.lost', op: '=', value: 'true' }] as never;

  it('counts every filter match but keeps at most max+1 devices', async () => {
    const { devices, total } = await resolveTargets(backend, [], lost, 2, 2);
    expect(total).toBe(4);
    expect(devices).toHaveLength(3);
    expect(devices.every((d) => d.labels.lost === 'true')).toBe(true);
  });

  it('takes ids first, never counts a device twice, and returns plain devices', async () => {
    const { devices, total } = await resolveTargets(backend, [ids[5]!, ids[5]!], [], 25, 1000);
    expect(total).toBe(1);
    expect(devices.map((d) => d.id)).toEqual([ids[5]]);
    expect(devices[0]).not.toHaveProperty('compliance');
    expect(devices[0]).not.toHaveProperty('commands');

    const lostIds = (await backend.listDevices({ limit: 100, filters: lost })).items.map((d) => d.id);
    const both = await resolveTargets(backend, [lostIds[0]!], lost, 25, 1000);
    expect(both.total).toBe(4);
    expect(new Set(both.devices.map((d) => d.id)).size).toBe(4);
  });

  it('refuses an unknown id with a hint, before any filter runs', async () => {
    const error = await resolveTargets(backend, ['dev_nope'], lost, 25, 1000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmmctlError);
    expect((error as Error).message).toBe('device "dev_nope" not found; nothing was queued');
  });

  it('dry run: would queue on each device, saying when a device is not enrolled', async () => {
    const { devices } = await resolveTargets(backend, ids.slice(0, 2), [], 25, 1000);
    const records = await dryRunRecords(backend, devices, 'lock', 'audit test');
    expect(records).toEqual(devices.map((d) => ({ deviceId: d.id, name: d.name, type: 'lock', outcome: 'would-queue', reason: 'audit test', message: 'device is preregistered' })));
  });
});

describe('waitForCommands', () => {
  function scripted(statuses: Record<string, CommandStatus[]>) {
    const calls: string[] = [];
    const backend = {
      getCommand: async (id: string) => {
        calls.push(id);
        const next = statuses[id]!.length > 1 ? statuses[id]!.shift()! : statuses[id]![0]!;
        return { ...command(id, 'dev', next), detail: next === 'failed' ? 'agent error' : undefined } as DeviceCommand;
      },
    };
    return { backend, calls };
  }

  function clock() {
    let t = 1_000_000;
    const sleeps: number[] = [];
    return { now: () => t, sleep: async (ms: number) => { sleeps.push(ms); t += ms; }, sleeps };
  }

  const queued = (id: string): ActionRecord => ({ commandId: id, deviceId: `d-${id}`, name: id, type: 'lock', outcome: 'queued', status: 'queued' });

  it('polls only unfinished commands with backoff until all are final', async () => {
    const records = [queued('a'), queued('b'), { deviceId: 'd-c', name: 'c', type: 'lock', outcome: 'skipped' } as ActionRecord];
    const { backend, calls } = scripted({ a: ['sent', 'acknowledged'], b: ['sent', 'sent', 'sent', 'failed'] });
    const c = clock();
    const progress: Array<[number, number]> = [];
    const open = await waitForCommands(backend, records, { timeoutSeconds: 60, sleep: c.sleep, now: c.now, onProgress: (d, t) => progress.push([d, t]) });
    expect(open).toBe(0);
    expect(c.sleeps).toEqual([250, 500, 1000, 2000]);
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'b', 'b']);
    expect(records.map((r) => r.status)).toEqual(['acknowledged', 'failed', undefined]);
    expect(records[1]!.message).toBe('agent error');
    expect(progress).toEqual([[0, 2], [0, 2], [1, 2], [1, 2], [2, 2]]);
  });

  it('stops at the deadline and says how many are still open, never sleeping past it', async () => {
    const records = [queued('a'), queued('b')];
    const { backend } = scripted({ a: ['acknowledged'], b: ['sent'] });
    const c = clock();
    const open = await waitForCommands(backend, records, { timeoutSeconds: 1, sleep: c.sleep, now: c.now });
    expect(open).toBe(1);
    expect(c.sleeps).toEqual([250, 500, 250]);
    expect(records.map((r) => r.status)).toEqual(['acknowledged', 'sent']);
  });

  it('returns at once when nothing was queued', async () => {
    const c = clock();
    const { backend, calls } = scripted({});
    expect(await waitForCommands(backend, [], { timeoutSeconds: 5, sleep: c.sleep, now: c.now })).toBe(0);
    expect(c.sleeps).toEqual([]);
    expect(calls).toEqual([]);
  });
});
