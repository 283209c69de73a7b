// `emmctl compliance`: the device compliance table and the CI gate (`--fail-on`, exit 5).
// Records stream page by page from the backend; the summary is counted on the way through
// (src/fleet/compliance-view.ts), so 100,000 devices never sit in memory.
import { Command, InvalidArgumentError } from 'commander';
import type { DeviceQuery } from '../../backends/backend.js';
import type { ComplianceSummary } from '../../fleet/compliance-view.js';
import { COMPLIANCE_STATUSES, type ComplianceStatus, type DeviceCompliance } from '../../model/fleet.js';
import type { Column } from '../../output/render.js';
import type { CliContext } from '../context.js';
import { collect, listRecords, outputFormat, parseFilters, parseSortFlag, positiveInt, statusColor } from './devices.js';

const GATE_STATUSES: readonly ComplianceStatus[] = ['noncompliant', 'unknown', 'in-grace'];

/** `noncompliant,unknown` → the statuses that fail the gate. Each status counts only itself. */
export function parseFailOn(value: string, previous: ComplianceStatus[] = []): ComplianceStatus[] {
  const out = [...previous];
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(GATE_STATUSES as readonly string[]).includes(part)) {
      throw new InvalidArgumentError(`"${part}" is not a gate status; use ${GATE_STATUSES.join(', ')} (comma-separated for several)`);
    }
    if (!out.includes(part as ComplianceStatus)) out.push(part as ComplianceStatus);
  }
  return out;
}

export const COMPLIANCE_COLUMNS: Column<DeviceCompliance>[] = [
  { header: 'DEVICE', value: (r) => r.name, flex: true },
  // Always shown and never cut: every follow-up command (devices show, lock) takes the id.
  { header: 'ID', value: (r) => r.deviceId, keep: true },
  { header: 'OWNER', value: (r) => r.owner, flex: true, optional: true },
  { header: 'PLATFORM', value: (r) => r.platform },
  { header: 'OS', value: (r) => r.osVersion },
  { header: 'STATUS', value: (r) => r.status, keep: true, color: (t, c, r) => statusColor(r.status, c).replace(r.status, t) },
  { header: 'FAILING RULES', value: (r) => uniqueRules(r), flex: true },
  { header: 'EXPECTED VS ACTUAL', value: (r) => r.failures.map((f) => `${f.rule}: ${f.expected} vs ${f.actual}`).join('; '), wide: true, flex: true },
  { header: 'POLICIES', value: (r) => r.policies.join(','), wide: true, flex: true },
  { header: 'LAST SEEN', value: (r) => r.lastCheckIn, time: true, optional: true },
];

function uniqueRules(r: DeviceCompliance): string {
  return [...new Set(r.failures.map((f) => f.rule))].join(',');
}

function pct(n: number, total: number): string {
  return total ? `${((n / total) * 100).toFixed(1)}%` : '0%';
}

export function formatSummary(s: ComplianceSummary, c: CliContext['err']): string {
  if (s.total === 0) return 'No devices.\n';
  const statusLine = COMPLIANCE_STATUSES.map((st) => `${statusColor(st, c)} ${s.byStatus[st]} (${pct(s.byStatus[st], s.total)})`).join(', ');
  let text = `\n${s.total} device${s.total === 1 ? '' : 's'}: ${statusLine}\n`;
  for (const [policy, counts] of [...s.byPolicy].sort(([a], [b]) => a.localeCompare(b))) {
    const applies = COMPLIANCE_STATUSES.reduce((n, st) => n + counts[st], 0);
    const parts = COMPLIANCE_STATUSES.filter((st) => counts[st] > 0).map((st) => `${st} ${counts[st]} (${pct(counts[st], applies)})`);
    text += `  ${policy}: ${applies} device${applies === 1 ? '' : 's'} — ${parts.join(', ')}\n`;
  }
  return text;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('compliance')
    .description('device compliance table and CI gate: who fails which rule, with a summary per status and per policy')
    .option('-f, --filter <expr>', 'KEY=VALUE device filter, repeatable: platform, ownership, owner, group, label.KEY, compliance, state, os<VERSION', collect, [])
    .option('--fail-on <statuses>', 'exit 5 if any device is in one of these states: noncompliant, unknown, in-grace (comma-separated)', parseFailOn)
    .option('--sort <field>', 'sort by name, platform, owner, osVersion, lastCheckIn, enrolledAt, state, id; prefix - for descending')
    .option('--limit <n>', 'print at most N devices (the summary and gate then cover those N)', positiveInt('--limit'))
    .addHelpText('after', `
Columns: DEVICE, ID, OWNER, PLATFORM, OS, STATUS, FAILING RULES, LAST SEEN; -o wide adds
EXPECTED VS ACTUAL and POLICIES. The summary (counts and percentages per status and per
compliance policy) goes to stderr, so stdout stays pure data.

JSON: an array of records {deviceId, name, owner, platform, osVersion, state, status,
failures: [{policy, rule, expected, actual}], policies, lastCheckIn, noncompliantSince}.
Statuses: compliant, noncompliant, in-grace (failing, inside the grace period), unknown (never checked in).
Wiped and retired devices are no longer managed and are left out (so they never trip the gate);
filter on state to see them: \`--filter state=wiped\`.

--fail-on fails only on the statuses it names: \`--fail-on noncompliant\` lets in-grace and unknown
devices pass; \`--fail-on noncompliant,unknown\` fails on either.

Examples:
  $ emmctl compliance
  $ emmctl compliance --filter platform=ios -o wide
  $ emmctl compliance --fail-on noncompliant -q -o json > compliance.json   # CI gate, exit 5 on failure
  $ emmctl compliance --filter compliance=noncompliant -o csv

Next: \`emmctl devices show ID\` for one device's details, \`emmctl lock ID\` to act on it.`)
    .action(async (opts: { filter: string[]; failOn?: ComplianceStatus[]; sort?: string; limit?: number }, command: Command) => {
      const { withManagedDefault, emptySummary, addToSummary, gateFailures } = await import('../../fleet/compliance-view.js');
      const filters = withManagedDefault(await parseFilters(opts.filter));
      const sort = await parseSortFlag(opts.sort);
      const backend = await ctx.backend(command);
      const { renderRecords } = await import('../../output/render.js');
      const summary = emptySummary();
      const records = await listRecords<DeviceCompliance, DeviceQuery>((q) => backend.listCompliance(q), { filters, sort }, opts.limit);
      await renderRecords(records, {
        format: outputFormat(ctx, command),
        columns: COMPLIANCE_COLUMNS,
        out: ctx.io.stdout,
        colors: ctx.out,
        tap: (r) => addToSummary(summary, r),
      });
      if (summary.total === 0) ctx.info(filters.length ? 'No devices match the filter.' : 'No devices yet. Enroll some: emmctl enroll token create --profile NAME (or emmctl simulate --devices 20 --once)');
      else ctx.info(formatSummary(summary, ctx.err).trimEnd());
      const failing = gateFailures(summary, opts.failOn ?? []);
      if (failing.length) {
        const { ExitWith, ExitCode } = await import('../../errors.js');
        throw new ExitWith(ExitCode.NONCOMPLIANT, `compliance gate failed: ${failing.map((st) => `${summary.byStatus[st]} ${st}`).join(', ')} (--fail-on ${opts.failOn!.join(',')})`);
      }
    });
}
