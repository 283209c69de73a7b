// The device side of the agent protocol (protocol.ts) over HTTP: what an enrolled phone or laptop
// sends to `emmctl server`. Built on node:http with one keep-alive agent rather than axios or
// fetch: the fleet simulator uses it as the load generator, so per-request overhead matters.
// Retries follow the same policy as the admin driver (src/backends/http/retry.ts).
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BackendError } from '../errors.js';
import { normalizeServerUrl } from '../backends/http/url.js';
import { parseErrorBody } from '../backends/http/errors.js';
import { DEFAULT_RETRY_POLICY, decideRetry, sleep as realSleep, type AttemptFailure, type RetryClass, type RetryPolicy } from '../backends/http/retry.js';
import type { CheckInRequest, CheckInResponse, CommandResultReport, EnrollRequest, EnrollResponse } from '../model/protocol.js';

export interface AgentClientOptions {
  server: string;
  timeoutMs?: number;
  /** Open connections at most (the simulator passes its concurrency). */
  maxSockets?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const unreachable = new WeakSet<object>();

/** True for an error meaning the server could not be reached at all (nothing else will get through either). */
export function isUnreachable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && unreachable.has(error);
}

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
}

export class AgentClient {
  readonly server: string;
  private readonly url: URL;
  /** The server URL's path prefix, without a trailing slash ('' for none); routes are appended to it. */
  private readonly prefix: string;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly send: typeof httpRequest;
  private readonly timeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  /** Requests sent, retries included (the simulator reports it). */
  requests = 0;
  retries = 0;

  constructor(options: AgentClientOptions) {
    this.server = normalizeServerUrl(options.server);
    this.url = new URL(this.server);
    this.prefix = this.url.pathname.replace(/\/$/, '');
    const https = this.url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = https ? (httpsRequest as typeof httpRequest) : httpRequest;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
  }

  /** Consumes one use of the enrollment token: retried only when the server provably did not see it. */
  async enroll(request: EnrollRequest): Promise<EnrollResponse> {
    const body = await this.call('/v1/agent/enroll', request, undefined, 'unsafe', 'enroll');
    return expectFields<EnrollResponse>(body, ['deviceId', 'credential'], this.server, 'enroll');
  }

  /** A check-in only reports posture and collects work, so a replay is harmless. */
  async checkIn(credential: string, request: CheckInRequest): Promise<CheckInResponse> {
    const body = await this.call('/v1/agent/checkin', request, credential, 'safe', 'check in');
    const r = expectFields<CheckInResponse>(body, ['configuration', 'commands'], this.server, 'check in');
    if (!Array.isArray(r.commands)) throw garbage(this.server, 'check in', 'commands is not a list');
    return r;
  }

  /** Reporting the same result twice sets the same final state. */
  async reportResult(credential: string, commandId: string, report: CommandResultReport): Promise<void> {
    await this.call(`/v1/agent/commands/${encodeURIComponent(commandId)}/result`, report, credential, 'safe', 'report a command result');
  }

  close(): void {
    this.agent.destroy();
  }

  private async call(path: string, payload: unknown, credential: string | undefined, retryClass: RetryClass, what: string): Promise<unknown> {
    const data = Buffer.from(JSON.stringify(payload));
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': data.length, accept: 'application/json' };
    if (credential) headers.authorization = `Device ${credential}`;
    for (let attempt = 1; ; attempt++) {
      let failure: AttemptFailure;
      let reply: Reply | undefined;
      try {
        this.requests++;
        reply = await this.exchange(path, headers, data);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        failure = code === 'ETIMEOUT_AGENT' ? { kind: 'timeout' } : { kind: 'network', code: typeof code === 'string' ? code : 'ERR_NETWORK' };
      }
      if (reply) {
        if (reply.status === 204) return undefined;
        if (reply.status >= 200 && reply.status < 300) {
          try {
            return JSON.parse(reply.text);
          } catch {
            throw garbage(this.server, what, `the body is not JSON (${reply.headers['content-type'] ?? 'no content type'})`);
          }
        }
        const retryAfter = reply.headers['retry-after'];
        failure = { kind: 'status', status: reply.status, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
      }
      const decision = decideRetry(failure!, retryClass, attempt, this.policy, { nowMs: Date.now(), random: this.random });
      if (decision.retry) {
        this.retries++;
        await this.sleep(decision.delayMs);
        continue;
      }
      throw this.failureError(failure!, reply, what);
    }
  }

  private exchange(path: string, headers: Record<string, string | number>, data: Buffer): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = this.send(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          path: this.prefix + path,
          method: 'POST',
          headers,
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEOUT_AGENT' })));
      req.on('error', reject);
      req.end(data);
    });
  }

  private failureError(failure: AttemptFailure, reply: Reply | undefined, what: string): BackendError {
    if (failure.kind === 'timeout') return new BackendError('unavailable', `emmctl server at ${this.server} did not answer (${what}) within ${this.timeoutMs} ms`);
    if (failure.kind === 'network') {
      const error = new BackendError('unavailable', `cannot reach emmctl server at ${this.server}: ${failure.code} — is it running?`, {
        hint: 'start one with `emmctl server`, or run `emmctl simulate` without --server to use an in-process one',
      });
      if (failure.code === 'ECONNREFUSED' || failure.code === 'ENOTFOUND' || failure.code === 'EAI_AGAIN' || failure.code === 'EHOSTUNREACH' || failure.code === 'ENETUNREACH') unreachable.add(error);
      return error;
    }
    const body = parseErrorBody(reply?.text);
    const status = failure.status;
    const said = body?.message ?? `HTTP ${status}`;
    if (!body && status === 404) return garbage(this.server, what, 'no such route — is this an emmctl server?');
    const code =
      status === 400 || status === 413 ? 'invalid'
      : status === 401 ? 'unauthorized'
      : status === 403 ? 'forbidden'
      : status === 404 ? 'not_found'
      : status === 409 ? 'conflict'
      : status === 429 ? 'rate_limited'
      : status >= 500 ? 'unavailable'
      : 'protocol';
    return new BackendError(code, `${what} failed: ${said}`, { status });
  }
}

function expectFields<T>(body: unknown, fields: string[], server: string, what: string): T {
  if (typeof body !== 'object' || body === null) throw garbage(server, what, 'expected a JSON object');
  const missing = fields.filter((f) => !(f in body));
  if (missing.length) throw garbage(server, what, `the response lacks ${missing.join(', ')}`);
  return body as T;
}

function garbage(server: string, what: string, problem: string): BackendError {
  return new BackendError('protocol', `unexpected response from ${server} (${what}): ${problem}`);
}
