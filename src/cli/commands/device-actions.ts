// `emmctl lock|reboot|wipe|retire`: queue device commands, safely.
//
// Rules (design.md "destructive commands"):
// - wipe and retire are destructive. On a terminal the admin types the device name (one device)
//   or the device count (several); without a terminal they need --yes (else exit 2, nothing queued).
// - lock and reboot are reversible: on a terminal a yes/no question (skipped by --yes); off a
//   terminal they proceed without --yes, bounded by --max-devices like every action.
// - --max-devices: more targets are refused. wipe/retire of several devices needs the count
//   confirmed, typed at the prompt or as --max-devices N (N >= count); --yes never raises the limit
//   (it confirms one device). Default 25 for lock/reboot and for a wipe/retire confirmed at the prompt.
// - --dry-run is never refused by the guard: it lists every target and says what a real run needs.
// - One idempotency key per invocation, so a retried request never queues twice; a device that
//   already has the same command pending is reported `already pending`, not queued again.
import { Command } from 'commander';
import type { CommandType, Device } from '../../model/fleet.js';
import type { ActionRecord } from '../../fleet/device-actions.js';
import type { Column } from '../../output/render.js';
import { acceptsOutput, type CliContext } from '../context.js';
import { collect, outputFormat, PAGE_SIZE, parseFilters, positiveInt } from './devices.js';

interface ActionSpec {
  type: CommandType;
  destructive: boolean;
  summary: string;
}

export const ACTIONS: readonly ActionSpec[] = [
  { type: 'lock', destructive: false, summary: 'lock devices (the user unlocks with their passcode)' },
  { type: 'reboot', destructive: false, summary: 'reboot devices' },
  { type: 'wipe', destructive: true, summary: 'factory-reset devices: ALL data on them is erased (destructive)' },
  { type: 'retire', destructive: true, summary: 'remove corporate data and management, keep personal data (destructive)' },
];

// Only for the help text, which is built when the program is (src/fleet stays out of the entry
// chunk); test/fleet/device-actions.test.ts checks it matches the guard's DEFAULT_MAX_DEVICES.
const HELP_DEFAULT_MAX_DEVICES = 25;

const RECORD_COLUMNS: Column<ActionRecord>[] = [
  { header: 'COMMAND', value: (r) => r.commandId ?? '-', keep: true },
  { header: 'DEVICE', value: (r) => r.deviceId, keep: true },
  { header: 'NAME', value: (r) => r.name, flex: true },
  { header: 'TYPE', value: (r) => r.type },
  {
    header: 'OUTCOME',
    value: (r) => r.outcome.replace('-', ' '),
    color: (t, c, r) => (r.outcome === 'queued' ? c.green(t) : r.outcome === 'skipped' ? c.yellow(t) : t),
  },
  {
    header: 'STATUS',
    value: (r) => r.status,
    color: (t, c, r) => (r.status === 'acknowledged' ? c.green(t) : r.status && ['failed', 'expired', 'cancelled'].includes(r.status) ? c.red(t) : t),
  },
  { header: 'MESSAGE', value: (r) => r.message, flex: true },
  { header: 'REASON', value: (r) => r.reason, wide: true, flex: true },
];

interface ActionOptions {
  filter: string[];
  reason?: string;
  dryRun?: boolean;
  yes?: boolean;
  maxDevices?: number;
  wait?: boolean;
  timeout: string;
}

export function register(program: Command, ctx: CliContext): void {
  for (const spec of ACTIONS) {
    const confirmText = spec.destructive
      ? `On a terminal you confirm by typing the device name (one device) or the number of devices;
without a terminal --yes is required (exit 2 otherwise, nothing is queued).
More than one device off the prompt (no terminal, or --yes) needs --max-devices N with N at
least the number of devices: --yes alone confirms one device. --dry-run lists every target.`
      : `On a terminal you confirm with y/N (--yes skips it); off a terminal it proceeds, bounded
by --max-devices (default 25).`;
    program
      .command(spec.type)
      .description(spec.summary)
      .argument('[ids...]', 'device ids (see `emmctl devices list`)')
      .option('-f, --filter <expr>', 'select devices by filter (repeatable, all must match), e.g. label.lost=true', collect, [])
      .option('--reason <text>', 'why; kept with the command and in the audit log')
      .option('--dry-run', 'show what would be queued; queue nothing')
      .option('-y, --yes', 'do not ask for confirmation (required off a terminal for wipe/retire)')
      .option('--max-devices <n>', `refuse if more devices match (default ${spec.destructive ? `1, or ${HELP_DEFAULT_MAX_DEVICES} when the count is typed at the prompt` : String(HELP_DEFAULT_MAX_DEVICES)})`, positiveInt('--max-devices'))
      .option('--wait', 'follow the commands until each is acknowledged, failed, expired or cancelled; exit 1 unless all acknowledged')
      .option('--timeout <duration>', 'with --wait: give up after this long (30s, 5m, 1h)', '5m')
      .addHelpText('after', `
${confirmText}
A device that already has a ${spec.type} pending is reported "already pending" and not queued again.
Prints one record per device: COMMAND, DEVICE, NAME, TYPE, OUTCOME (queued | already pending |
skipped | would queue), STATUS, MESSAGE. JSON fields: commandId, deviceId, name, type, outcome,
status, reason, message.

Examples:
  $ emmctl ${spec.type} dev_0001 --reason "reported lost by owner"
  $ emmctl ${spec.type} --filter label.lost=true --dry-run
  $ emmctl ${spec.type} dev_0001 dev_0002 --yes --max-devices 2 --reason "offboarding"
  $ emmctl ${spec.type} --filter 'os<14' --dry-run
  $ emmctl ${spec.type} dev_0001 --yes --wait --timeout 10m

Next: \`emmctl commands list --device ID\` to follow it, \`emmctl audit\` to see who asked.`)
      .action((ids: string[], opts: ActionOptions, command: Command) => runAction(ctx, command, spec, ids, opts));
    // No column is wide-only: -o wide would print the table unchanged.
    acceptsOutput(program.commands.find((c) => c.name() === spec.type)!, ['table', 'json', 'yaml', 'csv']);
  }
}

async function runAction(ctx: CliContext, command: Command, spec: ActionSpec, ids: string[], opts: ActionOptions): Promise<void> {
  const { UsageError, EmmctlError, CancelledError, ExitWith, ExitCode } = await import('../../errors.js');
  const filters = await parseFilters(opts.filter);
  if (ids.length === 0 && filters.length === 0) {
    throw new UsageError(`${spec.type} needs device ids or --filter`, `e.g. emmctl ${spec.type} dev_0001, or emmctl ${spec.type} --filter label.lost=true --dry-run`);
  }
  const { parseDuration } = await import('../../output/time.js');
  const timeoutSeconds = parseDuration(opts.timeout, '--timeout');
  const { maxDevicesFor, resolveTargets, dryRunRecords, toRecords, waitForCommands } = await import('../../fleet/device-actions.js');
  const max = maxDevicesFor(spec, { ...opts, canPrompt: ctx.canPrompt() });
  const backend = await ctx.backend(command);

  // A dry run lists every target, however many: the guard is about queueing, not looking.
  const { devices, total } = await resolveTargets(backend, ids, filters, opts.dryRun ? Number.POSITIVE_INFINITY : max, PAGE_SIZE);
  if (total === 0) {
    const { formatDeviceFilter } = await import('../../model/filter.js');
    throw new EmmctlError(`no device matches ${filters.map((f) => `--filter ${formatDeviceFilter(f)}`).join(' ')}; nothing to ${spec.type}`, {
      hint: 'check the filter with: emmctl devices list --filter ...',
    });
  }
  const needs = total > max ? guardHint(spec, opts, total, ctx.canPrompt()) : undefined;
  if (needs && !opts.dryRun) {
    throw new UsageError(
      `${spec.type} would target ${total} devices, more than --max-devices ${max}; nothing was queued`,
      `check the targets with --dry-run or \`emmctl devices list\`; if you mean it, ${needs}`,
    );
  }

  const noun = devices.length === 1 ? 'device' : 'devices';
  ctx.io.stderr.write(`${opts.dryRun ? 'Would ' : ''}${spec.type} ${devices.length} ${noun}:\n${await describeTargets(devices)}`);

  if (opts.dryRun) {
    const records = await dryRunRecords(backend, devices, spec.type, opts.reason);
    await printRecords(ctx, command, records);
    ctx.info('Dry run: nothing was queued.');
    if (needs) ctx.warn(`a real run would be refused: ${total} devices is more than --max-devices ${max}; to go ahead, ${needs}`);
    return;
  }

  if (!opts.yes) {
    const { confirm, typedConfirmation } = await import('../../output/prompt.js');
    const io = { stdin: ctx.io.stdin, stderr: ctx.io.stderr, canPrompt: ctx.canPrompt() };
    if (spec.destructive) {
      const one = devices.length === 1;
      await typedConfirmation(io, {
        message: one
          ? `This will ${spec.type} ${devices[0]!.name}. Type the device name (or its ID) to confirm:`
          : `This will ${spec.type} ${devices.length} devices. Type the number of devices to confirm:`,
        expected: one ? devices[0]!.name : String(devices.length),
        ...(one ? { alsoAccept: [devices[0]!.id] } : {}),
        flag: '--yes',
        what: `${spec.type} (destructive)`,
      });
    } else if (ctx.canPrompt()) {
      const ok = await confirm(io, `${spec.type[0]!.toUpperCase()}${spec.type.slice(1)} ${devices.length} ${noun}?`, '--yes', spec.type);
      if (!ok) throw new CancelledError(`${spec.type} cancelled; nothing was queued`);
    }
  }

  const { randomUUID } = await import('node:crypto');
  const result = await backend.enqueueCommands({ deviceIds: devices.map((d) => d.id), type: spec.type, reason: opts.reason, idempotencyKey: randomUUID() });
  const byId = new Map(devices.map((d) => [d.id, d]));
  const records = toRecords(result, spec.type, byId, opts.reason);
  const queued = records.filter((r) => r.outcome === 'queued').length;
  const pending = records.filter((r) => r.outcome === 'already-pending').length;
  const skipped = records.filter((r) => r.outcome === 'skipped').length;
  ctx.info(`Queued ${spec.type} for ${queued} ${queued === 1 ? 'device' : 'devices'}${pending ? `, ${pending} already pending` : ''}${skipped ? `, ${skipped} skipped` : ''}. ${backend.commandDelivery ?? 'Devices run it at their next check-in.'}`);

  if (!opts.wait) {
    await printRecords(ctx, command, records);
    if (queued + pending > 0) ctx.info(`Next: emmctl commands list --type ${spec.type}${devices.length === 1 ? ` --device ${devices[0]!.id}` : ''}  (or run again with --wait)`);
    return;
  }

  const { createProgress } = await import('../../output/progress.js');
  const progress = createProgress(ctx.io.stderr);
  let timedOut: number;
  try {
    timedOut = await waitForCommands(backend, records, {
      timeoutSeconds,
      onProgress: (done, total) => progress.update(`waiting for device check-ins: ${done}/${total} commands final`),
    });
  } finally {
    progress.done();
  }
  await printRecords(ctx, command, records);
  if (timedOut) {
    throw new EmmctlError(`timed out after ${opts.timeout} waiting for ${timedOut} command${timedOut === 1 ? '' : 's'} to finish`, {
      hint: 'they stay queued; follow them with: emmctl commands list --status queued',
    });
  }
  const bad = records.filter((r) => r.status && r.status !== 'acknowledged');
  if (bad.length) {
    throw new ExitWith(ExitCode.ERROR, `${bad.length} of ${records.filter((r) => r.commandId).length} commands did not succeed (${bad.map((r) => `${r.deviceId}: ${r.status}`).join(', ')})`);
  }
  ctx.info(records.some((r) => r.commandId) ? 'All commands acknowledged.' : 'Nothing was queued; nothing to wait for.');
}

/** What lifts the guard for this count: a real --max-devices, plus --yes off a terminal for a destructive action. */
function guardHint(spec: ActionSpec, opts: ActionOptions, total: number, canPrompt: boolean): string {
  const flags = `--max-devices ${total}`;
  if (!spec.destructive) return `pass ${flags}`;
  if (opts.yes) return canPrompt ? `pass ${flags}, or leave out --yes and type the count at the prompt` : `pass ${flags} with --yes`;
  return canPrompt ? `pass ${flags}` : `pass ${flags} --yes (no terminal to type the count at)`;
}

async function describeTargets(devices: Device[]): Promise<string> {
  // Aligned in terminal cells, each name shown inert: one line per device whatever it is called.
  const { formatAligned } = await import('../../output/render.js');
  return formatAligned(devices.map((d) => [d.id, d.name, d.platform, d.owner ?? '', d.state]));
}

async function printRecords(ctx: CliContext, command: Command, records: ActionRecord[]): Promise<void> {
  const { renderRecords } = await import('../../output/render.js');
  await renderRecords(records, { format: outputFormat(ctx, command), columns: RECORD_COLUMNS, out: ctx.io.stdout, colors: ctx.out });
}
