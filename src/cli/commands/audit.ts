// `emmctl audit`: who did what, when — applies, token changes, device commands (with reasons).
import { Command } from 'commander';
import type { AuditQuery } from '../../backends/backend.js';
import type { AuditRecord } from '../../model/fleet.js';
import type { Column } from '../../output/render.js';
import type { CliContext } from '../context.js';
import { listRecords, outputFormat, positiveInt } from './devices.js';

/** `reason=lost phone count=3` — the detail object in one table cell. */
export function detailText(detail: Record<string, unknown> | undefined): string {
  if (!detail) return '';
  return Object.entries(detail)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export const AUDIT_COLUMNS: Column<AuditRecord>[] = [
  { header: 'TIME', value: (a) => a.at, time: true },
  { header: 'ACTOR', value: (a) => a.actor, flex: true },
  { header: 'ACTION', value: (a) => a.action },
  { header: 'TARGET', value: (a) => a.target, keep: true },
  { header: 'DETAIL', value: (a) => detailText(a.detail), flex: true },
  { header: 'SOURCE', value: (a) => a.source, wide: true },
  { header: 'ID', value: (a) => a.id, wide: true, keep: true },
];

/** Newest-first records back into log order. */
async function chronological(records: AsyncIterable<AuditRecord>): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of records) out.push(r);
  return out.reverse();
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description('the audit log: who did what, when (applies, tokens, enrollments, device commands)')
    .option('--since <when>', 'only records since a duration ago (24h, 7d) or an ISO-8601 time')
    .option('--actor <name>', 'only this actor (e.g. local:alice, a token name)')
    .option('--limit <n>', 'print the N most recent records (with --since: the first N since then)', positiveInt('--limit'))
    .addHelpText('after', `
Columns: TIME, ACTOR, ACTION, TARGET, DETAIL (the reason of a device command is here);
-o wide adds SOURCE and ID. JSON: an array of AuditRecord {id, at, actor, source, action, target, detail}.

Records print oldest to newest. --limit alone shows the latest N, like tail; with --since
the log is read forward from that time and --limit stops after the first N.

Examples:
  $ emmctl audit --limit 20
  $ emmctl audit --since 24h
  $ emmctl audit --actor local:alice --since 2026-01-01
  $ emmctl audit --since 7d -o json | jq 'map(select(.action == "command.wipe"))'

Next: \`emmctl commands show ID\` for a command's result.`)
    .action(async (opts: { since?: string; actor?: string; limit?: number }, command: Command) => {
      const { parseSince } = await import('../../output/time.js');
      const since = opts.since ? parseSince(opts.since, new Date()) : undefined;
      const backend = await ctx.backend(command);
      const { renderRecords } = await import('../../output/render.js');
      // "The last N" reads newest first and turns the N around; only those N are held in memory.
      const latest = opts.limit !== undefined && since === undefined;
      const query: AuditQuery = { since, actor: opts.actor, ...(latest ? { order: 'desc' } : {}) };
      const records = await listRecords<AuditRecord, AuditQuery>((q) => backend.listAudit(q), query, opts.limit);
      const count = await renderRecords(latest ? await chronological(records) : records, {
        format: outputFormat(ctx, command),
        columns: AUDIT_COLUMNS,
        out: ctx.io.stdout,
        colors: ctx.out,
      });
      if (count === 0) ctx.info('No audit records match.');
    });
}
