// `emmctl server token create|list|revoke`: API tokens of the backend the command targets, chosen
// like every other command's (--data-dir, --context, EMMCTL_SERVER, ...), or of the PostgreSQL
// database a server serves (databaseUrl, chosen by the command from --database / EMMCTL_DATABASE_URL). On an embedded store
// they are managed directly, so the first admin token exists before any server runs; against a
// server they go through its admin routes (admin role), so the token is one that server accepts.
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { ApiTokenAdmin, Backend } from '../backends/backend.js';
import type { CliContext } from '../cli/context.js';
import type { Column } from '../output/render.js';
import { UsageError } from '../errors.js';
import type { ApiRole, ApiTokenInfo } from '../model/access.js';
import { parseDurationSeconds } from '../model/duration.js';

/**
 * The target's token API. Only `create` may start a new embedded store (the bootstrap token);
 * list and revoke on a dir without a store say "no emmctl store at DIR".
 */
async function tokenBackend(ctx: CliContext, command: Command, create = false, databaseUrl?: string): Promise<Backend & ApiTokenAdmin> {
  const { hasApiTokens } = await import('../backends/backend.js');
  if (databaseUrl !== undefined) {
    // The database a server serves, reached directly, as --data-dir reaches the embedded store.
    const [{ openStore }, { EmbeddedBackend, localActorName }] = await Promise.all([import('./open-store.js'), import('../backends/embedded/index.js')]);
    const store = await openStore({ databaseUrl });
    const backend = new EmbeddedBackend(store, store.path, { name: localActorName(), source: 'local' });
    ctx.onExit(() => backend.close());
    return backend;
  }
  const backend = await ctx.backend(command, { ifMissing: create ? 'create' : 'fail' });
  if (!hasApiTokens(backend)) {
    throw new UsageError(
      `${backend.kind} backend ${backend.location} has no emmctl API tokens`,
      'manage them on the emmctl store itself with --data-dir DIR, or against an emmctl server with --context NAME or EMMCTL_SERVER',
    );
  }
  return backend;
}

export async function createToken(ctx: CliContext, command: Command, opts: { role: string; name?: string; expires?: string; databaseUrl?: string }): Promise<void> {
  let expiresInSeconds: number | undefined;
  if (opts.expires !== undefined) {
    expiresInSeconds = parseDurationSeconds(opts.expires.trim());
    if (!expiresInSeconds) throw new UsageError(`invalid --expires "${opts.expires}": expected a duration such as 90d, 12h, 2w or 1d12h`);
  }
  const name = opts.name ?? `${opts.role}-${randomBytes(3).toString('hex')}`;
  const backend = await tokenBackend(ctx, command, true, opts.databaseUrl);
  const { token, secret } = await backend.createApiToken({ name, role: opts.role as ApiRole, expiresInSeconds });
  const format = ctx.globals(command).output;
  // As data, one record (the token and its secret); as text, the bare secret, for `| emmctl context add --token-stdin`.
  if (format === 'json' || format === 'yaml') {
    const { renderDocument } = await import('../output/render.js');
    await renderDocument({ token, secret }, format, ctx.io.stdout);
  } else ctx.io.stdout.write(`${secret}\n`);
  ctx.info(`created API token ${token.id} "${token.name}" (${token.role}${token.expiresAt ? `, expires ${token.expiresAt}` : ', no expiry'}) for ${backend.location}`);
  ctx.info('the secret is shown only this once; keep it in a secret store (EMMCTL_TOKEN for the CLI)');
}

export async function listTokens(ctx: CliContext, command: Command, opts: { databaseUrl?: string } = {}): Promise<void> {
  const tokens = await (await tokenBackend(ctx, command, false, opts.databaseUrl)).listApiTokens();
  if (!tokens.length && ctx.globals(command).output === undefined) {
    ctx.info('no API tokens; create one with `emmctl server token create --role admin`');
    return;
  }
  // The same renderers as every other listing: table/wide/json/yaml/csv mean one thing everywhere.
  const { renderRecords } = await import('../output/render.js');
  await renderRecords(tokens, { format: ctx.globals(command).output ?? 'table', columns: TOKEN_COLUMNS, out: ctx.io.stdout, colors: ctx.out });
}

const TOKEN_COLUMNS: Column<ApiTokenInfo>[] = [
  { header: 'ID', value: (t) => t.id, keep: true },
  { header: 'NAME', value: (t) => t.name, flex: true },
  { header: 'ROLE', value: (t) => t.role, keep: true },
  { header: 'STATUS', value: (t) => (t.revoked ? 'revoked' : 'active'), keep: true },
  { header: 'CREATED', value: (t) => t.createdAt },
  { header: 'EXPIRES', value: (t) => t.expiresAt ?? '-' },
  { header: 'LAST USED', value: (t) => t.lastUsedAt ?? '-' },
];

export async function revokeToken(ctx: CliContext, command: Command, id: string, opts: { databaseUrl?: string } = {}): Promise<void> {
  const token = await (await tokenBackend(ctx, command, false, opts.databaseUrl)).revokeApiToken(id);
  if (ctx.globals(command).output === 'json') ctx.io.stdout.write(`${JSON.stringify(token, null, 2)}\n`);
  ctx.info(`revoked API token ${token.id} "${token.name}"`);
}
