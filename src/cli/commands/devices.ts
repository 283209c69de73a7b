// `emmctl devices list|show|release`: the fleet as records. Listings page through the backend and
// stream to the renderer, so a 100,000-device fleet prints with one page in memory.
import { Command, InvalidArgumentError } from 'commander';
import type { DeviceFilter, DeviceQuery } from '../../backends/backend.js';
import type { Device, Page } from '../../model/fleet.js';
import type { Column, RecordFormat } from '../../output/render.js';
import type { CliContext } from '../context.js';

/** Page size asked of the backend while streaming (the driver may cap it). */
export const PAGE_SIZE = 1000;

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function positiveInt(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${flag} expects a whole number of at least 1, got "${value}"`);
    return Number(value);
  };
}

/** `--sort` checked before the query (exit 2 on a typo); undefined keeps the backend's default. */
export async function parseSortFlag(text: string | undefined): Promise<string | undefined> {
  if (text === undefined) return undefined;
  const { checkDeviceSort } = await import('../../model/filter.js');
  return checkDeviceSort(text);
}

export async function parseFilters(texts: string[] | undefined): Promise<DeviceFilter[]> {
  if (!texts?.length) return [];
  const { parseDeviceFilter } = await import('../../model/filter.js');
  return texts.map(parseDeviceFilter);
}

export function outputFormat(ctx: CliContext, command: Command): RecordFormat {
  return ctx.globals(command).output ?? 'table';
}

/**
 * Every record a list query matches, page by page as the renderer reads them; with `limit`,
 * pages no larger than needed and nothing fetched after the first `limit` records.
 */
export async function listRecords<T, Q extends { cursor?: string; limit?: number }>(
  list: (query: Q) => Promise<Page<T>>,
  query: Q,
  limit: number | undefined,
): Promise<AsyncIterable<T>> {
  const { allPages } = await import('../../backends/backend.js');
  // Without a limit every page is read: the next one is asked for while this one prints.
  return take(allPages(list, { ...query, limit: Math.min(limit ?? PAGE_SIZE, PAGE_SIZE) }, { prefetch: limit === undefined }), limit);
}

/** Stops a stream after `n` records (the rest is never fetched); without `n`, the stream itself. */
function take<T>(items: AsyncIterable<T>, n: number | undefined): AsyncIterable<T> {
  if (n === undefined) return items;
  return (async function* () {
    if (n <= 0) return;
    let i = 0;
    for await (const item of items) {
      yield item;
      if (++i >= n) return;
    }
  })();
}

export function labelsText(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).join(';');
}

export const DEVICE_COLUMNS: Column<Device>[] = [
  { header: 'ID', value: (d) => d.id, keep: true },
  { header: 'NAME', value: (d) => d.name, flex: true },
  { header: 'PLATFORM', value: (d) => d.platform },
  { header: 'OS', value: (d) => d.osVersion ?? d.posture?.osVersion },
  { header: 'OWNER', value: (d) => d.owner, flex: true },
  { header: 'OWNERSHIP', value: (d) => d.ownership, optional: true },
  {
    header: 'STATE',
    value: (d) => d.state,
    keep: true,
    color: (t, c, d) => (d.state === 'enrolled' ? t : d.state === 'preregistered' ? c.dim(t) : c.yellow(t)),
  },
  { header: 'LAST SEEN', value: (d) => d.lastCheckIn, time: true, optional: true },
  { header: 'SERIAL', value: (d) => d.serial, wide: true },
  { header: 'MODEL', value: (d) => d.model ?? d.posture?.model, wide: true, flex: true },
  { header: 'LABELS', value: (d) => labelsText(d.labels), wide: true, flex: true },
  { header: 'PROFILE', value: (d) => d.profile, wide: true, flex: true },
];

const FILTER_HELP = 'KEY=VALUE device filter, repeatable (all must match): platform, ownership, owner, group, label.KEY, compliance, state, os<VERSION, name, serial, profile, model';

export function register(program: Command, ctx: CliContext): void {
  const devices = program
    .command('devices')
    .description('list, inspect and release (for re-enrollment) enrolled and pre-registered devices')
    .addHelpText('after', `
Examples:
  $ emmctl devices list --filter platform=android --filter 'os<14'
  $ emmctl devices list --filter compliance=noncompliant --sort -lastCheckIn -o wide
  $ emmctl devices show dev_0001 -o json

Next: \`emmctl compliance\` for why devices fail, \`emmctl lock ID\` to act on one.`);

  devices
    .command('list')
    .alias('ls')
    .description('list devices (streams every page; -o json|yaml|csv for scripts)')
    .option('-f, --filter <expr>', FILTER_HELP, collect, [])
    .option('--sort <field>', 'sort by name, platform, owner, osVersion, lastCheckIn, enrolledAt, state, id; prefix - for descending')
    .option('--limit <n>', 'print at most N devices', positiveInt('--limit'))
    .addHelpText('after', `
Columns: ID, NAME, PLATFORM, OS, OWNER, OWNERSHIP, STATE, LAST SEEN; -o wide adds SERIAL, MODEL, LABELS, PROFILE.
JSON: an array of Device records (id, name, serial, platform, ownership, owner, labels, state,
profile, model, osVersion, enrolledAt, lastCheckIn, posture).

Examples:
  $ emmctl devices list
  $ emmctl devices list --filter 'owner=*@example.com' --filter label.team=sales
  $ emmctl devices list --filter state=enrolled --sort -lastCheckIn --limit 20
  $ emmctl devices list -o csv > devices.csv

Next: \`emmctl devices show ID\` for one device's posture, compliance and commands.`)
    .action(async (opts: { filter: string[]; sort?: string; limit?: number }, command: Command) => {
      const filters = await parseFilters(opts.filter);
      const sort = await parseSortFlag(opts.sort);
      const backend = await ctx.backend(command);
      const { renderRecords } = await import('../../output/render.js');
      const query: DeviceQuery = { filters, sort };
      const count = await renderRecords(await listRecords((q) => backend.listDevices(q), query, opts.limit), {
        format: outputFormat(ctx, command),
        columns: DEVICE_COLUMNS,
        out: ctx.io.stdout,
        colors: ctx.out,
      });
      if (count === 0) ctx.info(filters.length ? 'No devices match the filter.' : 'No devices yet. Create an enrollment token: emmctl enroll token create --profile NAME');
    });

  devices
    .command('show')
    .description('one device: posture, groups, effective configuration, compliance with reasons, command history')
    .argument('<id>', 'device id (see `emmctl devices list`)')
    .addHelpText('after', `
-o json|yaml prints the DeviceDetail record: the Device fields plus groups, compliance
{status, failures[{policy, rule, expected, actual}], policies; for a failing device also
stepsFired[{policy, after, do, firedAt}], stepsDue, nextAction, nextActionAt}, effectiveConfiguration
{version, settings, sources} and commands.

Examples:
  $ emmctl devices show dev_0001
  $ emmctl devices show dev_0001 -o json | jq .compliance.failures

Next: \`emmctl lock ID --reason TEXT\`, \`emmctl commands list --device ID\`.`)
    .action(async (id: string, _opts: unknown, command: Command) => {
      const backend = await ctx.backend(command);
      const detail = await backend.getDevice(id);
      const format = outputFormat(ctx, command);
      const { renderRecordAsData, formatKeyValues } = await import('../../output/render.js');
      if (await renderRecordAsData(detail, { format, columns: DEVICE_COLUMNS, out: ctx.io.stdout, colors: ctx.out })) return;
      const { relativeTime } = await import('../../output/time.js');
      // Everything here but the layout comes from the device or the backend: shown inert.
      const { sanitize: s } = await import('../../output/sanitize.js');
      const c = ctx.out;
      const tty = Boolean(ctx.io.stdout.isTTY);
      const now = new Date();
      const when = (iso?: string) => (iso && tty ? `${relativeTime(iso, now)} (${iso})` : iso);
      const yesNo = (b: boolean | undefined) => (b === undefined ? undefined : b ? 'yes' : 'no');
      const p = detail.posture;
      const comp = detail.compliance;
      let text = `${c.bold(s(detail.name))}  ${c.dim(s(detail.id))}\n`;
      text += formatKeyValues([
        ['platform', detail.platform],
        ['os', detail.osVersion ?? p?.osVersion],
        ['model', detail.model ?? p?.model],
        ['serial', detail.serial],
        ['owner', detail.owner],
        ['ownership', detail.ownership],
        ['state', detail.state],
        ['profile', detail.profile],
        ['labels', labelsText(detail.labels)],
        ['enrolled', when(detail.enrolledAt)],
        ['last seen', when(detail.lastCheckIn) ?? 'never'],
      ], c, '  ');
      text += `\n${c.bold('Posture')}\n`;
      text += p
        ? formatKeyValues([
            ['encrypted', yesNo(p.encrypted)],
            ['passcode set', yesNo(p.passcodeSet)],
            ['compromised', yesNo(p.compromised)],
            ['patch level', p.patchLevel],
            ['apps', p.installedApps.length ? p.installedApps.join(', ') : 'none'],
            ['config applied', p.appliedConfigVersion],
          ], c, '  ')
        : '  not reported yet (the device has not checked in)\n';
      text += `\n${c.bold('Groups')}\n  ${detail.groups.length ? s(detail.groups.join(', ')) : 'none'}\n`;
      text += `\n${c.bold('Compliance')}: ${statusColor(s(comp.status), c)}`;
      text += comp.policies.length ? c.dim(`  (policies: ${s(comp.policies.join(', '))})`) : c.dim('  (no compliance policy applies)');
      text += '\n';
      for (const f of comp.failures) text += `  ✗ ${s(`${f.policy}/${f.rule}: expected ${f.expected}, actual ${f.actual}`)}\n`;
      if (comp.noncompliantSince) text += `  ${c.dim(`non-compliant since ${s(comp.noncompliantSince)}`)}\n`;
      for (const f of comp.stepsFired ?? []) text += `  fired  ${s(`${f.do} (${f.policy}, after ${f.after})`)}  ${s(when(f.firedAt) ?? '')}\n`;
      for (const d of comp.stepsDue ?? []) text += `  due    ${s(`${d.do} (${d.policy}, after ${d.after})`)}  ${s(when(d.dueAt) ?? '')}\n`;
      if (comp.nextAction) text += `  next   ${s(`${comp.nextAction} (${comp.nextActionPolicy})`)}  ${s(when(comp.nextActionAt) ?? '')}\n`;
      else if (comp.stepsFired) text += `  ${c.dim('no escalation step left in this episode')}\n`;
      const cfg = detail.effectiveConfiguration;
      // The agent reports the version it last applied: tell whether the device has caught up.
      const applied = detail.posture?.appliedConfigVersion;
      const sync = applied === cfg.version ? c.green('applied by the device') : applied ? c.yellow(`pending: the device runs ${s(applied)}`) : c.yellow('pending: not applied yet');
      text += `\n${c.bold('Effective configuration')} ${c.dim(`version ${s(cfg.version)}`)}  ${sync}\n`;
      const settings = Object.entries(cfg.settings);
      if (!settings.length) text += '  none\n';
      for (const [key, value] of settings) {
        text += `  ${s(key)}: ${s(typeof value === 'string' ? value : JSON.stringify(value))}${cfg.sources[key] ? c.dim(`  ← ${s(cfg.sources[key])}`) : ''}\n`;
      }
      text += `\n${c.bold('Commands')}\n`;
      if (!detail.commands.length) text += '  none\n';
      for (const cmd of detail.commands) {
        text += `  ${s(`${cmd.id}  ${cmd.type.padEnd(6)}  ${cmd.status.padEnd(12)}  ${tty ? relativeTime(cmd.createdAt, now) : cmd.createdAt}  ${cmd.requestedBy}${cmd.reason ? `  "${cmd.reason}"` : ''}${cmd.detail ? `  (${cmd.detail})` : ''}`)}\n`;
      }
      ctx.print(text);
    });

  devices
    .command('release')
    .description('let an enrolled device enroll again (its serial is otherwise refused): for a device that lost its credential')
    .argument('<id>', 'device id (see `emmctl devices list`)')
    .option('--expires <duration>', 'the next enrollment may take the device over within this long: 30m, 12h, 7d (at most 30d)', '24h')
    .addHelpText('after', `
An enrollment with the serial of an enrolled device is refused (409, audited) unless an admin
released it. Within the window, the next enrollment with that serial replaces the device's
credential and cancels its pending commands; until then the current credential keeps working.
Wiped and retired devices enroll again without a release. Against a server: the admin role.

Examples:
  $ emmctl devices release dev_0001
  $ emmctl devices release dev_0001 --expires 2h -o json

Next: re-enroll the device with a new token, then \`emmctl audit\` shows the release and the enrollment.`)
    .action(async (id: string, opts: { expires: string }, command: Command) => {
      const { parseDuration } = await import('../../output/time.js');
      const expiresInSeconds = parseDuration(opts.expires, '--expires');
      const { MAX_RELEASE_SECONDS } = await import('../../model/access.js');
      if (expiresInSeconds > MAX_RELEASE_SECONDS) {
        const { UsageError } = await import('../../errors.js');
        throw new UsageError(`--expires ${opts.expires}: a release lasts at most ${MAX_RELEASE_SECONDS / 86_400}d`);
      }
      const backend = await ctx.backend(command);
      const device = await backend.releaseDevice(id, { expiresInSeconds });
      const { renderRecordAsData, formatKeyValues } = await import('../../output/render.js');
      const columns = [...DEVICE_COLUMNS, { header: 'RELEASED UNTIL', value: (d: Device) => d.releasedUntil }];
      if (!(await renderRecordAsData(device, { format: outputFormat(ctx, command), columns, out: ctx.io.stdout, colors: ctx.out }))) {
        ctx.io.stdout.write(formatKeyValues([['id', device.id], ['name', device.name], ['serial', device.serial], ['released until', device.releasedUntil]], ctx.out));
      }
      ctx.info(`The next enrollment with serial ${device.serial ?? '(none)'} before ${device.releasedUntil} takes this device over (new credential, pending commands cancelled).`);
    });
}

export function statusColor(status: string, c: CliContext['out']): string {
  switch (status) {
    case 'compliant':
      return c.green(status);
    case 'noncompliant':
      return c.red(status);
    case 'in-grace':
      return c.yellow(status);
    default:
      return c.dim(status);
  }
}
