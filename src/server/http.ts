// The server's lifecycle: open the store, listen (http or https), route each request through
// auth → rate limit → handler, log it, run the reconcile tick, and shut down gracefully.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { BackendError, EmmctlError, UsageError } from '../errors.js';
import { BatchedWriter, loggablePath, type AccessLogEntry, type LogSink } from './accesslog.js';
import { authenticate } from './auth.js';
import { DEFAULT_BODY_LIMIT, readJsonBody } from './body.js';
import { DEFAULT_RATE_LIMITS, RateLimiter, type RateLimitConfig } from './ratelimit.js';
import { ROUTES } from './routes/index.js';
import { HttpError, JsonText, NO_CONTENT, Router, statusForBackendError, type RequestContext } from './router.js';
import type { NotifyOptions } from './notify.js';
import { normalise, type TrustedProxies } from './proxy.js';
import type { ServerStore } from './store.js';
import { StoreUnavailableError } from '../store/engine.js';
import { OUTBOX_CHANNEL, RECONCILE_CHANNEL } from '../store/repos/wake.js';

export interface ServerOptions {
  /** The embedded store's directory; or, with databaseUrl, not given. */
  dataDir?: string;
  /** A PostgreSQL database URL (the password may be in it, or in PGPASSWORD, a file, ~/.pgpass). */
  databaseUrl?: string;
  /** `HOST:PORT`, `:PORT` or `PORT`; port 0 picks a free one. Default 127.0.0.1:8787. */
  listen?: string;
  /** PEM contents; https when given. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Per-bucket overrides; `false` turns a bucket off. */
  rateLimit?: RateLimitConfig;
  /** The clock for the store and the reconcile tick (tests). */
  now?: () => Date;
  /** The server's log sink, one JSON line each (access log, errors, reconcile and notifier news); default: batched to stderr; false: off. */
  log?: LogSink | false;
  /** The access log's line per request, into `log`; default on. Off leaves every other line. */
  accessLog?: boolean;
  bodyLimitBytes?: number;
  /** How often a reconcile pass runs (escalations, command expiry), shared by the replicas. Default 30 s. */
  tickSeconds?: number;
  timeouts?: { headersMs?: number; requestMs?: number; keepAliveMs?: number; shutdownMs?: number };
  /** Notification webhooks for escalation events (src/server/notify.ts). */
  notify?: NotifyOptions;
  /** Load balancers whose X-Forwarded-For gives the client's address (src/server/proxy.ts); else the TCP peer's. */
  trustedProxies?: TrustedProxies;
  /** PostgreSQL connections per replica (default 10). */
  databasePool?: number;
  /** The Android channel (docs/android.md): devices managed through Google's Android Management API. */
  android?: AndroidServerOptions;
}

export interface AndroidServerOptions {
  /** enterprises/LC…. */
  enterprise: string;
  /** The service account's key, read from its JSON file (never logged). */
  key: import('../channels/android/auth.js').ServiceAccountKey;
  /** Default https://androidmanagement.googleapis.com/. */
  endpoint?: string;
  /** Pub/Sub push: the OIDC token's audience and the push subscription's service account. */
  pubsub?: { audience: string; serviceAccount: string; certsUrl?: string; subscription?: string };
  /** How long after a send whose answer was lost the ledger looks it up (AndroidChannelOptions.lookupDelayMs). */
  lookupDelayMs?: number;
}

export interface RunningServer {
  url: string;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), closes the store. */
  close(): Promise<void>;
}

export const DEFAULT_LISTEN = '127.0.0.1:8787';

export function parseListen(text: string): { host: string; port: number } {
  const t = text.trim();
  const m = /^(?:\[([0-9a-fA-F:.]+)\]:|([^:\s\[\]]*):)?(\d{1,5})$/.exec(t);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`invalid --listen "${text}": expected HOST:PORT, e.g. 127.0.0.1:8787 (port 0 picks a free port)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseListen(options.listen ?? DEFAULT_LISTEN);
  const now = options.now ?? (() => new Date());
  const { openStore } = await import('./open-store.js');
  const { documentChecker } = await import('../policy/documents.js');
  if ((options.dataDir === undefined) === (options.databaseUrl === undefined)) throw new UsageError('the server serves one store: give dataDir or databaseUrl');
  const where = options.databaseUrl !== undefined ? { databaseUrl: options.databaseUrl } : { dataDir: options.dataDir! };
  const store = await openStore(where, {
    now: options.now,
    checkDocument: await documentChecker(),
    notifyOutbox: Boolean(options.notify?.webhooks.length),
    onLog: (line) => process.stderr.write(`${line}\n`),
    poolSize: options.databasePool,
  });
  try {
    await reportStoredDocuments(store, options.log);
    return await listen(store, host, port, options, now);
  } catch (error) {
    await store.close();
    throw error;
  }
}

async function listen(store: ServerStore, host: string, port: number, options: ServerOptions, now: () => Date): Promise<RunningServer> {
  const router = new Router([...ROUTES]);
  const limits = { ...DEFAULT_RATE_LIMITS, ...options.rateLimit };
  const limiters = {
    token: limits.token ? new RateLimiter(limits.token) : undefined,
    device: limits.device ? new RateLimiter(limits.device) : undefined,
    enroll: limits.enroll ? new RateLimiter(limits.enroll) : undefined,
  };
  const writer = options.log === undefined ? new BatchedWriter((chunk) => process.stderr.write(chunk)) : undefined;
  const log: LogSink | undefined = options.log === false ? undefined : (options.log ?? writer!.line);
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  const t = options.timeouts ?? {};
  let closing = false;
  const tickMs = (options.tickSeconds ?? 30) * 1000;
  const android = options.android ? await startAndroid(store, options.android, tickMs, (line) => (log ? log(line) : void process.stderr.write(`${line}\n`))) : undefined;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res);
  };
  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key, connectionsCheckingInterval: 1000 }, handler)
    : createHttpServer({ connectionsCheckingInterval: 1000 }, handler);
  server.headersTimeout = t.headersMs ?? 10_000;
  server.requestTimeout = t.requestMs ?? 30_000;
  server.keepAliveTimeout = t.keepAliveMs ?? 5_000;

  function limit(limiter: RateLimiter | undefined, key: string, what: string): void {
    if (!limiter) return;
    const wait = limiter.take(key, Date.now());
    if (wait > 0) {
      throw new HttpError(429, 'rate_limited', `too many requests for this ${what}; retry after ${wait} s`, { 'retry-after': String(wait) });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const ip = clientAddress(req, options.trustedProxies);
    let bodyPromise: Promise<Record<string, unknown>> | undefined;
    const ctx: RequestContext = {
      req,
      res,
      method: req.method ?? 'GET',
      path,
      query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)),
      params: {},
      ip,
      store,
      notifyChannels: options.notify?.webhooks.length ?? 0,
      android,
      body: () => (bodyPromise ??= readJsonBody(req, bodyLimit)),
    };
    let errorCode: string | undefined;
    res.once('close', () => {
      // During shutdown, a connection whose last request just finished is idle: close it now
      // rather than after the keep-alive timeout.
      if (closing) setImmediate(() => server.closeIdleConnections());
      if (log && options.accessLog !== false) {
        const entry: AccessLogEntry = {
          time: new Date().toISOString(),
          method: ctx.method,
          path: loggablePath(rawUrl),
          status: res.writableFinished ? res.statusCode : 499,
          ms: Math.round((performance.now() - started) * 100) / 100,
          actor: ctx.actor?.name,
          ip,
        };
        if (errorCode) entry.error = errorCode;
        log(JSON.stringify(entry));
      }
    });
    try {
      const match = router.match(ctx.method, path);
      if (!match) throw new HttpError(404, 'not_found', `no route for ${ctx.method} ${path}; see GET /v1/openapi.json`);
      if (!('route' in match)) {
        throw new HttpError(405, 'invalid', `${ctx.method} is not allowed on ${path}; use ${match.allowed.join(', ')}`, { allow: match.allowed.join(', ') });
      }
      const { route } = match;
      ctx.params = match.params;
      if (route.limitByIp) limit(limiters.enroll, ip, 'client address');
      await authenticate(ctx, route.auth);
      if (ctx.token) limit(limiters.token, ctx.token.id, 'API token');
      else if (ctx.deviceId) limit(limiters.device, ctx.deviceId, 'device');
      const result = await route.handler(ctx);
      if (closing) res.shouldKeepAlive = false;
      if (result === NO_CONTENT) {
        res.writeHead(204, { 'cache-control': 'no-store' });
        res.end();
      } else {
        sendJson(res, 200, result);
      }
    } catch (error) {
      const { status, code, message, headers, hint, details } = toHttpError(error);
      errorCode = code;
      if (status >= 500 && log) {
        log(JSON.stringify({ time: new Date().toISOString(), level: 'error', method: ctx.method, path, message: errorText(error) }));
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (closing) res.shouldKeepAlive = false;
      sendJson(res, status, { error: { code, message, ...(hint ? { hint } : {}), ...details } }, headers);
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'address already in use' : error.code === 'EACCES' ? 'permission denied' : error.message;
      reject(new EmmctlError(`cannot listen on ${host}:${port}: ${reason}`, { hint: 'pick another address with --listen HOST:PORT (port 0 picks a free port)', cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      // After start-up (EMFILE and the like): log and keep serving rather than crash on an unhandled 'error'.
      server.on('error', (error) => log?.(JSON.stringify({ time: new Date().toISOString(), level: 'error', message: `server error: ${errorText(error)}` })));
      resolve();
    });
  });

  let notifier: import('./notify.js').Notifier | undefined;
  if (options.notify?.webhooks.length) {
    const { Notifier } = await import('./notify.js');
    notifier = new Notifier(store, options.notify, (message, level) => log?.(JSON.stringify({ time: new Date().toISOString(), level, message })));
    notifier.start();
  }

  // Reconcile passes are shared by every replica on the database (FleetService.reconcileShare):
  // each wakes when the store says work can be there (the next pass is due, or a dead holder's
  // page lease runs out), takes pages until none is left to hand out, and sleeps again. Waking
  // together at a pass's due time is what spreads a pass over the replicas; a little jitter keeps
  // them from all asking in the same millisecond.
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  let reconciling: Promise<void> | undefined;
  /** Woken while a share was running: look again as soon as it ends. */
  let again = false;
  let wake: NodeJS.Timeout | undefined;
  const schedule = (delayMs: number) => {
    if (closing) return;
    clearTimeout(wake);
    wake = setTimeout(reconcile, Math.max(0, Math.min(delayMs, tickMs)) + Math.random() * Math.min(100, tickMs / 20));
    wake.unref();
  };
  /** Since when reconcile has been failing (undefined while it works): a database outage fails every tick, said once. */
  let failingSince: number | undefined;
  const reconcile = () => {
    if (closing || reconciling) return;
    let delayMs = tickMs;
    reconciling = (async () => {
      try {
        const share = await store.reconcileShare(holder, { intervalMs: tickMs, shouldStop: () => closing });
        delayMs = share.wakeAt.getTime() - now().getTime();
        if (failingSince !== undefined) {
          const lasted = Date.now() - failingSince;
          failingSince = undefined;
          log?.(JSON.stringify({ time: new Date().toISOString(), level: 'info', message: `reconcile works again, after ${(lasted / 1000).toFixed(1)} s of failures` }));
        }
      } catch (error) {
        if (failingSince === undefined) {
          failingSince = Date.now();
          log?.(JSON.stringify({ time: new Date().toISOString(), level: 'error', message: `reconcile failed: ${errorText(error)}; trying again every ${tickMs / 1000} s, logged again when it works` }));
        }
      }
      notifier?.kick();
      const nowMs = Date.now();
      for (const limiter of Object.values(limiters)) limiter?.sweep(nowMs);
    })().finally(() => {
      reconciling = undefined;
      schedule(again ? 0 : delayMs);
      again = false;
    });
  };
  // The first run waits for the next turn so "listening" is not delayed by a large fleet.
  setImmediate(reconcile);
  android?.channel.start();

  // PostgreSQL: other replicas' transactions wake this one (a pass started, an event queued)
  // instead of it waiting for its timers, which stay the guarantee (src/store/repos/wake.ts).
  const channels = [RECONCILE_CHANNEL, ...(notifier ? [OUTBOX_CHANNEL] : [])];
  const listener = await store.engine.listen?.(channels, (channel) => {
    if (channel === OUTBOX_CHANNEL) notifier?.kick();
    else if (reconciling) again = true;
    else schedule(0);
  }).catch((error: unknown) => {
    log?.(JSON.stringify({ time: new Date().toISOString(), level: 'error', message: `cannot listen for wake-ups, polling only: ${errorText(error)}` }));
    return undefined;
  });

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  const url = `${options.tls ? 'https' : 'http'}://${shownHost}:${address.port}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        clearTimeout(wake);
        server.close(() => resolve());
        // Keep-alive connections with no request in flight would otherwise hold the server open.
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), t.shutdownMs ?? 10_000);
        force.unref();
      }).then(async () => {
        await listener?.close();
        await android?.channel.close();
        await notifier?.close();
        await reconciling;
        writer?.flush();
        await store.close();
      });
      return closed;
    },
  };
}

/** The channel's modules load only on a server that runs it (emmctl --help and plain servers stay lean). */
async function startAndroid(store: ServerStore, opts: AndroidServerOptions, tickMs: number, log: (line: string) => void): Promise<NonNullable<import('./router.js').RequestContext['android']>> {
  const [{ GoogleTokenSource, pushVerifier }, { AmapiClient }, { QuotaWindow }, { AndroidChannel }] = await Promise.all([
    import('../channels/android/auth.js'),
    import('../channels/android/client.js'),
    import('../channels/android/quota.js'),
    import('../service/android-channel.js'),
  ]);
  // One quota window for every call this process makes (sync, commands, tokens, pushes).
  const api = new AmapiClient({ endpoint: opts.endpoint, tokens: new GoogleTokenSource(opts.key), quota: new QuotaWindow(), log });
  const channel = new AndroidChannel({ enterprise: opts.enterprise, api, fleet: store, tickMs, log, subscription: opts.pubsub?.subscription, lookupDelayMs: opts.lookupDelayMs });
  const push = opts.pubsub ? pushVerifier({ audience: opts.pubsub.audience, email: opts.pubsub.serviceAccount, certsUrl: opts.pubsub.certsUrl }) : undefined;
  return push ? { channel, push } : { channel };
}

/**
 * Documents stored before the server validated applies (or edited in the database) may fail
 * today's checks: say which, once, at start. They stay stored; a CompliancePolicy among them
 * evaluates as `unknown` with the reason until it is fixed with apply.
 */
async function reportStoredDocuments(store: ServerStore, log: ServerOptions['log']): Promise<void> {
  const { checkDocuments, describeProblem } = await import('../policy/documents.js');
  const stored = await store.listResources();
  const { problems } = await checkDocuments(stored.map((r) => ({ label: `${r.kind}/${r.name}`, value: r.document })));
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length === 0) return;
  const write = log === false ? undefined : (log ?? ((line: string) => process.stderr.write(`${line}\n`)));
  const docs = new Set(errors.map((p) => p.file));
  for (const p of errors) {
    write?.(JSON.stringify({ time: new Date().toISOString(), level: 'warning', document: p.file, path: p.path, rule: p.rule, message: `stored ${p.file} does not validate: ${describeProblem(p)}` }));
  }
  write?.(JSON.stringify({
    time: new Date().toISOString(),
    level: 'warning',
    message: `${docs.size} stored document${docs.size === 1 ? '' : 's'} no longer validate${docs.size === 1 ? 's' : ''} (${[...docs].join(', ')}); devices under such a CompliancePolicy show compliance "unknown", and such a Group, Policy or EnrollmentProfile takes no part (matches no device, configures nothing) until it is fixed. Fix the files and run emmctl apply.`,
  }));
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body instanceof JsonText ? body.text : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function clientAddress(req: IncomingMessage, trusted: TrustedProxies | undefined): string {
  const peer = normalise(req.socket.remoteAddress ?? 'unknown');
  return trusted ? trusted.clientAddress(peer, req.headers['x-forwarded-for']) : peer;
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof BackendError) {
    const status = statusForBackendError(error);
    const headers: Record<string, string> = status === 429 || status === 503 ? { 'retry-after': '1' } : {};
    return new HttpError(status, error.code === 'protocol' ? 'unavailable' : error.code, error.message, headers, error.hint);
  }
  if (error instanceof UsageError) return new HttpError(400, 'invalid', error.message, {}, error.hint);
  if (error instanceof StoreUnavailableError) {
    // The engine's message names the database (host, user, file path): that is for the server log
    // (every 5xx is logged with it), not for whoever sent the request, who may be an unenrolled device.
    const message = error.outcome === 'unknown'
      ? 'the store went away while saving this request: it may or may not have been saved; retry it with the same idempotency key'
      : 'the store is unavailable; nothing was changed, retry shortly';
    return new HttpError(503, 'unavailable', message, { 'retry-after': String(error.retryAfterSeconds) });
  }
  return new HttpError(500, 'unavailable', 'internal server error; see the server log');
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
