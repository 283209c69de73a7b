// A small Microsoft Graph client: one axios instance with keep-alive, a timeout on every request,
// `@odata.nextLink` paging, JSON `$batch` (20 requests a batch), backoff on 429/503/504 honouring
// Retry-After (outer and per inner batch response), a client-side write limiter (Intune's
// configuration limit: 100 writes per 20 s per app per tenant), and Graph's error bodies turned
// into BackendErrors that carry Intune's nested message.
//
// Replay safety, as in the HTTP driver (src/backends/http/retry.ts, whose policy this reuses):
// - reads, PATCH, assign (it replaces the whole assignment set) and DELETE are safe to replay;
// - creates and device actions are not: retried only when Graph provably did not act (429, a
//   refused connection). A create whose answer is lost is found by name on the next plan; a
//   device action whose answer is lost is kept in the ledger as "may have been sent".
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { randomUUID } from 'node:crypto';
import axios, { type AxiosInstance } from 'axios';
import { BackendError, OutcomeUnknownError } from '../../errors.js';
import { decideRetry, DEFAULT_RETRY_POLICY, parseRetryAfter, sleep as realSleep, type AttemptFailure, type RetryClass, type RetryPolicy } from '../http/retry.js';

export type GraphVersion = 'v1.0' | 'beta';

export interface GraphRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path under the version root (`/deviceManagement/managedDevices`) or an absolute nextLink. */
  path: string;
  version?: GraphVersion;
  query?: Record<string, string | undefined>;
  body?: unknown;
  retry: RetryClass;
  /** What it does, for messages: "create group emmctl:corp". */
  action: string;
  /** Counts against the write limiter. */
  write?: boolean;
}

export interface GraphResponse<T = unknown> {
  status: number;
  body: T;
  headers: Record<string, string>;
}

export interface GraphClientOptions {
  graphEndpoint: string;
  token: () => Promise<string>;
  invalidateToken?: () => void;
  timeoutMs: number;
  retry?: Partial<RetryPolicy>;
  /** Writes per window (Intune's configuration limit). */
  writeLimit?: { writes: number; windowMs: number };
  sleep?: (ms: number) => Promise<void>;
  debug?: (line: string) => void;
}

/** Graph's error body: `{error: {code, message, innerError: {...}}}`; Intune nests its own JSON inside `message`. */
export function graphErrorMessage(text: string | undefined): { code?: string; message?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    return {};
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!error || typeof error !== 'object') return {};
  const code = typeof error.code === 'string' ? error.code : undefined;
  let message = typeof error.message === 'string' ? error.message : undefined;
  if (message) message = intuneInnerMessage(message) ?? message;
  return { code, message };
}

/**
 * Intune's errors arrive as `{"_version": 3, "Message": "An error has occurred - Operation ID
 * (for customer support): ... - Activity ID: ... - Url: ... ", "CustomApiErrorPhrase": "", ...}`
 * serialised into Graph's `message`; the useful part is Message up to the support ids, or the
 * CustomApiErrorPhrase when Intune gave one.
 */
function intuneInnerMessage(message: string): string | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  let inner: { Message?: unknown; CustomApiErrorPhrase?: unknown };
  try {
    inner = JSON.parse(message.slice(start));
  } catch {
    return undefined;
  }
  const phrase = typeof inner.CustomApiErrorPhrase === 'string' && inner.CustomApiErrorPhrase.trim() ? inner.CustomApiErrorPhrase.trim() : undefined;
  const said = typeof inner.Message === 'string' ? inner.Message.split(/ - Operation ID| - Activity ID/)[0]!.trim() : undefined;
  const prefix = message.slice(0, start).replace(/[:\s]+$/, '').trim();
  const text = phrase ?? said;
  if (!text) return undefined;
  return prefix && !text.startsWith(prefix) ? `${prefix}: ${text}` : text;
}

const MAX_BATCH = 20;

export class GraphClient {
  readonly root: string;
  private readonly http: AxiosInstance;
  private readonly httpAgent = new HttpAgent({ keepAlive: true });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true });
  private readonly policy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly writes: number[] = [];
  private readonly writeLimit: { writes: number; windowMs: number };
  /** Requests sent, for --debug and tests that count them. */
  requestCount = 0;

  constructor(private readonly options: GraphClientOptions) {
    this.root = options.graphEndpoint.replace(/\/+$/, '');
    this.policy = { ...DEFAULT_RETRY_POLICY, retries: 6, maxRetryAfterMs: 120_000, ...options.retry };
    this.sleep = options.sleep ?? realSleep;
    this.writeLimit = options.writeLimit ?? { writes: 100, windowMs: 20_000 };
    this.http = axios.create({
      timeout: options.timeoutMs,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      transformRequest: [(d: unknown) => d],
      maxRedirects: 0,
      headers: { accept: 'application/json', 'user-agent': `emmctl/${typeof EMMCTL_VERSION === 'string' ? EMMCTL_VERSION : 'dev'}` },
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** The URL of a request; a nextLink is taken only when it points into this Graph root (it carries our token). */
  url(path: string, version: GraphVersion = 'v1.0', query?: Record<string, string | undefined>): string {
    let url: URL;
    if (/^https?:\/\//i.test(path)) {
      url = new URL(path);
      if (`${url.protocol}//${url.host}` !== new URL(this.root).origin) {
        throw new BackendError('protocol', `Graph returned a link to another host (${url.host}); refusing to send the token there`);
      }
    } else {
      url = new URL(`${this.root}/${version}${path.startsWith('/') ? '' : '/'}${path}`);
    }
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    return url.toString();
  }

  /** Waits for the write limiter: at most N writes in any window, so Intune never has to throttle us for them. */
  private async writeSlot(): Promise<void> {
    const { writes, windowMs } = this.writeLimit;
    for (;;) {
      const now = Date.now();
      while (this.writes.length && this.writes[0]! <= now - windowMs) this.writes.shift();
      if (this.writes.length < writes) {
        this.writes.push(now);
        return;
      }
      await this.sleep(this.writes[0]! + windowMs - now + 5);
    }
  }

  async request<T = unknown>(r: GraphRequest): Promise<GraphResponse<T>> {
    const url = this.url(r.path, r.version, r.query);
    const shown = shortPath(url, this.root);
    let maybeDone = false;
    let refreshedToken = false;
    for (let attempt = 1; ; attempt++) {
      if (r.write) await this.writeSlot();
      const headers: Record<string, string> = { authorization: `Bearer ${await this.options.token()}`, 'client-request-id': randomUUID() };
      let data: string | undefined;
      if (r.body !== undefined) {
        data = JSON.stringify(r.body);
        headers['content-type'] = 'application/json';
      }
      const started = Date.now();
      let failure: AttemptFailure;
      this.requestCount++;
      try {
        const res = await this.http.request({ method: r.method, url, headers, data });
        this.options.debug?.(`${r.method} ${shown} ${res.status} ${Date.now() - started}ms`);
        const text = typeof res.data === 'string' ? res.data : '';
        const resHeaders = lowerHeaders(res.headers as Record<string, unknown>);
        if (res.status >= 200 && res.status < 300) {
          let body: unknown = undefined;
          if (text.trim()) {
            try {
              body = JSON.parse(text);
            } catch {
              throw new BackendError('protocol', `Graph answered ${r.method} ${shown} (${r.action}) with a body that is not JSON (HTTP ${res.status})`);
            }
          }
          return { status: res.status, body: body as T, headers: resHeaders };
        }
        if (res.status === 401 && !refreshedToken) {
          refreshedToken = true;
          this.options.invalidateToken?.();
          attempt--;
          continue;
        }
        failure = { kind: 'status', status: res.status, retryAfter: resHeaders['retry-after'] };
        // Graph's 503/504 can come after the work was done; its 429 never does.
        if (res.status === 503 || res.status === 504 || res.status === 502) maybeDone = true;
        const decision = decideRetry(failure, r.retry, attempt, this.policy, { nowMs: Date.now(), random: Math.random });
        if (decision.retry) {
          this.options.debug?.(`retry ${r.method} ${shown} in ${decision.delayMs}ms (HTTP ${res.status})`);
          await this.sleep(decision.delayMs);
          continue;
        }
        if (maybeDone && r.retry === 'unsafe') throw this.lost(r, shown, `HTTP ${res.status}`, attempt);
        throw statusError(r, shown, res.status, text, attempt, decision.retryAfterMs);
      } catch (error) {
        if (error instanceof BackendError || error instanceof OutcomeUnknownError) throw error;
        const e = error as { code?: string; message?: string };
        failure = e.code === 'ECONNABORTED' || /timeout/i.test(e.message ?? '') ? { kind: 'timeout' } : { kind: 'network', code: e.code ?? 'ERROR' };
        this.options.debug?.(`${r.method} ${shown} failed: ${failure.kind === 'network' ? failure.code : 'timeout'} ${Date.now() - started}ms`);
        const sentMaybe = failure.kind === 'timeout' || (failure.kind === 'network' && !['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(failure.code));
        if (sentMaybe) maybeDone = true;
        const decision = decideRetry(failure, r.retry, attempt, this.policy, { nowMs: Date.now(), random: Math.random });
        if (decision.retry) {
          await this.sleep(decision.delayMs);
          continue;
        }
        if (maybeDone && r.method !== 'GET') throw this.lost(r, shown, failure.kind === 'timeout' ? `no answer within ${this.options.timeoutMs} ms` : failure.code, attempt);
        const what = failure.kind === 'timeout' ? `did not answer within ${this.options.timeoutMs} ms` : `cannot be reached: ${failure.code}`;
        throw new BackendError('unavailable', `Microsoft Graph at ${this.root} ${what} (${r.method} ${shown}, ${r.action})`, { hint: 'check the network (and --graph-endpoint of the context); retry later' });
      }
    }
  }

  private lost(r: GraphRequest, shown: string, why: string, attempts: number): OutcomeUnknownError {
    return new OutcomeUnknownError(`the request to ${r.action} may or may not have been carried out: the answer from Graph to ${r.method} ${shown} was lost (${why}${attempts > 1 ? `, ${attempts} attempts` : ''})`, {
      hint: 'run `emmctl plan` (or `emmctl commands list`) to see what happened; running it again is safe',
    });
  }

  async get<T = unknown>(path: string, opts: { version?: GraphVersion; query?: Record<string, string | undefined>; action: string }): Promise<T> {
    return (await this.request<T>({ method: 'GET', path, version: opts.version, query: opts.query, retry: 'safe', action: opts.action })).body;
  }

  /** Every item of a collection, following `@odata.nextLink`; one page in memory at a time. */
  async *pages<T>(path: string, opts: { version?: GraphVersion; query?: Record<string, string | undefined>; action: string }): AsyncGenerator<{ items: T[]; nextLink?: string }> {
    let next: string | undefined = this.url(path, opts.version, opts.query);
    while (next) {
      const body: { value?: T[]; '@odata.nextLink'?: string } = await this.get(next, { action: opts.action });
      if (!body || !Array.isArray(body.value)) throw new BackendError('protocol', `Graph answered ${shortPath(next, this.root)} without a "value" list (${opts.action})`);
      next = typeof body['@odata.nextLink'] === 'string' ? body['@odata.nextLink'] : undefined;
      yield { items: body.value, nextLink: next };
    }
  }

  async all<T>(path: string, opts: { version?: GraphVersion; query?: Record<string, string | undefined>; action: string }): Promise<T[]> {
    const out: T[] = [];
    for await (const page of this.pages<T>(path, opts)) out.push(...page.items);
    return out;
  }

  /**
   * JSON batching: up to 20 requests per `$batch`, each inner response handled on its own. An
   * inner 429 (or 503/504 for requests safe to replay) is sent again after its own Retry-After;
   * the others keep their answers. Results come back in request order.
   */
  async batch(requests: Array<Omit<GraphRequest, 'path'> & { path: string }>, version: GraphVersion = 'v1.0'): Promise<Array<GraphResponse | BackendError | OutcomeUnknownError>> {
    const results: Array<GraphResponse | BackendError | OutcomeUnknownError | undefined> = new Array(requests.length);
    for (let start = 0; start < requests.length; start += MAX_BATCH) {
      let pending = requests.slice(start, start + MAX_BATCH).map((r, i) => ({ r, index: start + i, attempt: 1 }));
      while (pending.length) {
        for (const p of pending) if (p.r.write) await this.writeSlot();
        const body = {
          requests: pending.map((p) => ({
            id: String(p.index),
            method: p.r.method,
            url: relativeUrl(this.url(p.r.path, version, p.r.query), this.root, version),
            ...(p.r.body !== undefined ? { body: p.r.body, headers: { 'content-type': 'application/json' } } : {}),
          })),
        };
        // The batch envelope itself is replay-safe only when every request in it is.
        const envelopeRetry: RetryClass = pending.every((p) => p.r.retry === 'safe') ? 'safe' : 'unsafe';
        const res = await this.request<{ responses?: Array<{ id: string; status: number; headers?: Record<string, string>; body?: unknown }> }>({
          method: 'POST', path: '/$batch', version, body, retry: envelopeRetry, action: `send a batch of ${pending.length} requests`,
        });
        const byId = new Map((res.body?.responses ?? []).map((x) => [x.id, x]));
        const again: typeof pending = [];
        let wait = 0;
        for (const p of pending) {
          const inner = byId.get(String(p.index));
          const shown = shortPath(this.url(p.r.path, version, p.r.query), this.root);
          if (!inner) {
            results[p.index] = p.r.retry === 'safe' ? new BackendError('protocol', `Graph's batch answer has no response for ${p.r.method} ${shown}`) : this.lost(p.r, shown, 'no inner response in the batch answer', p.attempt);
            continue;
          }
          if (inner.status >= 200 && inner.status < 300) {
            results[p.index] = { status: inner.status, body: inner.body, headers: lowerHeaders(inner.headers ?? {}) };
            continue;
          }
          const headers = lowerHeaders(inner.headers ?? {});
          const failure: AttemptFailure = { kind: 'status', status: inner.status, retryAfter: headers['retry-after'] };
          const decision = decideRetry(failure, p.r.retry, p.attempt, this.policy, { nowMs: Date.now(), random: Math.random });
          if (decision.retry) {
            wait = Math.max(wait, decision.delayMs);
            again.push({ ...p, attempt: p.attempt + 1 });
            continue;
          }
          const text = typeof inner.body === 'string' ? inner.body : JSON.stringify(inner.body ?? {});
          // A server error on a request that must not run twice (a wipe) may have come after the work: not a failure, an unknown.
          results[p.index] = inner.status >= 500 && p.r.retry === 'unsafe' ? this.lost(p.r, shown, `HTTP ${inner.status}`, p.attempt) : statusError(p.r, shown, inner.status, text, p.attempt, decision.retryAfterMs);
        }
        if (again.length) {
          this.options.debug?.(`batch: ${again.length} throttled request${again.length === 1 ? '' : 's'} again in ${wait}ms`);
          await this.sleep(wait);
        }
        pending = again;
      }
    }
    return results as Array<GraphResponse | BackendError | OutcomeUnknownError>;
  }
}

function lowerHeaders(h: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (typeof v === 'string' || typeof v === 'number') out[k.toLowerCase()] = String(v);
  return out;
}

function shortPath(url: string, root: string): string {
  const u = new URL(url);
  const base = new URL(root).pathname.replace(/\/+$/, '');
  return u.pathname.startsWith(base) ? u.pathname.slice(base.length) || '/' : u.pathname;
}

function relativeUrl(url: string, root: string, version: GraphVersion): string {
  const u = new URL(url);
  const prefix = `${new URL(root).pathname.replace(/\/+$/, '')}/${version}`;
  const path = u.pathname.startsWith(prefix) ? u.pathname.slice(prefix.length) : u.pathname;
  return `${path}${u.search}`;
}

export function statusError(r: Pick<GraphRequest, 'method' | 'action'>, shown: string, status: number, text: string, attempts: number, retryAfterMs?: number): BackendError {
  const { code, message } = graphErrorMessage(text);
  const said = message ? `: ${message}` : '';
  const at = `${r.method} ${shown}`;
  const make = (c: ConstructorParameters<typeof BackendError>[0], m: string, hint?: string) => new BackendError(c, m, { status, hint });
  switch (status) {
    case 400:
      return make('invalid', `Graph refused to ${r.action} (${at}, ${code ?? 'BadRequest'})${said}`);
    case 401:
      return make('unauthorized', `Graph refused the token to ${r.action} (${at})${said}`, 'check the app registration\'s credential (docs/intune.md)');
    case 403:
      return make('forbidden', `the app is not allowed to ${r.action} (${at})${said}`, 'grant the app the Graph application permission this needs and an admin consent (docs/intune.md lists them per command)');
    case 404:
      return make('not_found', `not found in Intune: ${at}${said}`);
    case 409:
    case 412:
      return make('conflict', `Graph refused to ${r.action}: it changed meanwhile (${at})${said}`, 'run `emmctl plan` again');
    case 429: {
      const wait = retryAfterMs !== undefined ? `; Graph asks to wait ${Math.round(retryAfterMs / 100) / 10} s` : '';
      return make('rate_limited', `throttled by Graph on ${at} after ${attempts} attempt${attempts === 1 ? '' : 's'}${wait}`, 'retry later; Intune allows 100 configuration writes per 20 s per app and tenant');
    }
    default:
      if (status >= 500) return make('unavailable', `Graph failed to ${r.action} with HTTP ${status}${attempts > 1 ? ` after ${attempts} attempts` : ''} (${at})${said}`, 'retry later');
      return make('protocol', `unexpected HTTP ${status} from Graph to ${at} (${r.action})${said}`);
  }
}

export { parseRetryAfter };
