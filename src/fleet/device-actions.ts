// Admin device actions (lock, reboot, wipe, retire) as operations over the Backend, apart from
// the CLI that asks for them: which devices a request targets and the --max-devices guard, what
// is already pending, what an enqueue did to each device, and following the queued commands to a
// final status. The CLI keeps flags, confirmation prompts and rendering (design.md layers).
import type { Backend, DeviceFilter, DeviceQuery, EnqueueResult } from '../backends/backend.js';
import { allPages } from '../backends/backend.js';
import { BackendError, EmmctlError } from '../errors.js';
import type { CommandStatus, CommandType, Device, DeviceCommand } from '../model/fleet.js';
import { FINAL_COMMAND_STATUSES } from '../model/fleet.js';

/** Targets allowed per invocation unless --max-devices says otherwise (a destructive action off the prompt: 1). */
export const DEFAULT_MAX_DEVICES = 25;

/**
 * The guard's limit. A destructive action of more than one device needs the count confirmed:
 * typed at the prompt on a terminal, or given as --max-devices N (N at least the count). --yes
 * skips the prompt, so it can never raise the limit: it confirms one device, no more.
 * Reversible actions are bounded by the default alone.
 */
export function maxDevicesFor(spec: { destructive: boolean }, opts: { maxDevices?: number; yes?: boolean; canPrompt?: boolean }): number {
  if (opts.maxDevices !== undefined) return opts.maxDevices;
  const typedCount = !opts.yes && opts.canPrompt === true;
  return spec.destructive && !typedCount ? 1 : DEFAULT_MAX_DEVICES;
}

export interface ActionRecord {
  commandId?: string;
  deviceId: string;
  name: string;
  type: CommandType;
  /** queued, already-pending, skipped, would-queue (--dry-run). */
  outcome: 'queued' | 'already-pending' | 'skipped' | 'would-queue';
  status?: CommandStatus;
  reason?: string;
  message?: string;
}

/**
 * Ids first (each must exist), then every filter match; keeps at most max+1 devices in memory,
 * while `total` counts every match so the guard can say how many there really were.
 */
export async function resolveTargets(
  backend: Pick<Backend, 'getDevice' | 'listDevices'>,
  ids: string[],
  filters: DeviceFilter[],
  max: number,
  pageSize: number,
): Promise<{ devices: Device[]; total: number }> {
  const found = new Map<string, Device>();
  let total = 0;
  for (const id of ids) {
    if (found.has(id)) continue;
    try {
      const detail = await backend.getDevice(id);
      const { groups: _g, compliance: _c, effectiveConfiguration: _e, commands: _cmds, ...device } = detail;
      found.set(id, device);
      total++;
    } catch (error) {
      if (error instanceof BackendError && error.code === 'not_found') {
        throw new EmmctlError(`device "${id}" not found; nothing was queued`, { hint: 'list device ids with: emmctl devices list' });
      }
      throw error;
    }
  }
  if (filters.length) {
    for await (const device of allPages<Device, DeviceQuery>((q) => backend.listDevices(q), { filters, limit: pageSize })) {
      if (found.has(device.id)) continue;
      total++;
      if (found.size <= max) found.set(device.id, device);
    }
  }
  return { devices: [...found.values()], total };
}

/** The queued or sent command of this type on the device, if any (a dry run reports it as already pending). */
export async function pendingCommand(backend: Pick<Backend, 'listCommands'>, deviceId: string, type: CommandType): Promise<DeviceCommand | undefined> {
  for (const status of ['queued', 'sent'] as const) {
    const page = await backend.listCommands({ deviceId, type, status, limit: 1 });
    if (page.items[0]) return page.items[0];
  }
  return undefined;
}

/** What a --dry-run reports: per target, the command already pending or the one that would be queued. */
export async function dryRunRecords(backend: Pick<Backend, 'listCommands'>, devices: Device[], type: CommandType, reason?: string): Promise<ActionRecord[]> {
  const records: ActionRecord[] = [];
  for (const d of devices) {
    const pending = await pendingCommand(backend, d.id, type);
    records.push(pending
      ? { commandId: pending.id, deviceId: d.id, name: d.name, type, outcome: 'already-pending', status: pending.status, reason }
      : { deviceId: d.id, name: d.name, type, outcome: 'would-queue', reason, message: d.state === 'enrolled' ? undefined : `device is ${d.state}` });
  }
  return records;
}

/** One record per device the backend answered for; names come from the resolved targets. */
export function toRecords(result: EnqueueResult, type: CommandType, devices: Map<string, Device>, reason?: string): ActionRecord[] {
  return result.results.map((r) => ({
    commandId: r.command?.id,
    deviceId: r.deviceId,
    name: devices.get(r.deviceId)?.name ?? r.deviceId,
    type,
    outcome: r.outcome === 'pending' ? 'already-pending' : r.outcome,
    status: r.command?.status,
    reason: r.command?.reason ?? reason,
    message: r.message ?? (r.outcome === 'pending' ? `a ${type} is already pending` : undefined),
  }));
}

export interface WaitOptions {
  timeoutSeconds: number;
  /** Called before every poll round with how many commands are final out of how many were queued. */
  onProgress?: (done: number, total: number) => void;
  /** Injectable so tests need not wait in real time. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Polls each unfinished command with backoff (250 ms doubling to 2 s) until every one is final
 * or the deadline passes. Updates the records in place; returns how many were still unfinished.
 */
export async function waitForCommands(backend: Pick<Backend, 'getCommand'>, records: ActionRecord[], opts: WaitOptions): Promise<number> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.timeoutSeconds * 1000;
  const open = () => records.filter((r) => r.commandId && !(FINAL_COMMAND_STATUSES as readonly string[]).includes(r.status ?? ''));
  let delay = 250;
  for (;;) {
    const waiting = open();
    const done = records.filter((r) => r.commandId).length - waiting.length;
    opts.onProgress?.(done, done + waiting.length);
    if (waiting.length === 0) return 0;
    if (now() >= deadline) return waiting.length;
    await sleep(Math.min(delay, Math.max(deadline - now(), 0)));
    delay = Math.min(delay * 2, 2000);
    for (const r of waiting) {
      const cmd = await backend.getCommand(r.commandId!);
      r.status = cmd.status;
      if (cmd.detail) r.message = cmd.detail;
    }
  }
}
