// `emmctl server`: serve the embedded store over HTTP (admin API + device agent API), and
// `emmctl server token create|list|revoke` to manage API tokens (on the store, or through a server).
import { Command, Option } from 'commander';
import { acceptsOutput, type CliContext } from '../context.js';
import { register as registerMigrate } from './server-migrate.js';

interface ServeOptions {
  database?: string;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  rateLimit?: string;
  deviceRateLimit?: string;
  enrollRateLimit?: string;
  tick?: string;
  requestTimeout?: string;
  accessLog: boolean;
  notifyWebhook: string[];
  notifySecretFile?: string;
  databasePool?: string;
  trustedProxy?: string;
  androidEnterprise?: string;
  googleCredentials?: string;
  amapiEndpoint?: string;
  pubsubAudience?: string;
  pubsubServiceAccount?: string;
  pubsubSubscription?: string;
  googleCertsUrl?: string;
  androidLookupDelay?: string;
}

const ROLES = ['admin', 'operator', 'viewer'];
/** Far above what one replica can use, low enough that a typo (1000) does not exhaust the database's max_connections. */
const MAX_POOL = 200;

export function register(program: Command, ctx: CliContext): void {
  const server = program
    .command('server')
    .description('Serve the embedded store over HTTP: the admin REST API and the device agent API')
    .option('--database <url>', 'serve this PostgreSQL database (postgres://user@host:port/db, no password in the flag); env EMMCTL_DATABASE_URL; default: the embedded store (--data-dir)')
    .option('--database-pool <n>', `PostgreSQL connections this server keeps at most, 1-${MAX_POOL}; env EMMCTL_DATABASE_POOL (default 10)`)
    .option('--trusted-proxy <cidr[,cidr]>', 'load balancers whose X-Forwarded-For names the client (rate limits, audit, access log); env EMMCTL_TRUSTED_PROXY (default: none, the header is ignored)')
    .option('--listen <host:port>', 'address to listen on (port 0 picks a free port); env EMMCTL_LISTEN', '127.0.0.1:8787')
    .option('--tls-cert <file>', 'PEM certificate: serve https (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--rate-limit <rate[/burst]>', 'requests per second per API token, or off; env EMMCTL_SERVER_RATE_LIMIT (default 50/200)')
    .option('--device-rate-limit <rate[/burst]>', 'requests per second per device, or off; env EMMCTL_SERVER_DEVICE_RATE_LIMIT (default 2/10)')
    .option('--enroll-rate-limit <rate[/burst]>', 'enrollments per second per client address, or off; env EMMCTL_SERVER_ENROLL_RATE_LIMIT (default 200/1000)')
    .option('--tick <seconds>', 'how often escalations and command expiry run (default 30)')
    .option('--request-timeout <seconds>', 'a client must send its whole request within this time, headers within 10 s (default 30)')
    .option('--no-access-log', 'leave out the JSON access log\'s line per request (errors and reconcile and notifier news still go to stderr)')
    .option('--notify-webhook <url>', 'POST a signed JSON event to URL for each notify step and each escalation command queued; repeatable', (v: string, prev: string[]) => [...prev, v], [])
    .option('--notify-secret-file <file>', 'file holding the HMAC-SHA256 signing secret of --notify-webhook (else env EMMCTL_NOTIFY_SECRET)')
    .option('--android-enterprise <name>', 'manage Android devices through Google\'s Android Management API for this enterprise (enterprises/LC…; see `emmctl android signup`)')
    .option('--google-credentials <file>', 'the service account\'s JSON key for --android-enterprise (else env GOOGLE_APPLICATION_CREDENTIALS)')
    .option('--amapi-endpoint <url>', 'the Android Management API\'s address (default https://androidmanagement.googleapis.com/)')
    .option('--pubsub-audience <url>', 'take AMAPI\'s Pub/Sub pushes at POST /v1/android/pubsub: the audience of the push subscription\'s OIDC token (usually that URL)')
    .option('--pubsub-service-account <email>', 'the service account the push subscription signs its OIDC tokens as (with --pubsub-audience)')
    .option('--pubsub-subscription <name>', 'accept pushes only from this subscription (projects/P/subscriptions/S)')
    .option('--google-certs-url <url>', 'where Google\'s OIDC signing keys are (default https://www.googleapis.com/oauth2/v3/certs)')
    .option('--android-lookup-delay <seconds>', 'a command whose answer from Google was lost is looked up this long after it was sent, never sent again before (default 300)')
    .addHelpText(
      'after',
      `
The server prints "listening on URL" on stderr once it accepts requests, then one JSON
access-log line per request. SIGTERM or Ctrl-C stops it gracefully: in-flight requests
finish, the store is closed, exit 0.

With --notify-webhook, each event is signed (header X-Emmctl-Signature: sha256=HMAC of
"TIMESTAMP.BODY"), retried with backoff, and its delivery recorded in the audit log; the event
format is in docs/api.md. The secret comes from --notify-secret-file or EMMCTL_NOTIFY_SECRET,
never from a flag value.

With --database (or EMMCTL_DATABASE_URL) the server serves a PostgreSQL database, and several
servers may serve one database behind a load balancer. The password comes from
EMMCTL_DATABASE_URL, EMMCTL_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass, never the flag.
/healthz says the process is up; /readyz (200, or 503 + Retry-After) that it can reach its database.

With --android-enterprise and a service account key (--google-credentials FILE or
GOOGLE_APPLICATION_CREDENTIALS), the server also manages Android devices through Google's
Android Management API: tokens for Android profiles get Google's QR code, devices are synced
every tick, their policies compiled from your Policies, commands sent through Google. With
--pubsub-audience and --pubsub-service-account it takes Pub/Sub pushes too. docs/android.md.

Create the first API token on the server host, on the store it serves (no server needed):
  emmctl server token create --role admin --name ci --data-dir DIR   (or --database URL)
Then point the CLI at the server:
  EMMCTL_SERVER=http://127.0.0.1:8787 EMMCTL_TOKEN=<token> emmctl devices list`,
    )
    .action(async (opts: ServeOptions, command: Command) => {
      await serve(ctx, command, opts);
    });

  registerMigrate(server, ctx);

  const token = server
    .command('token')
    .description('Manage API tokens: on the store (--data-dir or --database, no server needed) or through a server (--context, EMMCTL_SERVER; admin token)')
    .addHelpText('after', `
Which store or server: the same as every command (--data-dir, --context, EMMCTL_SERVER, ...),
or the PostgreSQL database a server serves (--database URL, or EMMCTL_DATABASE_URL when no
other target is given). Against a server the calls go through its admin API and need an admin
token; on a store they need no server, which is how the first admin token is made.`);
  const create = token
    .command('create')
    .description('Create an API token and print its secret once on stdout (-o json|yaml: the token record with its secret)')
    .addOption(new Option('--role <role>', 'viewer (read), operator (also apply, lock, reboot), admin (also wipe, retire, prune, tokens)').choices(ROLES).makeOptionMandatory())
    .option('--name <name>', 'a name for the audit log (default: <role>-<random>)')
    .option('--expires <duration>', 'lifetime such as 90d, 12h, 2w (default: never)')
    .option('--database <url>', 'on this PostgreSQL database (no password in the flag); env EMMCTL_DATABASE_URL')
    .addHelpText('after', `
Examples:
  $ emmctl server token create --role viewer --name dashboard --expires 90d
  $ TOKEN=$(emmctl server token create --role admin --name ci -q)   # the secret alone on stdout
  $ emmctl --context prod server token create --role viewer --name dashboard   # through the server

The secret is shown once and stored only as a hash: keep it in your CI secret store.

Next:  echo "$TOKEN" | emmctl context add prod --server URL --token-stdin`)
    .action(async (opts: { role: string; name?: string; expires?: string; database?: string }, command: Command) => {
      const { createToken } = await import('../../server/tokens.js');
      await createToken(ctx, command, { ...opts, databaseUrl: await tokenDatabase(ctx, command) });
    });
  acceptsOutput(create, ['table', 'json', 'yaml']);
  token
    .command('list')
    .description('List API tokens (never their secrets)')
    .option('--database <url>', 'on this PostgreSQL database (no password in the flag); env EMMCTL_DATABASE_URL')
    .action(async (opts: { database?: string }, command: Command) => {
      const { listTokens } = await import('../../server/tokens.js');
      await listTokens(ctx, command, { databaseUrl: await tokenDatabase(ctx, command) });
    });
  token
    .command('revoke')
    .description('Revoke an API token; requests with it get 401 from then on')
    .argument('<id>', 'token id (see `emmctl server token list`)')
    .option('--database <url>', 'on this PostgreSQL database (no password in the flag); env EMMCTL_DATABASE_URL')
    .action(async (id: string, opts: { database?: string }, command: Command) => {
      const { revokeToken } = await import('../../server/tokens.js');
      await revokeToken(ctx, command, id, { databaseUrl: await tokenDatabase(ctx, command) });
    });
}

/** The PostgreSQL database a token command acts on, if --database or EMMCTL_DATABASE_URL names one (src/cli/server-store.ts). */
async function tokenDatabase(ctx: CliContext, command: Command): Promise<string | undefined> {
  const { chooseTokenStore } = await import('../server-store.js');
  const globals = ctx.globals(command);
  // `server` takes --database too, and commander gives a flag to the first command that knows
  // it, wherever it stands on the line: read it from the whole chain.
  const database = (command.optsWithGlobals() as { database?: string }).database;
  return (await chooseTokenStore({ database, dataDir: globals.dataDir, context: globals.context }, ctx.io.env))?.url;
}

async function serve(ctx: CliContext, command: Command, opts: ServeOptions): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const { UsageError } = await import('../../errors.js');
  const { parseBucketConfig } = await import('../../server/ratelimit.js');
  const { startServer } = await import('../../server/http.js');
  const { chooseServerStore } = await import('../server-store.js');
  const env = ctx.io.env;
  const globals = ctx.globals(command);
  const choice = await chooseServerStore({ database: opts.database, dataDir: globals.dataDir }, env);
  const listen = command.getOptionValueSource('listen') === 'default' && env.EMMCTL_LISTEN ? env.EMMCTL_LISTEN : opts.listen;

  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw new UsageError('--tls-cert and --tls-key go together', 'give both for https, or neither for http');
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (opts.tlsCert && opts.tlsKey) {
    const read = async (file: string, flag: string) => {
      try {
        return await readFile(file);
      } catch (error) {
        throw new UsageError(`cannot read ${flag} ${file}: ${(error as Error).message}`);
      }
    };
    tls = { cert: await read(opts.tlsCert, '--tls-cert'), key: await read(opts.tlsKey, '--tls-key') };
  }
  const bucket = (flag: string | undefined, envName: string, what: string) => {
    const text = flag ?? env[envName];
    return text === undefined || text === '' ? undefined : parseBucketConfig(text, what);
  };
  const rateLimit = Object.fromEntries(
    Object.entries({
      token: bucket(opts.rateLimit, 'EMMCTL_SERVER_RATE_LIMIT', '--rate-limit'),
      device: bucket(opts.deviceRateLimit, 'EMMCTL_SERVER_DEVICE_RATE_LIMIT', '--device-rate-limit'),
      enroll: bucket(opts.enrollRateLimit, 'EMMCTL_SERVER_ENROLL_RATE_LIMIT', '--enroll-rate-limit'),
    }).filter(([, v]) => v !== undefined),
  );
  let tickSeconds: number | undefined;
  if (opts.tick !== undefined) {
    tickSeconds = Number(opts.tick);
    if (!(tickSeconds > 0)) throw new UsageError(`invalid --tick "${opts.tick}": expected seconds > 0`);
  }

  const poolText = opts.databasePool ?? (env.EMMCTL_DATABASE_POOL || undefined);
  let databasePool: number | undefined;
  if (poolText !== undefined) {
    const what = opts.databasePool !== undefined ? '--database-pool' : 'EMMCTL_DATABASE_POOL';
    databasePool = /^\d{1,4}$/.test(poolText.trim()) ? Number(poolText.trim()) : NaN;
    if (!(databasePool >= 1 && databasePool <= MAX_POOL)) throw new UsageError(`invalid ${what} "${poolText}": expected a whole number of connections from 1 to ${MAX_POOL}`);
    if (choice.engine !== 'postgres' && opts.databasePool !== undefined) throw new UsageError('--database-pool is for a PostgreSQL database (--database URL or EMMCTL_DATABASE_URL); the embedded store has no pool');
  }
  const proxyText = opts.trustedProxy ?? (env.EMMCTL_TRUSTED_PROXY || undefined);
  let trustedProxies: import('../../server/proxy.js').TrustedProxies | undefined;
  if (proxyText !== undefined) {
    const { parseTrustedProxies } = await import('../../server/proxy.js');
    trustedProxies = parseTrustedProxies(proxyText, opts.trustedProxy !== undefined ? '--trusted-proxy' : 'EMMCTL_TRUSTED_PROXY');
  }

  let timeouts: { requestMs: number; headersMs: number } | undefined;
  if (opts.requestTimeout !== undefined) {
    const seconds = Number(opts.requestTimeout);
    if (!(seconds > 0)) throw new UsageError(`invalid --request-timeout "${opts.requestTimeout}": expected seconds > 0`);
    timeouts = { requestMs: seconds * 1000, headersMs: Math.min(10_000, seconds * 1000) };
  }

  let notify: { webhooks: string[]; secret: string } | undefined;
  if (opts.notifySecretFile !== undefined && !opts.notifyWebhook.length) throw new UsageError('--notify-secret-file needs --notify-webhook URL');
  if (opts.notifyWebhook.length) {
    const { parseWebhookUrl } = await import('../../server/notify.js');
    const webhooks = opts.notifyWebhook.map(parseWebhookUrl);
    let secret: string | undefined;
    if (opts.notifySecretFile !== undefined) {
      try {
        secret = (await readFile(opts.notifySecretFile, 'utf8')).replace(/\r?\n$/, '');
      } catch (error) {
        throw new UsageError(`cannot read --notify-secret-file ${opts.notifySecretFile}: ${(error as Error).message}`);
      }
      if (!secret) throw new UsageError(`--notify-secret-file ${opts.notifySecretFile} is empty`);
    } else {
      secret = env.EMMCTL_NOTIFY_SECRET;
      if (!secret) throw new UsageError('--notify-webhook needs a signing secret', 'set EMMCTL_NOTIFY_SECRET or pass --notify-secret-file FILE (never the secret itself as a flag)');
    }
    notify = { webhooks: [...new Set(webhooks)], secret };
  }

  const android = await androidOptions(opts, env, (m) => ctx.warn(m));

  const running = await startServer({
    android,
    notify,
    timeouts,
    ...(choice.engine === 'postgres' ? { databaseUrl: choice.url } : { dataDir: choice.dataDir }),
    listen,
    tls,
    rateLimit,
    tickSeconds,
    accessLog: opts.accessLog,
    ...(choice.engine === 'postgres' && databasePool !== undefined ? { databasePool } : {}),
    ...(trustedProxies ? { trustedProxies } : {}),
  });
  if (choice.engine === 'postgres') {
    const { redactUrl } = await import('../../store/postgres/config.js');
    ctx.info(`emmctl server: database ${redactUrl(choice.url)}`);
  } else ctx.info(`emmctl server: store in ${choice.dataDir}`);
  if (trustedProxies) ctx.info(`emmctl server: client addresses taken from X-Forwarded-For from ${trustedProxies.ranges.join(', ')}`);
  if (android) ctx.info(`emmctl server: Android enterprise ${android.enterprise} through ${android.endpoint ?? 'https://androidmanagement.googleapis.com/'}${android.pubsub ? ', Pub/Sub pushes at /v1/android/pubsub' : ''}`);
  if (notify) {
    const { channelName } = await import('../../server/notify.js');
    ctx.info(`emmctl server: notifying ${notify.webhooks.map(channelName).join(', ')}`);
  }
  // Always printed (even with --quiet): scripts and tests read the URL from this line.
  ctx.io.stderr.write(`listening on ${running.url}\n`);

  // While serving, Ctrl-C and SIGTERM mean a graceful shutdown, not the CLI's immediate exit; a
  // second Ctrl-C ends the process at once (run.ts), a second SIGTERM finds no handler and does too.
  let releaseInterrupt = () => {};
  let onTerm = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        releaseInterrupt();
        process.removeListener('SIGTERM', onTerm);
        ctx.info(`${signal}: shutting down (in-flight requests finish first)`);
        running.close().then(resolve, reject);
      };
      onTerm = () => stop('SIGTERM');
      releaseInterrupt = ctx.onInterrupt(() => stop('SIGINT'));
      process.once('SIGTERM', onTerm);
    });
  } finally {
    releaseInterrupt();
    process.removeListener('SIGTERM', onTerm);
  }
  ctx.info('emmctl server: stopped');
}

type AndroidOptions = NonNullable<import('../../server/http.js').ServerOptions['android']>;

/** The Android channel's flags, checked; undefined when the server runs no Android channel. */
async function androidOptions(opts: ServeOptions, env: NodeJS.ProcessEnv, warn: (message: string) => void): Promise<AndroidOptions | undefined> {
  const { UsageError } = await import('../../errors.js');
  const pubsubGiven = opts.pubsubAudience ?? opts.pubsubServiceAccount ?? opts.pubsubSubscription ?? opts.googleCertsUrl;
  if (opts.androidEnterprise === undefined) {
    for (const [flag, v] of [['--google-credentials', opts.googleCredentials], ['--amapi-endpoint', opts.amapiEndpoint], ['--android-lookup-delay', opts.androidLookupDelay]] as const) {
      if (v !== undefined) throw new UsageError(`${flag} goes with --android-enterprise`);
    }
    if (pubsubGiven !== undefined) throw new UsageError('the --pubsub-* and --google-certs-url flags go with --android-enterprise');
    return undefined;
  }
  const enterprise = opts.androidEnterprise.trim();
  if (!/^enterprises\/[A-Za-z0-9_-]{1,100}$/.test(enterprise)) {
    throw new UsageError(`invalid --android-enterprise "${opts.androidEnterprise}": expected enterprises/ID (as emmctl android signup prints it)`);
  }
  const { loadServiceAccountKey, endpointProblem } = await import('../../channels/android/auth.js');
  const { key } = await loadServiceAccountKey(opts.googleCredentials, env, warn);
  const url = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    // A URL that receives the service account's access token (or whose keys decide what a push may do).
    const problem = endpointProblem(v);
    if (problem) throw new UsageError(`${flag} "${v}" ${problem}`);
    return new URL(v).toString();
  };
  const out: AndroidOptions = { enterprise, key };
  const endpoint = url('--amapi-endpoint', opts.amapiEndpoint);
  if (endpoint !== undefined) out.endpoint = endpoint;
  if (opts.androidLookupDelay !== undefined) {
    const seconds = Number(opts.androidLookupDelay);
    if (!(seconds > 0) || seconds > 86_400) throw new UsageError(`invalid --android-lookup-delay "${opts.androidLookupDelay}": expected seconds, more than 0 and at most a day`);
    out.lookupDelayMs = seconds * 1000;
  }
  if (pubsubGiven !== undefined) {
    if (!opts.pubsubAudience || !opts.pubsubServiceAccount) throw new UsageError('--pubsub-audience and --pubsub-service-account go together', 'give both to take Pub/Sub pushes at POST /v1/android/pubsub, or neither');
    if (!/^[^@\s]+@[^@\s]+$/.test(opts.pubsubServiceAccount)) throw new UsageError(`invalid --pubsub-service-account "${opts.pubsubServiceAccount}": expected the service account's e-mail`);
    if (opts.pubsubSubscription !== undefined && !/^projects\/[^/\s]+\/subscriptions\/[^/\s]+$/.test(opts.pubsubSubscription)) {
      throw new UsageError(`invalid --pubsub-subscription "${opts.pubsubSubscription}": expected projects/PROJECT/subscriptions/NAME`);
    }
    out.pubsub = { audience: opts.pubsubAudience, serviceAccount: opts.pubsubServiceAccount };
    const certs = url('--google-certs-url', opts.googleCertsUrl);
    if (certs !== undefined) out.pubsub.certsUrl = certs;
    if (opts.pubsubSubscription !== undefined) out.pubsub.subscription = opts.pubsubSubscription;
  }
  return out;
}
