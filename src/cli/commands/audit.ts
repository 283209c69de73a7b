// `emmctl audit`: who did what, when — applies, token changes, device commands (with reasons).
import { Command } from 'commander';
import type { AuditQuery } from '../../backends/backend.js';
import type { AuditRecord } from '../../model/fleet.js';
import type { Column } from '../../output/render.js';
import type { CliContext } from '../context.js';
import { outputFormat, PAGE_SIZE, positiveInt, take } from './devices.js';

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
  { header: 'ACTOR', value: (a) => a.actor },
  { header: 'ACTION', value: (a) => a.action },
  { header: 'TARGET', value: (a) => a.target },
  { header: 'DETAIL', value: (a) => detailText(a.detail) },
  { header: 'SOURCE', value: (a) => a.source, wide: true },
  { header: 'ID', value: (a) => a.id, wide: true },
];

export function register(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description('the audit log: who did what, when (applies, tokens, enrollments, device commands)')
    .option('--since <when>', 'only records since a duration ago (24h, 7d) or an ISO-8601 time')
    .option('--actor <name>', 'only this actor (e.g. local:alice, a token name)')
    .option('--limit <n>', 'print at most N records', positiveInt('--limit'))
    .addHelpText('after', `
Columns: TIME, ACTOR, ACTION, TARGET, DETAIL (the reason of a device command is here);
-o wide adds SOURCE and ID. JSON: an array of AuditRecord {id, at, actor, source, action, target, detail}.

Examples:
  $ emmctl audit --since 24h
  $ emmctl audit --actor local:alice --since 2026-01-01
  $ emmctl audit --since 7d -o json | jq 'map(select(.action == "command.wipe"))'

Next: \`emmctl commands show ID\` for a command's result.`)
    .action(async (opts: { since?: string; actor?: string; limit?: number }, command: Command) => {
      const { parseSince } = await import('../../output/time.js');
      const since = opts.since ? parseSince(opts.since, new Date()) : undefined;
      const backend = await ctx.backend(command);
      const { allPages } = await import('../../backends/backend.js');
      const { renderRecords } = await import('../../output/render.js');
      const query: AuditQuery = { since, actor: opts.actor, limit: Math.min(opts.limit ?? PAGE_SIZE, PAGE_SIZE) };
      const count = await renderRecords(take(allPages<AuditRecord, AuditQuery>((q) => backend.listAudit(q), query), opts.limit), {
        format: outputFormat(ctx, command),
        columns: AUDIT_COLUMNS,
        out: ctx.io.stdout,
        colors: ctx.out,
      });
      if (count === 0) ctx.info('No audit records match.');
    });
}
