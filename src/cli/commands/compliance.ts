// `emmctl compliance`: the device compliance table and the CI gate (`--fail-on`, exit 5).
// Records stream page by page from the backend; the summary is counted on the way through
// (src/fleet/compliance-view.ts), so 100,000 devices never sit in memory.
import { Command, InvalidArgumentError } from 'commander';
import type { ComplianceQuery } from '../../backends/backend.js';
import { parseWhatIfInstant } from '../../model/duration.js';
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

/** Checks the form early (exit 2); the backend resolves `+3d` against its own clock. */
function parseAt(value: string): string {
  const t = parseWhatIfInstant(value, new Date());
  if (t === undefined) throw new InvalidArgumentError(`"${value}" is neither an ISO-8601 time with zone naming a real instant (2026-01-31T12:00:00Z) nor +DURATION from now (+3d, +12h, +1w2d; at most 100 years)`);
  if (t < Date.now()) throw new InvalidArgumentError(`"${value}" is in the past: a what-if looks ahead (the store keeps no history of postures)`);
  return value.trim();
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
  // Appended, so scripts reading csv columns by position keep working.
  { header: 'STEPS FIRED', value: (r) => r.stepsFired?.map((f) => `${f.do}@${f.after} ${f.firedAt}`).join('; '), wide: true, flex: true },
  { header: 'DUE', value: (r) => r.stepsDue?.map((d) => `${d.do}@${d.after}`).join('; '), wide: true, flex: true },
  { header: 'NEXT ACTION', value: (r) => (r.nextAction ? `${r.nextAction} (${r.nextActionPolicy})` : undefined), wide: true, flex: true },
  { header: 'NEXT AT', value: (r) => r.nextActionAt, time: true, wide: true, optional: true },
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
    .option('--at <time>', 'what-if, read-only: status and due escalation steps at an ISO-8601 time (with zone) or +DURATION from now (+3d, +12h)', parseAt)
    .addHelpText('after', `
Columns: DEVICE, ID, OWNER, PLATFORM, OS, STATUS, FAILING RULES, LAST SEEN; -o wide adds
EXPECTED VS ACTUAL, POLICIES, and the escalation of failing devices: STEPS FIRED (action@after
and when), DUE (steps due and not fired yet), NEXT ACTION and NEXT AT. The summary (counts and percentages per status and per
compliance policy) goes to stderr, so stdout stays pure data.

JSON: an array of records {deviceId, name, owner, platform, osVersion, state, status,
failures: [{policy, rule, expected, actual}], policies, lastCheckIn, noncompliantSince}; failing
devices add stepsFired [{policy, after, do, firedAt}], stepsDue [{policy, after, do, dueAt}] and,
while a step is still to come, nextAction, nextActionAt, nextActionPolicy.

--at TIME evaluates every device as it would stand then if it reported nothing new (check-in
ages grow, episodes start when a rule lapses): status, the steps due by then, the next step.
Nothing is stored, queued or audited; records carry evaluatedAt.
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
  $ emmctl compliance --at +3d -o wide                      # what would be due in three days

Next: \`emmctl devices show ID\` for one device's details, \`emmctl lock ID\` to act on it.`)
    .action(async (opts: { filter: string[]; failOn?: ComplianceStatus[]; sort?: string; limit?: number; at?: string }, command: Command) => {
      const { withManagedDefault, emptySummary, addToSummary, gateFailures } = await import('../../fleet/compliance-view.js');
      const filters = withManagedDefault(await parseFilters(opts.filter));
      const sort = await parseSortFlag(opts.sort);
      const backend = await ctx.backend(command);
      const { renderRecords } = await import('../../output/render.js');
      const summary = emptySummary();
      const records = await listRecords<DeviceCompliance, ComplianceQuery>((q) => backend.listCompliance(q), { filters, sort, ...(opts.at !== undefined ? { at: opts.at } : {}) }, opts.limit);
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
