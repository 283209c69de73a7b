// The HTTP driver: the Backend interface over `emmctl server`'s admin REST API (/v1/...).
// One axios instance with keep-alive; every request has a timeout; failed attempts are retried
// by the policy in retry.ts (backoff with jitter, Retry-After honoured and capped); every failure
// becomes a BackendError that names the server and the request and says what to do next.
//
// Replay safety, per request (see RetryClass):
// - GETs, revoke, cancel and preregister (an upsert by serial) are safe to replay;
// - command enqueues carry an Idempotency-Key, one UUID per logical call reused on every attempt:
//   the server answers a replay with the first result instead of queueing again;
// - apply carries a key too: the server answers a replay of an apply that landed with its first
//   result (and versions guard it anyway: every change names the version it expects);
// - any write (POST) whose attempts may have reached the server without an answer coming back
//   (timeout, dropped connection, gateway error) ends in OutcomeUnknownError (exit 7): it may
//   have happened, and each call says what may have happened and what to do (Call.ifLost);
// - creating enrollment or API tokens is not replay-safe: retried only when the server provably
//   did not see it (connection refused, 429 from the rate limiter).
import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { UsageError, type BackendError } from '../../errors.js';
import { formatDeviceFilter } from '../../model/filter.js';
import { parseLinedPage } from '../../model/page-lines.js';
import type { AuditRecord, Device, DeviceCommand, DeviceCompliance, EnrollmentToken, Page, StoredResource } from '../../model/fleet.js';
import type { ResourceKind } from '../../model/policy.generated.js';
import type { ApiRole, ApiTokenInfo } from '../../model/access.js';
import type {
  ApiTokenAdmin,
  AppliedChange,
  ApplyOptions,
  AuditQuery,
  Backend,
  BackendIdentity,
  CommandQuery,
  CreatedEnrollmentToken,
  DeviceDetail,
  ComplianceQuery,
  DeviceQuery,
  EnqueueRequest,
  EnqueueResult,
  PreregisteredDevice,
  ResourceChange,
} from '../backend.js';
import { outcomeUnknownError, parseErrorBody, protocolError, redact, statusError, timeoutError, unreachableError, type IfLost, type RequestLine } from './errors.js';
import { DEFAULT_RETRY_POLICY, decideRetry, mayHaveBeenProcessed, sleep as realSleep, type AttemptFailure, type RetryClass, type RetryPolicy } from './retry.js';
import { anyValue, listIn, object, page, type ShapeCheck } from './shape.js';
import { displayUrl, normalizeServerUrl } from './url.js';

export { normalizeServerUrl } from './url.js';

export interface HttpBackendOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8787 (a path prefix is kept). */
  server: string;
  /** API token (Bearer). Never logged, never put in a message. */
  token?: string;
  /** Per attempt. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Injected by tests to observe backoff without waiting. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** One line per request and retry (method, path, status, time); never headers or bodies. */
  debug?: (line: string) => void;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** GET /v1/whoami: the token's name and role, and what the server says about itself. */
type Whoami = { name: string; role: ApiRole; storeId?: string } & Record<string, unknown>;

interface Call {
  method: 'GET' | 'POST';
  path: string;
  query?: URLSearchParams;
  body?: unknown;
  retry: RetryClass;
  action: string;
  shape: ShapeCheck;
  /** Parses the body ahead of JSON.parse; undefined hands it to JSON.parse. */
  parse?: (text: string) => unknown;
  /** Sent as Idempotency-Key on every attempt. */
  idempotencyKey?: string;
  /** For a write: what it may have done if its answer is lost, and what to do (see OutcomeUnknownError). */
  ifLost?: IfLost;
}

export async function openHttpBackend(options: HttpBackendOptions): Promise<HttpBackend> {
  return new HttpBackend(options);
}

export class HttpBackend implements Backend, ApiTokenAdmin {
  readonly kind = 'http';
  readonly location: string;
  private readonly base: string;
  private readonly token?: string;
  private readonly timeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly debug?: (line: string) => void;
  private readonly httpAgent = new HttpAgent({ keepAlive: true });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true });
  private readonly http: AxiosInstance;
  private role?: Promise<string | undefined>;
  /** The one whoami of this backend's life (a command run): plan and apply ask it several things. */
  private me?: Promise<Whoami>;

  constructor(options: HttpBackendOptions) {
    this.base = normalizeServerUrl(options.server);
    this.location = displayUrl(this.base);
    this.token = checkToken(options.token);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
    this.debug = options.debug;
    this.http = axios.create({
      baseURL: this.base,
      timeout: this.timeoutMs,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      // Every status comes back as a response; bodies stay text so garbage is ours to diagnose.
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      transformRequest: [(data: unknown) => data],
      // A redirect would turn a POST into a GET; better to say where the server moved.
      maxRedirects: 0,
      headers: { accept: 'application/json', 'user-agent': `emmctl/${typeof EMMCTL_VERSION === 'string' ? EMMCTL_VERSION : 'dev'}` },
    });
  }

  // ---- resources ----

  async identity(): Promise<BackendIdentity> {
    const me = await this.whoami();
    if (typeof me.storeId !== 'string' || me.storeId === '') {
      throw redact(protocolError(this.location, { method: 'GET', path: '/v1/whoami', action: 'identify itself' }, 200, 'no storeId (an older emmctl server?)'), this.token);
    }
    return { kind: this.kind, location: this.location, storeId: me.storeId };
  }

  async sealPlan(digest: string): Promise<string> {
    // A pure function of the digest on the server: replaying it is harmless.
    const r = await this.call<{ seal: string }>({ method: 'POST', path: '/v1/plans/seal', body: { digest }, retry: 'safe', action: 'seal plans', shape: object('seal') });
    return r.seal;
  }

  async listResources(kind?: ResourceKind): Promise<StoredResource[]> {
    const query = new URLSearchParams();
    if (kind) query.set('kind', kind);
    const r = await this.call<{ items: StoredResource[] }>({ method: 'GET', path: '/v1/resources', query, retry: 'safe', action: 'read resources', shape: listIn('items', object('kind', 'name', 'version')) });
    return r.items;
  }

  async applyChanges(changes: ResourceChange[], opts: ApplyOptions = {}): Promise<AppliedChange[]> {
    const prune = opts.prune || undefined;
    const r = await this.call<{ applied: AppliedChange[] }>({
      method: 'POST',
      path: '/v1/resources/apply',
      body: { changes, prune },
      retry: 'keyed',
      idempotencyKey: opts.idempotencyKey || randomUUID(),
      ifLost: {
        what: `the changes may have been applied on ${this.location}; re-run \`emmctl plan\` to see`,
        hint: '`emmctl plan` shows what is left to change; applying again is safe (every change is guarded by its version)',
      },
      action: changes.some((c) => c.op === 'delete') ? 'apply changes that delete resources' : 'apply changes',
      shape: listIn('applied', object('op', 'kind', 'name')),
    });
    return r.applied;
  }

  // ---- enrollment ----

  createEnrollmentToken(input: { profile: string; expiresInSeconds?: number; maxUses?: number }): Promise<CreatedEnrollmentToken> {
    return this.call({
      method: 'POST',
      path: '/v1/enrollment-tokens',
      body: input,
      retry: 'unsafe',
      action: 'create enrollment tokens',
      shape: object('token', 'secret'),
      ifLost: {
        what: `an enrollment token for profile "${input.profile}" may have been created, but its secret was lost with the answer`,
        hint: 'list the tokens with `emmctl enroll token list`, revoke one nobody can use with `emmctl enroll token revoke ID`, then create a new one',
      },
    });
  }

  async listEnrollmentTokens(): Promise<EnrollmentToken[]> {
    const r = await this.call<{ items: EnrollmentToken[] }>({ method: 'GET', path: '/v1/enrollment-tokens', retry: 'safe', action: 'list enrollment tokens', shape: listIn('items', object('id', 'profile')) });
    return r.items;
  }

  revokeEnrollmentToken(id: string): Promise<EnrollmentToken> {
    return this.call({ method: 'POST', path: `/v1/enrollment-tokens/${seg(id)}/revoke`, retry: 'safe', action: 'revoke enrollment tokens', shape: object('id', 'revoked'), ifLost: AGAIN(`enrollment token ${id} may have been revoked`) });
  }

  preregisterDevices(rows: PreregisteredDevice[]): Promise<{ created: number; updated: number }> {
    return this.call({ method: 'POST', path: '/v1/devices/preregister', body: { devices: rows }, retry: 'safe', action: 'preregister devices', shape: object('created', 'updated'), ifLost: AGAIN(`the ${rows.length} devices may have been imported`) });
  }

  // ---- devices ----

  listDevices(query: DeviceQuery): Promise<Page<Device>> {
    return this.call({ method: 'GET', path: '/v1/devices', query: deviceQuery(query), retry: 'safe', action: 'list devices', shape: page(object('id', 'platform')) });
  }

  getDevice(id: string): Promise<DeviceDetail> {
    return this.call({ method: 'GET', path: `/v1/devices/${seg(id)}`, retry: 'safe', action: 'read devices', shape: object('id', 'platform', 'compliance') });
  }

  listCompliance(query: ComplianceQuery): Promise<Page<DeviceCompliance>> {
    const q = deviceQuery(query);
    if (query.at !== undefined) q.set('at', query.at);
    return this.call({ method: 'GET', path: '/v1/compliance', query: q, retry: 'safe', action: 'read compliance', shape: page(object('deviceId', 'status')), parse: parseLinedPage });
  }

  releaseDevice(id: string, opts: { expiresInSeconds?: number } = {}): Promise<Device> {
    // Safe to repeat: a second release only restarts the window.
    return this.call({ method: 'POST', path: `/v1/devices/${seg(id)}/release`, body: opts, retry: 'safe', action: 'release devices for re-enrollment', shape: object('id', 'state') });
  }

  // ---- commands ----

  enqueueCommands(request: EnqueueRequest): Promise<EnqueueResult> {
    const { idempotencyKey, ...body } = request;
    return this.call({
      method: 'POST',
      path: '/v1/commands',
      body,
      retry: 'keyed',
      idempotencyKey: idempotencyKey || randomUUID(),
      action: `send ${request.type} commands`,
      shape: listIn('results', object('deviceId', 'outcome')),
      // A re-run sends a new key, but finds the commands pending and does not queue them again.
      ifLost: {
        what: `${request.deviceIds.length} ${request.type} command${request.deviceIds.length === 1 ? '' : 's'} may have been queued; running it again is safe`,
        hint: `a device that already has a ${request.type} pending is reported "already pending", not queued twice; see them with \`emmctl commands list --type ${request.type} --status queued\``,
      },
    });
  }

  listCommands(query: CommandQuery): Promise<Page<DeviceCommand>> {
    return this.call({ method: 'GET', path: '/v1/commands', query: params(query), retry: 'safe', action: 'list commands', shape: page(object('id', 'status')) });
  }

  getCommand(id: string): Promise<DeviceCommand> {
    return this.call({ method: 'GET', path: `/v1/commands/${seg(id)}`, retry: 'safe', action: 'read commands', shape: object('id', 'status') });
  }

  cancelCommand(id: string): Promise<DeviceCommand> {
    return this.call({ method: 'POST', path: `/v1/commands/${seg(id)}/cancel`, retry: 'safe', action: 'cancel commands', shape: object('id', 'status'), ifLost: AGAIN(`command ${id} may have been cancelled`) });
  }

  // ---- audit ----

  listAudit(query: AuditQuery): Promise<Page<AuditRecord>> {
    return this.call({ method: 'GET', path: '/v1/audit', query: params(query), retry: 'safe', action: 'read the audit log', shape: page(object('id', 'action')) });
  }

  // ---- beyond Backend: who am I, API tokens (server only) ----

  /** A server older than notification channels reports none: it has none. */
  async notifyChannels(): Promise<number> {
    const n = (await this.whoami()).notifyChannels;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 0;
  }

  /** Asked of the server once per backend; a failure is not kept, so a later caller asks again. */
  whoami(): Promise<Whoami> {
    if (!this.me) {
      const asked = this.call<Whoami>({ method: 'GET', path: '/v1/whoami', retry: 'safe', action: 'identify itself', shape: object('role') });
      this.me = asked;
      asked.catch(() => {
        if (this.me === asked) this.me = undefined;
      });
    }
    return this.me;
  }

  async listApiTokens(): Promise<ApiTokenInfo[]> {
    const r = await this.call<{ items: ApiTokenInfo[] }>({ method: 'GET', path: '/v1/tokens', retry: 'safe', action: 'list API tokens', shape: listIn('items', object('id', 'role')) });
    return r.items;
  }

  createApiToken(input: { name: string; role: ApiRole; expiresInSeconds?: number }): Promise<{ token: ApiTokenInfo; secret: string }> {
    return this.call({
      method: 'POST',
      path: '/v1/tokens',
      body: input,
      retry: 'unsafe',
      action: 'create API tokens',
      shape: object('token', 'secret'),
      ifLost: {
        what: `API token "${input.name}" may have been created, but its secret was lost with the answer`,
        hint: 'list the tokens with `emmctl server token list`, revoke that one with `emmctl server token revoke ID`, then create a new one',
      },
    });
  }

  revokeApiToken(id: string): Promise<ApiTokenInfo> {
    return this.call({ method: 'POST', path: `/v1/tokens/${seg(id)}/revoke`, retry: 'safe', action: 'revoke API tokens', shape: object('id'), ifLost: AGAIN(`API token ${id} may have been revoked`) });
  }

  async healthz(): Promise<unknown> {
    return this.call({ method: 'GET', path: '/healthz', retry: 'safe', action: 'report health', shape: anyValue });
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  // ---- the request loop ----

  private async call<T>(c: Call): Promise<T> {
    const line: RequestLine = { method: c.method, path: c.path, action: c.action };
    const qs = c.query && [...c.query.keys()].length ? `?${c.query.toString()}` : '';
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (c.idempotencyKey) headers['idempotency-key'] = c.idempotencyKey;
    let data: string | undefined;
    if (c.body !== undefined) {
      data = JSON.stringify(c.body);
      headers['content-type'] = 'application/json';
    }
    // Whether an attempt of this write may have been carried out without its answer reaching us.
    let maybeDone = false;
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      let failure: AttemptFailure;
      let response: AxiosResponse<string> | undefined;
      try {
        response = await this.http.request<string>({ method: c.method, url: c.path + qs, data, headers });
      } catch (error) {
        failure = classifyThrown(error);
      }
      if (response) {
        this.debug?.(`http: ${c.method} ${c.path}${qs} → ${response.status} (${Date.now() - started} ms)`);
        if (response.status >= 200 && response.status < 300) return this.parseSuccess<T>(c, line, response);
        if (response.status >= 300 && response.status < 400) {
          const to = header(response, 'location');
          throw redact(protocolError(this.location, line, response.status, `redirected${to ? ` to ${to}` : ''}; use the final URL as the server address`), this.token);
        }
        failure = { kind: 'status', status: response.status, retryAfter: header(response, 'retry-after') };
      } else {
        this.debug?.(`http: ${c.method} ${c.path}${qs} → ${describeFailure(failure!)} (${Date.now() - started} ms)`);
      }
      if (c.method !== 'GET' && mayHaveBeenProcessed(failure!, Boolean(parseErrorBody(response?.data)))) maybeDone = true;
      const decision = decideRetry(failure!, c.retry, attempt, this.policy, { nowMs: Date.now(), random: this.random });
      if (decision.retry) {
        this.debug?.(`http: retrying ${c.method} ${c.path} in ${decision.delayMs} ms (attempt ${attempt + 1} of ${this.policy.retries + 1})`);
        await this.sleep(decision.delayMs);
        continue;
      }
      // A definite refusal of this same request (4xx) also tells what an earlier lost attempt did; anything else does not.
      const refused = failure!.kind === 'status' && failure!.status < 500 && failure!.status !== 429;
      // Built from the URL, the request line and our own words only: no token can be in it.
      if (maybeDone && !refused) throw outcomeUnknownError(this.location, line, describeLoss(failure!, this.timeoutMs), attempt, c.ifLost);
      throw redact(await this.failureError(failure!, line, response, attempt, decision.retryAfterMs), this.token);
    }
  }

  private parseSuccess<T>(c: Call, line: RequestLine, response: AxiosResponse<string>): T {
    if (response.status === 204) {
      if (c.shape === anyValue) return undefined as T;
      throw protocolError(this.location, line, 204, 'no content where a JSON body was expected');
    }
    let body: unknown = c.parse?.(response.data);
    if (body === undefined) try {
      body = JSON.parse(response.data);
    } catch {
      const type = header(response, 'content-type') ?? 'no content type';
      throw redact(protocolError(this.location, line, response.status, `the body is not JSON (${type}, ${Buffer.byteLength(response.data ?? '')} bytes)`), this.token);
    }
    const problem = c.shape(body);
    if (problem) throw redact(protocolError(this.location, line, response.status, problem), this.token);
    return body as T;
  }

  private async failureError(failure: AttemptFailure, line: RequestLine, response: AxiosResponse<string> | undefined, attempts: number, retryAfterMs?: number): Promise<BackendError> {
    if (failure.kind === 'timeout') return timeoutError(this.location, this.timeoutMs, line);
    if (failure.kind === 'network') return unreachableError(this.location, failure.code, line, attempts);
    const body = parseErrorBody(response?.data);
    // A 404 without our error body is not our server (wrong URL, a proxy): say so rather than "not found".
    if (!body && failure.status === 404) {
      return protocolError(this.location, line, 404, `no such route — is ${this.location} an emmctl server (and not a path below one)?`);
    }
    const role = failure.status === 403 ? await this.lookupRole() : undefined;
    return statusError({ server: this.location, req: line, status: failure.status, body, hasToken: Boolean(this.token), role, retryAfterMs, attempts, replayed: attempts > 1 });
  }

  /** After a 403, the role makes the message precise; a failure here must not hide the 403. */
  private lookupRole(): Promise<string | undefined> {
    // Known already when whoami was asked (a failed one is not kept, see whoami).
    if (this.me) return this.me.then((m) => m.role, () => undefined);
    this.role ??= this.http
      .get<string>('/v1/whoami', { headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, timeout: Math.min(this.timeoutMs, 5_000) })
      .then((r) => {
        if (r.status !== 200) return undefined;
        const role = (JSON.parse(r.data) as { role?: unknown }).role;
        return typeof role === 'string' ? role : undefined;
      })
      .catch(() => undefined);
    return this.role;
  }
}

/** A pasted token often carries a newline; anything else outside visible ASCII cannot go in a header. */
function checkToken(token: string | undefined): string | undefined {
  const t = token?.trim();
  if (!t) return undefined;
  if (!/^[\x21-\x7e]+$/.test(t)) {
    throw new UsageError('the API token contains spaces or characters that cannot be sent in a header', 'check EMMCTL_TOKEN (or the context) for a pasted extra character; the token itself is not shown');
  }
  return t;
}

function classifyThrown(error: unknown): AttemptFailure {
  if (axios.isAxiosError(error)) {
    const code = error.code ?? 'ERR_NETWORK';
    if (code === 'ECONNABORTED' || (code === 'ETIMEDOUT' && /timeout/i.test(error.message))) return { kind: 'timeout' };
    // axios wraps some socket errors; the original errno code is on the cause.
    const cause = (error as { cause?: { code?: unknown } }).cause;
    return { kind: 'network', code: code === 'ERR_NETWORK' && typeof cause?.code === 'string' ? cause.code : code };
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  return { kind: 'network', code: typeof code === 'string' ? code : 'ERR_NETWORK' };
}

/** For a write that is safe to send again: what it may have done, and that re-running is fine. */
const AGAIN = (what: string): IfLost => ({ what: `${what}; running it again is safe`, hint: 'it has no further effect once done' });

function describeLoss(f: AttemptFailure, timeoutMs: number): string {
  if (f.kind === 'timeout') return `no answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 100) / 10} s` : `${timeoutMs} ms`}`;
  if (f.kind === 'network') return `connection ${f.code === 'ECONNRESET' ? 'dropped' : 'failed'}: ${f.code}`;
  return `HTTP ${f.status}`;
}

function describeFailure(f: AttemptFailure): string {
  return f.kind === 'timeout' ? 'timeout' : f.kind === 'network' ? f.code : String(f.status);
}

function header(response: AxiosResponse, name: string): string | undefined {
  const v = response.headers[name];
  return v === undefined || v === null ? undefined : String(v);
}

const seg = (id: string) => encodeURIComponent(id);

function deviceQuery(q: DeviceQuery): URLSearchParams {
  const p = new URLSearchParams();
  for (const f of q.filters ?? []) p.append('filter', formatDeviceFilter(f));
  if (q.sort) p.set('sort', q.sort);
  if (q.limit !== undefined) p.set('limit', String(q.limit));
  if (q.cursor) p.set('cursor', q.cursor);
  return p;
}

function params(q: object): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  return p;
}
