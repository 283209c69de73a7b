// `emmctl commands list|show|cancel`: the device command queue (queued → sent → acknowledged |
// failed | expired | cancelled).
import { Command, InvalidArgumentError } from 'commander';
import type { CommandQuery } from '../../backends/backend.js';
import { COMMAND_STATUSES, COMMAND_TYPES, type CommandStatus, type CommandType, type DeviceCommand } from '../../model/fleet.js';
import type { Column } from '../../output/render.js';
import type { CliContext } from '../context.js';
import { listRecords, outputFormat, positiveInt } from './devices.js';


function oneOf<T extends string>(flag: string, allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) throw new InvalidArgumentError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  };
}

export const COMMAND_COLUMNS: Column<DeviceCommand>[] = [
  { header: 'ID', value: (c) => c.id, keep: true },
  { header: 'DEVICE', value: (c) => c.deviceId, keep: true },
  { header: 'TYPE', value: (c) => c.type },
  {
    header: 'STATUS',
    value: (c) => c.status,
    color: (t, col, c) => (c.status === 'acknowledged' ? col.green(t) : ['failed', 'expired'].includes(c.status) ? col.red(t) : c.status === 'cancelled' ? col.dim(t) : col.yellow(t)),
  },
  { header: 'REQUESTED BY', value: (c) => c.requestedBy, flex: true },
  { header: 'CREATED', value: (c) => c.createdAt, time: true },
  { header: 'UPDATED', value: (c) => c.updatedAt, time: true },
  { header: 'REASON', value: (c) => c.reason, wide: true, flex: true },
  { header: 'DETAIL', value: (c) => c.detail, wide: true, flex: true },
  { header: 'EXPIRES', value: (c) => c.expiresAt, time: true, wide: true },
];

async function printOne(ctx: CliContext, command: Command, cmd: DeviceCommand): Promise<void> {
  const format = outputFormat(ctx, command);
  const { renderRecordAsData, formatKeyValues } = await import('../../output/render.js');
  if (await renderRecordAsData(cmd, { format, columns: COMMAND_COLUMNS, out: ctx.io.stdout, colors: ctx.out })) return;
  ctx.io.stdout.write(
    formatKeyValues([
      ['id', cmd.id],
      ['device', cmd.deviceId],
      ['type', cmd.type],
      ['status', cmd.status],
      ['reason', cmd.reason],
      ['requested by', cmd.requestedBy],
      ['created', cmd.createdAt],
      ['updated', cmd.updatedAt],
      ['expires', cmd.expiresAt],
      ['detail', cmd.detail],
    ], ctx.out),
  );
}

export function register(program: Command, ctx: CliContext): void {
  const commands = program
    .command('commands')
    .description('follow and cancel device commands (lock, reboot, wipe, retire)')
    .addHelpText('after', `
Examples:
  $ emmctl commands list --status queued
  $ emmctl commands show cmd_0001
  $ emmctl commands cancel cmd_0001

Next: queue one with \`emmctl lock ID\`; see who asked with \`emmctl audit\`.`);

  commands
    .command('list')
    .alias('ls')
    .description('list device commands')
    .option('--device <id>', 'only this device')
    .option('--status <status>', `only this status: ${COMMAND_STATUSES.join(', ')}`, oneOf('--status', COMMAND_STATUSES))
    .option('--type <type>', `only this type: ${COMMAND_TYPES.join(', ')}`, oneOf('--type', COMMAND_TYPES))
    .option('--limit <n>', 'print at most N commands', positiveInt('--limit'))
    .addHelpText('after', `
Columns: ID, DEVICE, TYPE, STATUS, REQUESTED BY, CREATED, UPDATED; -o wide adds REASON, DETAIL, EXPIRES.
JSON: an array of DeviceCommand records (id, deviceId, type, status, reason, requestedBy,
createdAt, updatedAt, detail, expiresAt).

Examples:
  $ emmctl commands list --device dev_0001
  $ emmctl commands list --type wipe --status failed -o json

Next: \`emmctl commands show ID\`, \`emmctl commands cancel ID\`.`)
    .action(async (opts: { device?: string; status?: CommandStatus; type?: CommandType; limit?: number }, command: Command) => {
      const backend = await ctx.backend(command);
      const { renderRecords } = await import('../../output/render.js');
      const query: CommandQuery = { deviceId: opts.device, status: opts.status, type: opts.type };
      const count = await renderRecords(await listRecords<DeviceCommand, CommandQuery>((q) => backend.listCommands(q), query, opts.limit), {
        format: outputFormat(ctx, command),
        columns: COMMAND_COLUMNS,
        out: ctx.io.stdout,
        colors: ctx.out,
      });
      if (count === 0) ctx.info('No commands match.');
    });

  commands
    .command('show')
    .description('one command and its result')
    .argument('<id>', 'command id (see `emmctl commands list`)')
    .addHelpText('after', `
Examples:
  $ emmctl commands show cmd_0001
  $ emmctl commands show cmd_0001 -o json

Next: \`emmctl commands cancel ID\` while it is still queued or sent.`)
    .action(async (id: string, _opts: unknown, command: Command) => {
      const backend = await ctx.backend(command);
      await printOne(ctx, command, await backend.getCommand(id));
    });

  commands
    .command('cancel')
    .description('cancel a command that a device has not acknowledged yet')
    .argument('<id>', 'command id')
    .addHelpText('after', `
Only queued or sent commands can be cancelled; the backend refuses a final one (exit 1).

Examples:
  $ emmctl commands cancel cmd_0001

Next: \`emmctl commands list --status cancelled\`.`)
    .action(async (id: string, _opts: unknown, command: Command) => {
      const backend = await ctx.backend(command);
      const cancelled = await backend.cancelCommand(id);
      ctx.info(`Cancelled ${cancelled.type} ${cancelled.id} for device ${cancelled.deviceId}.`);
      await printOne(ctx, command, cancelled);
    });
}
