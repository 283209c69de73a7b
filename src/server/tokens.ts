// `emmctl server token create|list|revoke`: API tokens managed directly on the store, so the
// first admin token exists before any server runs.
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { CliContext } from '../cli/context.js';
import type { Column } from '../output/render.js';
import { defaultDataDir } from '../cli/target.js';
import { UsageError } from '../errors.js';
import type { Actor, ApiRole, ApiTokenInfo } from '../store/api.js';
import type { ServerStore } from './store.js';
import { parseDurationSeconds } from '../model/duration.js';

async function withStore<T>(ctx: CliContext, command: Command, fn: (store: ServerStore) => T): Promise<T> {
  const dataDir = ctx.globals(command).dataDir ?? defaultDataDir(ctx.io.env);
  const { openStore } = await import('./open-store.js');
  const store = await openStore(dataDir);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

function localActor(): Actor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): keep "unknown".
  }
  return { name: `local:${user}`, source: 'local', role: 'admin' };
}

export async function createToken(ctx: CliContext, command: Command, opts: { role: string; name?: string; expires?: string }): Promise<void> {
  let expiresInSeconds: number | undefined;
  if (opts.expires !== undefined) {
    expiresInSeconds = parseDurationSeconds(opts.expires.trim());
    if (!expiresInSeconds) throw new UsageError(`invalid --expires "${opts.expires}": expected a duration such as 90d, 12h, 2w or 1d12h`);
  }
  const name = opts.name ?? `${opts.role}-${randomBytes(3).toString('hex')}`;
  const { token, secret } = await withStore(ctx, command, (store) =>
    store.createApiToken({ name, role: opts.role as ApiRole, expiresInSeconds }, localActor()),
  );
  const format = ctx.globals(command).output;
  // As data, one record (the token and its secret); as text, the bare secret, for `| emmctl context add --token-stdin`.
  if (format === 'json' || format === 'yaml') {
    const { renderDocument } = await import('../output/render.js');
    await renderDocument({ token, secret }, format, ctx.io.stdout);
  } else ctx.io.stdout.write(`${secret}\n`);
  ctx.info(`created API token ${token.id} "${token.name}" (${token.role}${token.expiresAt ? `, expires ${token.expiresAt}` : ', no expiry'})`);
  ctx.info('the secret is shown only this once; keep it in a secret store (EMMCTL_TOKEN for the CLI)');
}

export async function listTokens(ctx: CliContext, command: Command): Promise<void> {
  const tokens = await withStore(ctx, command, (store) => store.listApiTokens());
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

export async function revokeToken(ctx: CliContext, command: Command, id: string): Promise<void> {
  const token = await withStore(ctx, command, (store) => store.revokeApiToken(id, localActor()));
  if (ctx.globals(command).output === 'json') ctx.io.stdout.write(`${JSON.stringify(token, null, 2)}\n`);
  ctx.info(`revoked API token ${token.id} "${token.name}"`);
}
