// Errors of the Android Management API: Google answers a failed call with an HTTP status and a
// google.rpc.Status body ({"error": {code, message, status, details}}). This turns one into what
// emmctl needs to decide and to say: a clear message, whether backing off and asking again may
// help, and whether a write may have landed although it failed — the one thing that decides if
// a non-idempotent write (issueCommand, devices.delete) may ever be sent again (only when the
// command ledger proves the first one did not land).
//
// Classification (google.rpc.Code, Google's HTTP mapping):
//   RESOURCE_EXHAUSTED 429  quota (1,000 queries per 100 s per project): retryable, not applied
//   ABORTED 409             concurrency conflict: retryable, not applied
//   UNAVAILABLE 503, INTERNAL / UNKNOWN / DATA_LOSS 500, DEADLINE_EXCEEDED 504, any other 5xx,
//   a gateway's 502 without a Status: retryable, and a write may have been applied
//   every other 4xx (INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, ALREADY_EXISTS,
//   PERMISSION_DENIED, UNAUTHENTICATED, ...), UNIMPLEMENTED 501: final, not applied
// A body that is not a Status (an HTML page from a proxy, garbage) is classified by the HTTP
// status alone and said so; Google's message is kept to a bounded length and never trusted for
// anything but display.
import { BackendError, type BackendErrorCode } from '../../errors.js';

export const RPC_CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;
export type RpcCode = (typeof RPC_CODES)[number];

// Google's HTTP mapping of each code, for a response whose body names none.
const CODE_OF_HTTP: Record<number, RpcCode> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED', 499: 'CANCELLED', 500: 'INTERNAL', 501: 'UNIMPLEMENTED', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

/** Google's message is shown, never parsed: bounded so a runaway body cannot flood a terminal or a log. */
export const MAX_MESSAGE = 1024;
/** A Retry-After or RetryInfo beyond this is taken as this: a sync must not sleep for a day on one answer. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

export interface AmapiError {
  httpStatus: number;
  /** google.rpc.Code name: from the body when it names a known one, else from the HTTP status. */
  status: RpcCode | 'HTTP_ERROR';
  /** Google's message (bounded), or a description of what came instead. */
  message: string;
  /** ErrorInfo.reason when the body carries one (e.g. RATE_LIMIT_EXCEEDED). */
  reason?: string;
  /** Backing off and sending again may succeed (for a write: only after the ledger says it did not land). */
  retryable: boolean;
  /** The request may have been carried out although it failed: a write's outcome is unknown. */
  mayHaveApplied: boolean;
  /** How long Google asked us to wait (Retry-After header or RetryInfo.retryDelay), capped. */
  retryAfterMs?: number;
  /** Whether the body was a google.rpc.Status at all. */
  statusBody: boolean;
}

/**
 * An AMAPI error response as an AmapiError. `body` is the parsed JSON (or the raw text, or
 * undefined when there was none); `retryAfter` the Retry-After header; `now` for its date form.
 */
export function parseAmapiError(httpStatus: number, body: unknown, opts: { retryAfter?: string | null; now?: Date } = {}): AmapiError {
  const envelope = isObject(body) && isObject(body.error) ? body.error : undefined;
  const named = envelope && typeof envelope.status === 'string' && (RPC_CODES as readonly string[]).includes(envelope.status) ? (envelope.status as RpcCode) : undefined;
  // The envelope's numeric `code` is the HTTP status again (Google's JSON error form), not a google.rpc.Code.
  const status: AmapiError['status'] = named ?? CODE_OF_HTTP[httpStatus] ?? (httpStatus >= 500 ? 'UNAVAILABLE' : 'HTTP_ERROR');
  const message = envelope && typeof envelope.message === 'string' && envelope.message !== '' ? bound(envelope.message) : describeBody(httpStatus, body);
  const details = envelope && Array.isArray(envelope.details) ? envelope.details.filter(isObject) : [];
  const info = details.find((d) => typeof d['@type'] === 'string' && d['@type'].endsWith('google.rpc.ErrorInfo'));
  const retryInfo = details.find((d) => typeof d['@type'] === 'string' && d['@type'].endsWith('google.rpc.RetryInfo'));

  const serverSide = (httpStatus >= 500 && status !== 'UNIMPLEMENTED') || status === 'INTERNAL' || status === 'UNKNOWN' || status === 'DATA_LOSS' || status === 'UNAVAILABLE' || status === 'DEADLINE_EXCEEDED';
  const err: AmapiError = {
    httpStatus,
    status,
    message,
    retryable: serverSide || status === 'RESOURCE_EXHAUSTED' || status === 'ABORTED' || httpStatus === 429,
    mayHaveApplied: serverSide,
    statusBody: envelope !== undefined,
  };
  if (info && typeof info.reason === 'string' && /^[A-Z0-9_]{1,64}$/.test(info.reason)) err.reason = info.reason;
  const wait = retryAfterMs(opts.retryAfter, opts.now ?? new Date()) ?? durationMs(retryInfo?.retryDelay);
  if (wait !== undefined) err.retryAfterMs = wait;
  return err;
}

/**
 * A request whose answer never came (timeout, reset connection): a read may be asked again; a
 * write may or may not have been carried out.
 */
export function transportFailure(message: string): AmapiError {
  return { httpStatus: 0, status: 'UNAVAILABLE', message: bound(message), retryable: true, mayHaveApplied: true, statusBody: false };
}

/**
 * The `error` of a finished Operation (a google.rpc.Status whose `code` IS a google.rpc.Code
 * number): the code's name and the message, for a command's failed state. Undefined when the
 * operation carries no error.
 */
export function operationError(error: unknown): { status: RpcCode | 'UNKNOWN'; message: string } | undefined {
  if (error === undefined || error === null) return undefined;
  if (!isObject(error)) return { status: 'UNKNOWN', message: 'the operation failed with an error that is not a google.rpc.Status' };
  const code = error.code;
  const status = typeof code === 'number' && Number.isInteger(code) && code > 0 && code < RPC_CODES.length ? RPC_CODES[code]! : 'UNKNOWN';
  const message = typeof error.message === 'string' && error.message !== '' ? bound(error.message) : 'no message';
  return { status, message };
}

const BACKEND_CODE: Partial<Record<RpcCode, BackendErrorCode>> = {
  INVALID_ARGUMENT: 'invalid', FAILED_PRECONDITION: 'invalid', OUT_OF_RANGE: 'invalid', NOT_FOUND: 'not_found',
  ALREADY_EXISTS: 'conflict', ABORTED: 'conflict', PERMISSION_DENIED: 'forbidden', UNAUTHENTICATED: 'unauthorized',
  RESOURCE_EXHAUSTED: 'rate_limited', UNIMPLEMENTED: 'protocol',
};

const HINT: Partial<Record<RpcCode, string>> = {
  UNAUTHENTICATED: 'check the service account key (--google-credentials or GOOGLE_APPLICATION_CREDENTIALS): it may be revoked or for another project',
  PERMISSION_DENIED: 'check that the service account has the Android Management User role in the project that owns the enterprise, and that the enterprise name is right',
  RESOURCE_EXHAUSTED: 'the Android Management API quota was reached (1,000 queries per 100 seconds per project by default); emmctl backs off and tries again',
  NOT_FOUND: 'the enterprise, device, policy or operation does not exist (any more) in Google\'s records',
  FAILED_PRECONDITION: 'Google refused the request in the current state (e.g. a policy still used by a device cannot be deleted)',
};

/** The error as emmctl's BackendError: `operation` says what was asked ("enterprises.devices.issueCommand LOCK"). */
export function toBackendError(err: AmapiError, operation: string): BackendError {
  const code: BackendErrorCode = err.retryable && err.mayHaveApplied ? 'unavailable' : (BACKEND_CODE[err.status as RpcCode] ?? (err.httpStatus >= 500 ? 'unavailable' : 'protocol'));
  const where = err.httpStatus === 0 ? 'no answer' : `HTTP ${err.httpStatus}`;
  const name = err.status === 'HTTP_ERROR' ? '' : `${err.status}, `;
  return new BackendError(code, `Android Management API ${operation} failed: ${err.message} (${name}${where})`, {
    status: err.httpStatus || undefined,
    hint: HINT[err.status as RpcCode],
  });
}

/**
 * How long to wait before attempt `attempt` (1 = the first retry): Google's own wait when it
 * gave one, else exponential backoff with full jitter (base × 2^(attempt-1), capped), so many
 * replicas hitting one quota do not retry in step. `random` is injected for tests.
 */
export function backoffMs(attempt: number, err: Pick<AmapiError, 'retryAfterMs'>, opts: { baseMs?: number; capMs?: number; random?: () => number } = {}): number {
  if (err.retryAfterMs !== undefined) return err.retryAfterMs;
  const base = opts.baseMs ?? 1000;
  const cap = opts.capMs ?? 64_000;
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, Math.min(30, attempt - 1)));
  return Math.floor((opts.random ?? Math.random)() * ceiling);
}

function retryAfterMs(header: string | null | undefined, now: Date): number | undefined {
  if (header === undefined || header === null) return undefined;
  const h = header.trim();
  if (/^\d{1,10}$/.test(h)) return Math.min(Number(h) * 1000, MAX_RETRY_AFTER_MS);
  // The HTTP-date form: IMF-fixdate only, a real date.
  if (!/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/.test(h)) return undefined;
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now.getTime()), MAX_RETRY_AFTER_MS);
}

/** google.protobuf.Duration JSON ("30s", "1.5s") as milliseconds, capped. */
function durationMs(v: unknown): number | undefined {
  const m = typeof v === 'string' ? /^(\d{1,10})(\.\d{1,9})?s$/.exec(v) : null;
  if (!m) return undefined;
  return Math.min(Math.round((Number(m[1]) + Number(m[2] ?? 0)) * 1000), MAX_RETRY_AFTER_MS);
}

function describeBody(httpStatus: number, body: unknown): string {
  if (body === undefined || body === null || body === '') return `HTTP ${httpStatus} with no error body`;
  if (typeof body === 'string') return `HTTP ${httpStatus} with a body that is not a google.rpc.Status`;
  return `HTTP ${httpStatus} with an error body that is not a google.rpc.Status`;
}

function bound(s: string): string {
  if (s.length <= MAX_MESSAGE) return s;
  const cut = [...s.slice(0, MAX_MESSAGE * 2)].slice(0, MAX_MESSAGE).join('');
  return `${cut}… (cut)`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
