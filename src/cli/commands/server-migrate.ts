// `emmctl server migrate`: apply the store's schema migrations now, before starting replicas
// (they also migrate at start, under the same lock), and print the versions.
import type { Command } from 'commander';
import { acceptsOutput, type CliContext } from '../context.js';
import { COPY_HELP, type CopyFlags } from './server-migrate-copy.js';

export interface MigrateReport {
  engine: 'postgres' | 'sqlite';
  /** The database URL without its password, or the data dir. */
  location: string;
  /** Schema version before (0: empty); null when the engine cannot tell (the embedded store migrates as it opens). */
  from: number | null;
  to: number;
  applied: Array<{ version: number; name: string }>;
}

export function register(server: Command, ctx: CliContext): void {
  const command = server
    .command('migrate')
    .description('Apply the store schema migrations now and print the versions (PostgreSQL with --database or EMMCTL_DATABASE_URL, else the embedded store)')
    .option('--database <url>', 'PostgreSQL database URL, without its password; env EMMCTL_DATABASE_URL')
    .option('--from <dir>', 'copy the embedded store in DIR into the empty PostgreSQL database --to (stop its server first)')
    .option('--to <url>', 'with --from: the PostgreSQL database URL, without its password (default: EMMCTL_DATABASE_URL)')
    .option('--dry-run', 'with --from: copy and check inside the transaction, then roll it back')
    .addHelpText('after', `
Every server migrates at start, under a lock, so replicas starting together never race; run
this first to see the schema change before the servers do. The password never goes in the
flag: EMMCTL_DATABASE_PASSWORD_FILE, PGPASSWORD, ~/.pgpass, or the whole URL in EMMCTL_DATABASE_URL.

JSON: {engine, location, from, to, applied: [{version, name}]}.

Examples:
  $ PGPASSWORD=... emmctl server migrate --database postgres://emmctl@db.example.com/emmctl?sslmode=verify-full
  $ emmctl server migrate --data-dir /var/lib/emmctl -o json
  $ PGPASSWORD=... emmctl server migrate --from /var/lib/emmctl --to postgres://emmctl@db.example.com/emmctl
${COPY_HELP}`)
    .action(async (opts: { database?: string } & CopyFlags, cmd: Command) => {
      if (opts.from !== undefined || opts.to !== undefined || opts.dryRun) {
        const { runCopy } = await import('./server-migrate-copy.js');
        return runCopy(ctx, cmd, opts);
      }
      const { chooseServerStore } = await import('../server-store.js');
      const globals = ctx.globals(cmd);
      // `server` takes --database too, and commander gives a flag to the first command that knows it.
      const database = (cmd.optsWithGlobals() as { database?: string }).database ?? opts.database;
      const choice = await chooseServerStore({ database, dataDir: globals.dataDir }, ctx.io.env);
      let report: MigrateReport;
      if (choice.engine === 'postgres') {
        const { openPostgres } = await import('../../store/postgres/index.js');
        const { StoreUnavailableError } = await import('../../store/engine.js');
        const { EmmctlError } = await import('../../errors.js');
        const opened = await openPostgres(choice.url, { env: ctx.io.env }).catch((e: unknown) => {
          if (!(e instanceof StoreUnavailableError)) throw e;
          throw new EmmctlError(e.message, { hint: 'check that the database server is up and reachable from here, and the URL, user and password', cause: e });
        });
        const { engine, migration } = opened;
        await engine.close();
        report = { engine: 'postgres', location: engine.location, from: migration!.from, to: migration!.to, applied: migration!.applied };
      } else {
        const { FleetService } = await import('../../service/fleet-service.js');
        const store = await FleetService.open(choice.dataDir);
        try {
          report = { engine: 'sqlite', location: choice.dataDir, from: null, to: await store.schemaVersion(), applied: [] };
        } finally {
          await store.close();
        }
      }
      const format = globals.output;
      if (format === 'json' || format === 'yaml') {
        const { renderDocument } = await import('../../output/render.js');
        return renderDocument(report, format, ctx.io.stdout);
      }
      const where = report.engine === 'postgres' ? `database ${report.location}` : `store ${report.location}`;
      if (report.applied.length === 0) ctx.print(`${where}: schema version ${report.to}${report.from === null ? '' : ', nothing to apply'}\n`);
      else ctx.print(`${where}: schema version ${report.from} → ${report.to}\n${report.applied.map((m) => `  applied ${m.version}: ${m.name}\n`).join('')}`);
    });
  acceptsOutput(command, ['table', 'json', 'yaml']);
}
