// The HTTP client of Google's Android Management API (v1): one method per call the Android
// channel makes, each sent with the service account's bearer token, within the client-side quota
// window, under a deadline, and read back checked: a body out of shape is a protocol error, not a
// guess.
//
// Retries, by what a second send can do:
//   reads (GET)                              retried on 429 / RESOURCE_EXHAUSTED, ABORTED, 5xx and
//                                            transport errors, with backoff (Retry-After honoured)
//   idempotent writes (policies.patch,       the same: sending one again leaves Google as one send
//   devices.patch, every delete)             would. A delete by name cannot act twice: a deleted
//                                            device, policy or token is gone (404), and a device
//                                            that enrolls again gets a new name
//   creates (signupUrls, enterprises,        only when Google provably did not act (429, ABORTED,
//   enrollmentTokens)                        a connection that never took the request)
//   issueCommand                             never: the caller's command ledger decides, after
//                                            looking the operation up
// Every failure is an AmapiCallError whose `outcome` says whether the call may have changed
// something at Google ('unknown': the request was written out in full and no answer came, or a
// 5xx / unreadable answer followed a write) — a caller must look the result up before sending a
// non-idempotent write again. A read never changes anything: its outcome is always 'not-sent'.
import { BackendError, EmmctlError, UsageError, type BackendErrorCode } from '../../errors.js';
import type { AmapiPolicy } from './amapi-types.js';
import type { AmapiEnrollmentTokenRequest } from './enrollment.js';
import { backoffMs, parseAmapiError, toBackendError, transportFailure, type AmapiError } from './errors.js';
import { exchange, TransportError } from './http.js';
import type { QuotaWindow } from './quota.js';
import { endpointProblem } from './auth.js';

export const AMAPI_ENDPOINT = 'https://androidmanagement.googleapis.com/';

export interface AmapiClientOptions {
  /** Default https://androidmanagement.googleapis.com/ (--amapi-endpoint). */
  endpoint?: string;
  /** `invalidate`, when given, is called after a 401 so the next call gets a fresh token. */
  tokens: { token(): Promise<string>; invalidate?(): void };
  /** Client-side limiter (quota.ts), shared by all calls of the process. */
  quota?: QuotaWindow;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Deadline of one HTTP exchange (default 30 s). */
  timeoutMs?: number;
  /** Sends of one call, the first included (default 5). */
  maxAttempts?: number;
  /** One JSON line per retry or quota wait: no secrets, no bodies. */
  log?: (line: string) => void;
  /** For the backoff's jitter (tests). */
  random?: () => number;
}

export type Operation = { name: string; done?: boolean; error?: unknown; metadata?: Record<string, unknown>; response?: unknown };

export type CallOutcome = 'not-sent' | 'unknown';

/** A failed AMAPI call: `amapi` is Google's answer as classified by errors.ts; `outcome` whether it may have acted. */
export class AmapiCallError extends BackendError {
  readonly amapi: AmapiError;
  readonly outcome: CallOutcome;
  /** What was asked, e.g. "enterprises.devices.issueCommand LOCK". */
  readonly operation: string;
  constructor(amapi: AmapiError, operation: string, outcome: CallOutcome, opts: { code?: BackendErrorCode; message?: string; hint?: string; cause?: unknown } = {}) {
    const base = toBackendError(amapi, operation);
    const message = opts.message ?? base.message;
    super(opts.code ?? base.code, outcome === 'unknown' ? `${message}; the request may have been carried out (its outcome is unknown)` : message, {
      status: base.status,
      hint: opts.hint ?? base.hint,
      cause: opts.cause,
    });
    this.amapi = amapi;
    this.outcome = outcome;
    this.operation = operation;
  }
}

type Retry = 'read' | 'idempotent' | 'create' | 'once';

interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Under v1/, already encoded. */
  path: string;
  query?: Record<string, string | string[] | number | undefined>;
  body?: unknown;
  operation: string;
  retry: Retry;
  /** These HTTP answers are results, not errors (404 for a get, 400 FAILED_PRECONDITION for a policy in use). */
  accept?: (err: AmapiError) => boolean;
}

interface Answer {
  status: number;
  body: unknown;
  /** The AmapiError of an accepted non-2xx answer. */
  error?: AmapiError;
  /** An earlier send of this call may have been carried out (its answer was lost). */
  earlierMayHaveApplied: boolean;
  /** The call changes something at Google (not a GET). */
  write: boolean;
}

const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** A wait Google asks for beyond this ends the call with the error instead: the caller reschedules. */
const MAX_RETRY_WAIT_MS = 120_000;

const ENTERPRISE = /^enterprises\/[^/]+$/;
const SEGMENT = /^[A-Za-z0-9._~-]{1,256}$/;

/** The path of a resource name whose shape is `kinds` (e.g. ['enterprises', 'devices']), each id encoded; throws on anything else. */
function resourcePath(name: string, kinds: readonly string[], what: string): string {
  const parts = typeof name === 'string' ? name.split('/') : [];
  const ok = parts.length === kinds.length * 2 && kinds.every((k, i) => parts[i * 2] === k && SEGMENT.test(parts[i * 2 + 1]!) && parts[i * 2 + 1] !== '.' && parts[i * 2 + 1] !== '..');
  if (!ok) throw new UsageError(`not an AMAPI ${what} name: ${JSON.stringify(String(name).slice(0, 200))} (expected ${kinds.map((k) => `${k}/…`).join('/')})`);
  return parts.map((p) => encodeURIComponent(p)).join('/');
}

export class AmapiClient {
  readonly endpoint: string;
  private readonly now: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;

  constructor(private readonly opts: AmapiClientOptions) {
    const endpoint = opts.endpoint ?? AMAPI_ENDPOINT;
    const problem = endpointProblem(endpoint);
    if (problem) throw new UsageError(`--amapi-endpoint ${problem}`);
    this.endpoint = endpoint.endsWith('/') ? endpoint : `${endpoint}/`;
    this.now = opts.now ?? (() => new Date());
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
  }

  // ---- enterprise signup ----

  async createSignupUrl(projectId: string, callbackUrl: string, adminEmail?: string): Promise<{ name: string; url: string }> {
    const a = await this.call({ method: 'POST', path: 'signupUrls', query: { projectId, callbackUrl, adminEmail }, operation: 'signupUrls.create', retry: 'create' });
    const b = this.object(a, 'signupUrls.create', 'SignupUrl');
    if (typeof b.name !== 'string' || !/^signupUrls\/[^/]{1,256}$/.test(b.name)) this.shape('signupUrls.create', a, 'SignupUrl.name is not signupUrls/{id}');
    if (typeof b.url !== 'string' || !/^https:\/\/[^\s]{1,4000}$/.test(b.url)) this.shape('signupUrls.create', a, 'SignupUrl.url is not an https URL');
    return { name: b.name, url: b.url };
  }

  async createEnterprise(projectId: string, signupUrlName: string, enterpriseToken: string, body: Record<string, unknown> = {}): Promise<{ name: string } & Record<string, unknown>> {
    const a = await this.call({ method: 'POST', path: 'enterprises', query: { projectId, signupUrlName, enterpriseToken }, body, operation: 'enterprises.create', retry: 'create' });
    const b = this.object(a, 'enterprises.create', 'Enterprise');
    if (typeof b.name !== 'string' || !ENTERPRISE.test(b.name)) this.shape('enterprises.create', a, 'Enterprise.name is not enterprises/{enterpriseId}');
    return b as { name: string } & Record<string, unknown>;
  }

  async getEnterprise(name: string): Promise<Record<string, unknown>> {
    const a = await this.call({ method: 'GET', path: resourcePath(name, ['enterprises'], 'enterprise'), operation: 'enterprises.get', retry: 'read' });
    return this.object(a, 'enterprises.get', 'Enterprise');
  }

  // ---- policies ----

  async patchPolicy(name: string, policy: AmapiPolicy): Promise<{ name: string; version?: string }> {
    const path = resourcePath(name, ['enterprises', 'policies'], 'policy');
    const a = await this.call({ method: 'PATCH', path, body: policy, operation: 'enterprises.policies.patch', retry: 'idempotent' });
    const b = this.object(a, 'enterprises.policies.patch', 'Policy');
    if (typeof b.name !== 'string' || b.name !== name) this.shape('enterprises.policies.patch', a, 'Policy.name is not the policy patched');
    if (b.version !== undefined && (typeof b.version !== 'string' || !/^\d{1,20}$/.test(b.version))) this.shape('enterprises.policies.patch', a, 'Policy.version is not an int64 string');
    return b.version === undefined ? { name: b.name } : { name: b.name, version: b.version };
  }

  /** 'in-use': Google refuses (400 FAILED_PRECONDITION) while a device or enrollment token references it. */
  async deletePolicy(name: string): Promise<'deleted' | 'not-found' | 'in-use'> {
    const path = resourcePath(name, ['enterprises', 'policies'], 'policy');
    const a = await this.call({
      method: 'DELETE', path, operation: 'enterprises.policies.delete', retry: 'idempotent',
      accept: (e) => e.status === 'NOT_FOUND' || (e.httpStatus === 400 && e.status === 'FAILED_PRECONDITION'),
    });
    if (a.error?.status === 'FAILED_PRECONDITION') return 'in-use';
    return this.deleted(a, 'enterprises.policies.delete');
  }

  async listPolicies(enterprise: string, pageToken?: string): Promise<{ policies: Array<{ name: string }>; nextPageToken?: string }> {
    const path = `${resourcePath(enterprise, ['enterprises'], 'enterprise')}/policies`;
    const a = await this.call({ method: 'GET', path, query: { pageToken }, operation: 'enterprises.policies.list', retry: 'read' });
    const b = this.object(a, 'enterprises.policies.list', 'ListPoliciesResponse');
    const policies = this.list(a, 'enterprises.policies.list', b.policies, 'policies');
    for (const p of policies) if (typeof (p as { name?: unknown }).name !== 'string') this.shape('enterprises.policies.list', a, 'a policy has no name');
    return this.page({ policies: policies as Array<{ name: string }> }, b.nextPageToken, a, 'enterprises.policies.list');
  }

  // ---- devices ----

  async listDevices(enterprise: string, pageToken?: string, pageSize?: number): Promise<{ devices: unknown[]; nextPageToken?: string }> {
    if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize > 0 && pageSize <= 1000)) throw new UsageError(`devices.list pageSize must be 1–1000 (got ${pageSize})`);
    const path = `${resourcePath(enterprise, ['enterprises'], 'enterprise')}/devices`;
    const a = await this.call({ method: 'GET', path, query: { pageSize, pageToken }, operation: 'enterprises.devices.list', retry: 'read' });
    const b = this.object(a, 'enterprises.devices.list', 'ListDevicesResponse');
    const devices = this.list(a, 'enterprises.devices.list', b.devices, 'devices');
    return this.page({ devices }, b.nextPageToken, a, 'enterprises.devices.list');
  }

  /** The Device as Google has it (a stranger's report: posture.ts reads it), or undefined when Google has none (404). */
  async getDevice(name: string): Promise<unknown | undefined> {
    const path = resourcePath(name, ['enterprises', 'devices'], 'device');
    const a = await this.call({ method: 'GET', path, operation: 'enterprises.devices.get', retry: 'read', accept: (e) => e.status === 'NOT_FOUND' });
    if (a.error) return undefined;
    return this.object(a, 'enterprises.devices.get', 'Device');
  }

  /** Moves a device to a policy (devices.patch ?updateMask=policyName); the Device Google answers. */
  async setDevicePolicy(name: string, policyName: string): Promise<unknown> {
    const path = resourcePath(name, ['enterprises', 'devices'], 'device');
    const enterprise = name.split('/').slice(0, 2).join('/');
    resourcePath(policyName, ['enterprises', 'policies'], 'policy');
    if (!policyName.startsWith(`${enterprise}/`)) throw new UsageError(`policy ${policyName} is not of the device's enterprise ${enterprise}`);
    const a = await this.call({ method: 'PATCH', path, query: { updateMask: 'policyName' }, body: { policyName }, operation: 'enterprises.devices.patch', retry: 'idempotent' });
    return this.object(a, 'enterprises.devices.patch', 'Device');
  }

  /** Wipes (company-owned) or removes the work profile (personal); 'not-found' when Google has no such device. */
  async deleteDevice(name: string, opts: { wipeReasonMessage?: string; wipeDataFlags?: string[] } = {}): Promise<'deleted' | 'not-found'> {
    const path = resourcePath(name, ['enterprises', 'devices'], 'device');
    for (const f of opts.wipeDataFlags ?? []) if (!/^[A-Z][A-Z_]{0,63}$/.test(f)) throw new UsageError(`not a wipe data flag: ${JSON.stringify(f.slice(0, 80))}`);
    const a = await this.call({
      method: 'DELETE', path, query: { wipeDataFlags: opts.wipeDataFlags, wipeReasonMessage: opts.wipeReasonMessage },
      operation: 'enterprises.devices.delete', retry: 'idempotent', accept: (e) => e.status === 'NOT_FOUND',
    });
    return this.deleted(a, 'enterprises.devices.delete');
  }

  // ---- commands and operations ----

  /** Sent once, never again by the client: a lost answer is an AmapiCallError with outcome 'unknown'. */
  async issueCommand(name: string, command: { type: string; duration?: string }): Promise<Operation> {
    const path = `${resourcePath(name, ['enterprises', 'devices'], 'device')}:issueCommand`;
    if (typeof command.type !== 'string' || !/^[A-Z][A-Z_]{0,63}$/.test(command.type)) throw new UsageError(`not an AMAPI command type: ${JSON.stringify(String(command.type).slice(0, 80))}`);
    const operation = `enterprises.devices.issueCommand ${command.type}`;
    const a = await this.call({ method: 'POST', path, body: command, operation, retry: 'once' });
    return this.operationOf(a, operation, name);
  }

  /** undefined when Google has no such operation (404). */
  async getOperation(name: string): Promise<Operation | undefined> {
    const path = resourcePath(name, ['enterprises', 'devices', 'operations'], 'operation');
    const a = await this.call({ method: 'GET', path, operation: 'enterprises.devices.operations.get', retry: 'read', accept: (e) => e.status === 'NOT_FOUND' });
    if (a.error) return undefined;
    return this.operationOf(a, 'enterprises.devices.operations.get', name.split('/').slice(0, 4).join('/'));
  }

  async listOperations(deviceName: string, pageToken?: string): Promise<{ operations: Operation[]; nextPageToken?: string }> {
    const path = `${resourcePath(deviceName, ['enterprises', 'devices'], 'device')}/operations`;
    const what = 'enterprises.devices.operations.list';
    const a = await this.call({ method: 'GET', path, query: { pageToken }, operation: what, retry: 'read' });
    const b = this.object(a, what, 'ListOperationsResponse');
    const operations = this.list(a, what, b.operations, 'operations').map((op) => this.readOperation(op, a, what, deviceName));
    return this.page({ operations }, b.nextPageToken, a, what);
  }

  // ---- enrollment tokens ----

  /** Google's EnrollmentToken (readCreatedToken reads it); its `value` is a secret. Not resent after a lost answer. */
  async createEnrollmentToken(enterprise: string, body: AmapiEnrollmentTokenRequest): Promise<unknown> {
    const path = `${resourcePath(enterprise, ['enterprises'], 'enterprise')}/enrollmentTokens`;
    const a = await this.call({ method: 'POST', path, body, operation: 'enterprises.enrollmentTokens.create', retry: 'create' });
    return this.object(a, 'enterprises.enrollmentTokens.create', 'EnrollmentToken');
  }

  async deleteEnrollmentToken(name: string): Promise<'deleted' | 'not-found'> {
    const path = resourcePath(name, ['enterprises', 'enrollmentTokens'], 'enrollment token');
    const a = await this.call({ method: 'DELETE', path, operation: 'enterprises.enrollmentTokens.delete', retry: 'idempotent', accept: (e) => e.status === 'NOT_FOUND' });
    return this.deleted(a, 'enterprises.enrollmentTokens.delete');
  }

  // ---- the exchange ----

  private url(c: Call): URL {
    const url = new URL(`v1/${c.path}`, this.endpoint);
    for (const [k, v] of Object.entries(c.query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) url.searchParams.append(k, item);
      else url.searchParams.set(k, String(v));
    }
    return url;
  }

  private log(event: Record<string, unknown>): void {
    this.opts.log?.(JSON.stringify({ time: this.now().toISOString(), ...event }));
  }

  private async call(c: Call): Promise<Answer> {
    const url = this.url(c);
    const write = c.method !== 'GET';
    const body = c.body === undefined ? undefined : JSON.stringify(c.body);
    let mayHaveApplied = false;
    let refreshed = false;
    const fail = (amapi: AmapiError, opts: { code?: BackendErrorCode; message?: string; hint?: string; cause?: unknown } = {}): never => {
      throw new AmapiCallError(amapi, c.operation, write && (mayHaveApplied || amapi.mayHaveApplied) ? 'unknown' : 'not-sent', opts);
    };
    for (let attempt = 1; ; attempt++) {
      await this.quotaSlot(c.operation);
      let token: string;
      try {
        token = await this.opts.tokens.token();
      } catch (error) {
        // Nothing went to Google: a credential problem is said as the token source said it.
        const e = error instanceof EmmctlError ? error : new BackendError('unauthorized', `no access token: ${(error as Error).message}`);
        const code: BackendErrorCode = e instanceof BackendError ? e.code : 'unauthorized';
        const amapi: AmapiError = { httpStatus: 0, status: code === 'unavailable' ? 'UNAVAILABLE' : 'UNAUTHENTICATED', message: e.message, retryable: code === 'unavailable', mayHaveApplied: false, statusBody: false };
        if (amapi.retryable && c.retry !== 'once' && (await this.backoff(c, attempt, amapi))) continue;
        fail({ ...amapi, mayHaveApplied: false }, { code, message: e.message, hint: e.hint, cause: error });
      }
      const headers: Record<string, string> = {
        authorization: `Bearer ${token!}`,
        accept: 'application/json',
        'user-agent': `emmctl/${typeof EMMCTL_VERSION === 'string' ? EMMCTL_VERSION : 'dev'}`,
      };
      if (body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
      let answer;
      try {
        answer = await exchange({ method: c.method, url, headers, body, timeoutMs: this.timeoutMs, maxBytes: MAX_ANSWER_BYTES, fresh: c.retry === 'once' || c.retry === 'create' });
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        const amapi = { ...transportFailure(`no answer from ${url.origin}: ${error.message}`), mayHaveApplied: error.sent };
        if (write && error.sent) mayHaveApplied = true;
        const replayable = c.retry === 'read' || c.retry === 'idempotent' || (c.retry === 'create' && !error.sent);
        if (replayable && (await this.backoff(c, attempt, amapi))) continue;
        fail(amapi, { cause: error });
      }
      const a = answer!;
      if (a.status >= 200 && a.status < 300) {
        let parsed: unknown = {};
        if (a.text.trim() !== '') {
          try {
            parsed = JSON.parse(a.text);
          } catch {
            if (write) mayHaveApplied = true;
            fail(this.protocolError(a.status, 'the answer is not JSON', write));
          }
        }
        return { status: a.status, body: parsed, earlierMayHaveApplied: mayHaveApplied, write };
      }
      let errBody: unknown = a.text;
      try {
        errBody = JSON.parse(a.text);
      } catch {
        // classified by the HTTP status alone (errors.ts says so in its message)
      }
      const retryAfter = typeof a.headers['retry-after'] === 'string' ? a.headers['retry-after'] : undefined;
      const amapi = parseAmapiError(a.status, errBody, { retryAfter, now: this.now() });
      if (c.accept?.(amapi)) return { status: a.status, body: errBody, error: amapi, earlierMayHaveApplied: mayHaveApplied, write };
      if (a.status === 401 && !refreshed && this.opts.tokens.invalidate && c.retry !== 'once') {
        // A revoked or clock-skewed token: one fresh token, not counted as an attempt.
        refreshed = true;
        this.opts.tokens.invalidate();
        attempt--;
        continue;
      }
      if (write && amapi.mayHaveApplied) mayHaveApplied = true;
      const replayable = c.retry === 'read' || c.retry === 'idempotent' || (c.retry === 'create' && !amapi.mayHaveApplied);
      if (amapi.retryable && replayable && (await this.backoff(c, attempt, amapi))) continue;
      fail(amapi);
    }
  }

  /** Sleeps before the next attempt and returns true, or false when the attempts are used up or Google asks for too long a wait. */
  private async backoff(c: Call, attempt: number, err: AmapiError): Promise<boolean> {
    if (attempt >= this.maxAttempts) return false;
    const wait = backoffMs(attempt, err, { random: this.opts.random });
    if (wait > MAX_RETRY_WAIT_MS) return false;
    this.log({ event: 'amapi.retry', operation: c.operation, attempt, status: err.status, httpStatus: err.httpStatus, waitMs: wait });
    await this.sleep(wait);
    return true;
  }

  private async quotaSlot(operation: string): Promise<void> {
    const quota = this.opts.quota;
    if (!quota) return;
    for (;;) {
      const wait = quota.take(this.now().getTime());
      if (wait === 0) return;
      this.log({ event: 'amapi.quota-wait', operation, waitMs: wait, used: quota.used });
      await this.sleep(wait);
    }
  }

  private protocolError(httpStatus: number, message: string, write: boolean): AmapiError {
    return { httpStatus, status: 'HTTP_ERROR', message, retryable: false, mayHaveApplied: write, statusBody: false };
  }

  /** Throws the protocol error of an answer out of shape. */
  private shape(operation: string, a: Answer, problem: string): never {
    // A write Google answered with success was carried out, whatever came back.
    throw new AmapiCallError(this.protocolError(a.status, `the answer is out of shape: ${problem}`, a.write), operation, a.write ? 'unknown' : 'not-sent', { code: 'protocol' });
  }

  private object(a: Answer, operation: string, schema: string): Record<string, unknown> {
    const b = a.body;
    if (b === null || typeof b !== 'object' || Array.isArray(b)) this.shape(operation, a, `not a ${schema} object`);
    return b as Record<string, unknown>;
  }

  private list(a: Answer, operation: string, v: unknown, field: string): Array<Record<string, unknown>> {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => x === null || typeof x !== 'object' || Array.isArray(x))) this.shape(operation, a, `${field} is not a list of objects`);
    return v as Array<Record<string, unknown>>;
  }

  private page<T extends object>(out: T, next: unknown, a: Answer, operation: string): T & { nextPageToken?: string } {
    if (next === undefined || next === '') return out;
    if (typeof next !== 'string' || next.length > 4096) this.shape(operation, a, 'nextPageToken is not a string');
    return { ...out, nextPageToken: next };
  }

  private deleted(a: Answer, operation: string): 'deleted' | 'not-found' {
    if (!a.error) {
      const b = this.object(a, operation, 'Empty');
      if (Object.keys(b).length > 0) this.shape(operation, a, 'a delete answers an empty object');
      return 'deleted';
    }
    // A 404 after a send whose answer was lost is that send having landed: a name is deleted once.
    return a.earlierMayHaveApplied ? 'deleted' : 'not-found';
  }

  private operationOf(a: Answer, operation: string, device: string): Operation {
    return this.readOperation(this.object(a, operation, 'Operation'), a, operation, device);
  }

  private readOperation(op: Record<string, unknown>, a: Answer, operation: string, device: string): Operation {
    if (typeof op.name !== 'string' || !op.name.startsWith(`${device}/operations/`) || !SEGMENT.test(op.name.slice(device.length + 12))) {
      this.shape(operation, a, `Operation.name is not ${device}/operations/{id}`);
    }
    if (op.done !== undefined && typeof op.done !== 'boolean') this.shape(operation, a, 'Operation.done is not true or false');
    if (op.metadata !== undefined && (op.metadata === null || typeof op.metadata !== 'object' || Array.isArray(op.metadata))) this.shape(operation, a, 'Operation.metadata is not an object');
    const out: Operation = { name: op.name as string };
    if (op.done !== undefined) out.done = op.done as boolean;
    if (op.error !== undefined) out.error = op.error;
    if (op.metadata !== undefined) out.metadata = op.metadata as Record<string, unknown>;
    if (op.response !== undefined) out.response = op.response;
    return out;
  }
}
