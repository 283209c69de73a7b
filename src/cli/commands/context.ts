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

interface ContextAddOptions {
  server?: string;
  tokenStdin?: boolean;
  use?: boolean;
  intune?: boolean;
  tenantId?: string;
  clientId?: string;
  clientSecretStdin?: boolean;
  clientCertificate?: string;
  graphEndpoint?: string;
  loginEndpoint?: string;
}

const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Entra ID tenant and application ids are GUIDs; a tenant may also be named by its domain. */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i;

async function addIntune(ctx: CliContext, name: string, opts: ContextAddOptions, dataDir: string | undefined): Promise<void> {
  const { openConfig, validateServerUrl } = await import('../../config/index.js');
  if (opts.server || dataDir || opts.tokenStdin) throw new UsageError('--intune cannot be combined with --server, --data-dir or --token-stdin');
  if (!opts.tenantId) throw new UsageError('--intune needs --tenant-id ID (the Entra ID directory id)');
  if (!opts.clientId) throw new UsageError('--intune needs --client-id ID (the app registration\'s application id)');
  if (!GUID.test(opts.tenantId) && !DOMAIN.test(opts.tenantId)) throw new UsageError(`--tenant-id "${opts.tenantId}" is neither a GUID nor a domain name`);
  if (!GUID.test(opts.clientId)) throw new UsageError(`--client-id "${opts.clientId}" is not a GUID (the application id shown on the app registration)`);
  if (opts.clientSecretStdin && opts.clientCertificate) throw new UsageError('give either --client-secret-stdin or --client-certificate, not both');
  let clientSecret: string | undefined;
  if (opts.clientSecretStdin) {
    if (ctx.io.stdin.isTTY) ctx.io.stderr.write('Paste the client secret, then press Ctrl-D:\n');
    clientSecret = (await readAll(ctx.io.stdin)).trim().split(/\r?\n/)[0]?.trim();
    if (!clientSecret) throw new UsageError('--client-secret-stdin: no secret on standard input');
  }
  const { resolve } = await import('node:path');
  let certificate: string | undefined;
  if (opts.clientCertificate) {
    certificate = resolve(opts.clientCertificate);
    const { readCertificate } = await import('../../backends/intune/auth.js');
    readCertificate(certificate);
  }
  const endpoint = (flag: string, url: string | undefined) => {
    if (url === undefined) return undefined;
    const checked = validateServerUrl(url);
    const u = new URL(checked);
    // Tokens travel to these hosts: plain http only to this machine (tests, emulators).
    if (u.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) throw new UsageError(`${flag} must be https:// (http:// only for 127.0.0.1 or localhost)`);
    return checked;
  };
  const graphEndpoint = endpoint('--graph-endpoint', opts.graphEndpoint);
  const loginEndpoint = endpoint('--login-endpoint', opts.loginEndpoint);
  const config = await openConfig(ctx.io.env);
  const replaced = config.get(name) !== undefined;
  config.add(name, {
    intune: {
      tenantId: opts.tenantId,
      clientId: opts.clientId,
      ...(clientSecret ? { clientSecret } : {}),
      ...(certificate ? { clientCertificate: certificate } : {}),
      ...(graphEndpoint ? { graphEndpoint } : {}),
      ...(loginEndpoint ? { loginEndpoint } : {}),
    },
  });
  if (opts.use) config.use(name);
  const credential = clientSecret ? 'client secret set' : certificate ? `certificate ${certificate}` : 'no credential stored: set EMMCTL_INTUNE_CLIENT_SECRET when running';
  ctx.info(`${replaced ? 'Replaced' : 'Added'} context "${name}" (Intune tenant ${opts.tenantId}, app ${opts.clientId}, ${credential}).`);
  ctx.info(opts.use ? `Now using "${name}". Next: emmctl export --adopt, or emmctl plan` : `Next: emmctl context use ${name}`);
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
    .description('add (or replace) a context: an emmctl server, an embedded store in a directory, or a Microsoft Intune tenant')
    .option('--server <url>', 'emmctl server URL')
    .option('--token-stdin', 'read the API token from standard input')
    .option('--intune', 'a Microsoft Intune tenant through Microsoft Graph (docs/intune.md)')
    .option('--tenant-id <id>', 'with --intune: the Entra ID tenant (directory) id')
    .option('--client-id <id>', 'with --intune: the app registration\'s application (client) id')
    .option('--client-secret-stdin', 'with --intune: read the client secret from standard input (or set EMMCTL_INTUNE_CLIENT_SECRET when running)')
    .option('--client-certificate <file>', 'with --intune: a PEM file with the certificate and its private key, instead of a secret')
    .option('--graph-endpoint <url>', 'with --intune: Microsoft Graph root (default https://graph.microsoft.com; national clouds, tests)')
    .option('--login-endpoint <url>', 'with --intune: Entra ID login root (default https://login.microsoftonline.com)')
    .option('--use', 'make it the current context')
    .addHelpText('after', `
The embedded variant takes the global --data-dir DIR instead of --server.
Examples:
  emmctl server token create --name ci --role admin | emmctl context add prod --server http://127.0.0.1:8787 --token-stdin
  emmctl context add lab --data-dir /srv/emm-lab
  echo "$SECRET" | emmctl context add corp --intune --tenant-id T --client-id C --client-secret-stdin

Next: emmctl context use NAME`)
    .action(async (name: string, opts: ContextAddOptions, command: Command) => {
      const globals = ctx.globals(command);
      const { openConfig, validateContextName, validateServerUrl } = await import('../../config/index.js');
      validateContextName(name);
      if (opts.intune) {
        await addIntune(ctx, name, opts, globals.dataDir);
        return;
      }
      const intuneOnly = (['tenantId', 'clientId', 'clientSecretStdin', 'clientCertificate', 'graphEndpoint', 'loginEndpoint'] as const).filter((k) => opts[k] !== undefined);
      if (intuneOnly.length) throw new UsageError(`${intuneOnly.map(flagName).join(', ')} go${intuneOnly.length === 1 ? 'es' : ''} with --intune`);
      if (opts.server && globals.dataDir) throw new UsageError('give either --server or --data-dir, not both');
      if (!opts.server && !globals.dataDir) throw new UsageError('context add needs --server URL (an emmctl server), --data-dir DIR (an embedded store) or --intune (a Microsoft Intune tenant)');
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
        ...(target.kind === 'http'
          ? { server: target.server, token: target.token ? 'set' : 'none' }
          : target.kind === 'intune'
            ? { server: target.graphEndpoint ?? 'https://graph.microsoft.com', tenantId: target.tenantId, clientId: target.clientId, token: target.clientSecret || target.clientCertificate ? 'set' : 'none' }
            : { dataDir: target.dataDir }),
      };
      if (globals.output === 'json' || globals.output === 'yaml') {
        const { renderDocument } = await import('../../output/render.js');
        await renderDocument(record, globals.output, ctx.io.stdout);
        return;
      }
      ctx.io.stdout.write(`${source}\n`);
      const where =
        target.kind === 'http'
          ? `server ${target.server}, token ${target.token ? 'set' : 'none'}`
          : target.kind === 'intune'
            ? `tenant ${target.tenantId}, app ${target.clientId}, credential ${target.clientSecret || target.clientCertificate ? 'set' : 'none'}`
            : `data dir ${target.dataDir}`;
      ctx.info(`backend: ${target.kind}, ${where}`);
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
