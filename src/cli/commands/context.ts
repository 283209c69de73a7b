// `emmctl context add|use|list|current|rm`: named backends kept in the config file.
// Tokens come from stdin only (never a flag: flags end up in shell history and `ps`), and are
// never printed: listings say `token: set`.
import type { Command } from 'commander';
import type { Readable } from 'node:stream';
import { UsageError } from '../../errors.js';
import { acceptsOutput, type CliContext } from '../context.js';

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) text += chunk;
  return text;
}

export function register(program: Command, ctx: CliContext): void {
  const context = program
    .command('context')
    .description('manage named backends (contexts): the built-in `local` embedded store, or emmctl servers')
    .addHelpText('after', `
Examples:
  echo "$EMM_TOKEN" | emmctl context add prod --server https://emm.example.com --token-stdin
  emmctl context add lab --data-dir ./lab-store
  emmctl context use prod
  emmctl context list
  emmctl --context local plan policies/

The config file (EMMCTL_CONFIG_DIR, default the per-user config dir) is owner-only (0600). Tokens
are stored in it unencrypted, as gh and kubectl do without a keychain.
Precedence: --data-dir / --context flags > EMMCTL_SERVER, EMMCTL_TOKEN, EMMCTL_DATA_DIR,
EMMCTL_CONTEXT > the current context > local.`);

  context
    .command('add <name>')
    .description('add (or replace) a context: an emmctl server, or an embedded store in a directory')
    .option('--server <url>', 'emmctl server URL')
    .option('--token-stdin', 'read the API token from standard input')
    .option('--use', 'make it the current context')
    .addHelpText('after', `
The embedded variant takes the global --data-dir DIR instead of --server.
Examples:
  emmctl server token create --name ci --role admin | emmctl context add prod --server http://127.0.0.1:8787 --token-stdin
  emmctl context add lab --data-dir /srv/emm-lab

Next: emmctl context use NAME`)
    .action(async (name: string, opts: { server?: string; tokenStdin?: boolean; use?: boolean }, command: Command) => {
      const globals = ctx.globals(command);
      const { openConfig, validateContextName, validateServerUrl } = await import('../../config/index.js');
      validateContextName(name);
      if (opts.server && globals.dataDir) throw new UsageError('give either --server or --data-dir, not both');
      if (!opts.server && !globals.dataDir) throw new UsageError('context add needs --server URL (an emmctl server) or --data-dir DIR (an embedded store)');
      if (opts.tokenStdin && !opts.server) throw new UsageError('--token-stdin goes with --server: an embedded store has no token');
      let token: string | undefined;
      if (opts.tokenStdin) {
        if (ctx.io.stdin.isTTY) ctx.io.stderr.write('Paste the token, then press Ctrl-D:\n');
        // The token's first line: `server token create` may print it with a trailing newline.
        token = (await readAll(ctx.io.stdin)).trim().split(/\r?\n/)[0]?.trim();
        if (!token) throw new UsageError('--token-stdin: no token on standard input');
      }
      const { resolve } = await import('node:path');
      const entry: { server?: string; token?: string; dataDir?: string } = opts.server ? { server: validateServerUrl(opts.server), ...(token ? { token } : {}) } : { dataDir: resolve(globals.dataDir!) };
      const config = await openConfig(ctx.io.env);
      const replaced = config.get(name) !== undefined;
      config.add(name, entry);
      if (opts.use) config.use(name);
      ctx.info(`${replaced ? 'Replaced' : 'Added'} context "${name}" (${opts.server ? `server ${entry.server}` : `embedded store in ${entry.dataDir}`}${token ? ', token set' : ''}).`);
      if (!opts.use) ctx.info(`Next: emmctl context use ${name}`);
      else ctx.info(`Now using "${name}". Next: emmctl plan`);
    });

  context
    .command('use <name>')
    .description('make a context the current one')
    .action(async (name: string) => {
      const { openConfig } = await import('../../config/index.js');
      const config = await openConfig(ctx.io.env);
      config.use(name);
      ctx.info(`Now using context "${name}".`);
      if (ctx.io.env.EMMCTL_SERVER || ctx.io.env.EMMCTL_DATA_DIR || ctx.io.env.EMMCTL_CONTEXT) {
        ctx.warn('EMMCTL_SERVER / EMMCTL_DATA_DIR / EMMCTL_CONTEXT is set in this environment and overrides the current context');
      }
    });

  context
    .command('list')
    .alias('ls')
    .description('list contexts (tokens are never shown: `set` or `none`)')
    .action(async (_opts: unknown, command: Command) => {
      const globals = ctx.globals(command);
      const { openConfig } = await import('../../config/index.js');
      const { renderRecords } = await import('../../output/render.js');
      const config = await openConfig(ctx.io.env);
      type R = ReturnType<typeof config.list>[number];
      await renderRecords(config.list(), {
        format: globals.output ?? 'table',
        out: ctx.io.stdout,
        colors: ctx.out,
        columns: [
          { header: 'CURRENT', value: (r: R) => (r.current ? '*' : '') },
          { header: 'NAME', value: (r: R) => r.name },
          { header: 'BACKEND', value: (r: R) => r.backend },
          { header: 'ENDPOINT', value: (r: R) => r.server ?? r.dataDir ?? '(default data dir)', flex: true },
          { header: 'TOKEN', value: (r: R) => r.token },
        ],
      });
    });

  context
    .command('current')
    .description('print the context commands use now, and what decided it')
    .action(async (_opts: unknown, command: Command) => {
      const globals = ctx.globals(command);
      const { resolveTargetWithSource } = await import('../target.js');
      const { target, source } = await resolveTargetWithSource(globals, ctx.io.env);
      const record = {
        name: source,
        backend: target.kind,
        ...(target.kind === 'http' ? { server: target.server, token: target.token ? 'set' : 'none' } : { dataDir: target.dataDir }),
      };
      if (globals.output === 'json' || globals.output === 'yaml') {
        const { renderDocument } = await import('../../output/render.js');
        await renderDocument(record, globals.output, ctx.io.stdout);
        return;
      }
      ctx.io.stdout.write(`${source}\n`);
      ctx.info(`backend: ${target.kind}, ${target.kind === 'http' ? `server ${target.server}, token ${target.token ? 'set' : 'none'}` : `data dir ${target.dataDir}`}`);
    });

  context
    .command('rm <name>')
    .alias('remove')
    .description('remove a context (and its stored token)')
    .action(async (name: string) => {
      const { openConfig } = await import('../../config/index.js');
      const config = await openConfig(ctx.io.env);
      const wasCurrent = config.currentName() === name;
      config.remove(name);
      ctx.info(`Removed context "${name}".${wasCurrent ? ' The current context is now "local".' : ''}`);
    });
  acceptsOutput(context.commands.find((c) => c.name() === 'current')!, ['table', 'json', 'yaml']);
}
