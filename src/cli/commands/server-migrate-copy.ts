// `emmctl server migrate --from DATA_DIR --to URL`: the copy of an embedded store into an empty
// PostgreSQL database (src/store/copy.ts does it; this checks the flags and renders the counts).
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { CopyReport } from '../../store/copy.js';

export interface CopyFlags {
  from?: string;
  to?: string;
  database?: string;
  dryRun?: boolean;
}

export const COPY_HELP = `
Copy an embedded store into PostgreSQL (--from DATA_DIR --to URL), for a fleet that outgrew one
machine: every resource (versions, secrets), device (credential hashes), command (states,
numbers), token (hashes only), idempotency key, escalation, audit record (in order) and
notification; the store id and plan-sealing key too, so saved plans still apply. Stop the
server on DATA_DIR first: the copy reads one consistent snapshot, opened read-only, and is
refused (and rolled back) if the store changes while it is read; later writes would not be in
PostgreSQL. The database must hold no store (empty, or only migrated). Everything happens in one
transaction: a failed copy leaves the database as it was. Before committing, each table's row
count and checksums are compared on both sides; the counts are printed (-o json: the report).
--to defaults to EMMCTL_DATABASE_URL; its password comes from where --database's does.

JSON (copy): {source, target, storeId, schemaVersion, dryRun, alreadyCopied,
  tables: [{table, source, target, checksum, equal}], sequences: [{table, next}]}.`;

export async function runCopy(ctx: CliContext, cmd: Command, flags: CopyFlags): Promise<void> {
  const { UsageError } = await import('../../errors.js');
  const globals = ctx.globals(cmd);
  if (flags.from === undefined) throw new UsageError(`${flags.to !== undefined ? '--to' : '--dry-run'} needs --from DATA_DIR: the embedded store to copy`);
  // `server` may take --database itself, and commander gives a flag to the first command that knows it.
  const database = (cmd.optsWithGlobals() as { database?: string }).database ?? flags.database;
  if (database !== undefined) throw new UsageError('--database with --from: the copy writes to --to URL', 'give the database once, as --to URL');
  if (globals.dataDir !== undefined) throw new UsageError('--data-dir with --from: the store to copy is --from DATA_DIR', 'give the data dir once, as --from DATA_DIR');
  const { isDatabaseUrl, redactUrl } = await import('../../store/postgres/config.js');
  let url = flags.to;
  let source = '--to';
  if (url === undefined && ctx.io.env.EMMCTL_DATABASE_URL) {
    url = ctx.io.env.EMMCTL_DATABASE_URL;
    source = 'EMMCTL_DATABASE_URL';
  }
  if (url === undefined) throw new UsageError('--from needs --to URL: the PostgreSQL database to copy into', 'for example --to postgres://emmctl@db.example.com/emmctl (or set EMMCTL_DATABASE_URL)');
  if (!isDatabaseUrl(url)) throw new UsageError(`${source} ${redactUrl(url)} is not a PostgreSQL URL`, 'for example postgres://emmctl@db.example.com:5432/emmctl?sslmode=verify-full');
  const { hasPassword } = await import('../server-store.js');
  if (source === '--to' && hasPassword(url)) {
    throw new UsageError(`--to ${redactUrl(url)}: a password does not go in a flag, where other users of this machine can read it`, 'give it in EMMCTL_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass (or the whole URL in EMMCTL_DATABASE_URL)');
  }
  const format = globals.output;
  const [{ PostgresEngine }, { copyStoreToPostgres }] = await Promise.all([import('../../store/postgres/engine.js'), import('../../store/copy.js')]);
  const { createProgress } = await import('../../output/progress.js');
  const engine = await PostgresEngine.open(url, { env: ctx.io.env, poolSize: 1 });
  const progress = createProgress(ctx.io.stderr);
  let report: CopyReport;
  try {
    report = await copyStoreToPostgres({ dataDir: flags.from, target: engine, dryRun: flags.dryRun, onProgress: (what) => progress.update(what) });
  } finally {
    progress.done();
    await engine.close();
  }
  if (format === 'json' || format === 'yaml') {
    const { renderDocument } = await import('../../output/render.js');
    await renderDocument(report, format, ctx.io.stdout);
  } else {
    const { formatAligned } = await import('../../output/render.js');
    ctx.print(formatAligned([['TABLE', 'SOURCE', 'TARGET', 'CHECKSUM'], ...report.tables.map((t) => [t.table, String(t.source), String(t.target), t.checksum.slice(0, 16)])], ''));
  }
  const rows = report.tables.reduce((n, t) => n + t.target, 0);
  const where = `store ${report.storeId} (schema version ${report.schemaVersion}) from ${report.source} to database ${report.target}`;
  if (report.alreadyCopied) ctx.info(`database ${report.target} already holds this copy of store ${report.storeId}: ${rows} rows, every table equal; nothing was written`);
  else if (report.dryRun) ctx.info(`dry run: copied ${where} and checked it (${rows} rows, every table equal), then rolled it back; nothing was written`);
  else ctx.info(`copied ${where}: ${rows} rows, every table equal on both sides; numbering continues at ${report.sequences.map((s) => `${s.table} ${s.next}`).join(', ')}\nnext: stop using the data dir, and start the servers with --database ${report.target}`);
}
