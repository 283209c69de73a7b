// When to retry a request to `emmctl server`, and how long to wait. Pure functions, shared by the
// admin driver (axios) and the agent client (node:http), so both treat the server the same way.
//
// Why not axios-retry: it does honour Retry-After (as max(backoff, Retry-After)), but it has no
// cap on it (a server answering `Retry-After: 3600` would hang the CLI for an hour), decides
// retry-safety by HTTP method only (every POST is unsafe, so the keyed POSTs this API relies on
// would need a custom condition anyway), and shrinks the per-request timeout across attempts.
// The loop the drivers need is a few lines around these functions.

/**
 * How safe a request is to send twice.
 * - `safe`: reads, and writes whose replay has no further effect (revoke, cancel, upsert);
 * - `keyed`: carries an Idempotency-Key reused across attempts, or is guarded by versions;
 * - `unsafe`: a replay would act twice (create a second token, enroll a second device): retried
 *   only when the server provably did not process it (connection refused, 429 from the limiter).
 */
export type RetryClass = 'safe' | 'keyed' | 'unsafe';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the request fails and says how long the server asked for. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 4, baseDelayMs: 200, maxDelayMs: 5_000, maxRetryAfterMs: 60_000 };

/** What went wrong with one attempt. */
export type AttemptFailure =
  | { kind: 'network'; code: string }
  | { kind: 'timeout' }
  | { kind: 'status'; status: number; retryAfter?: string };

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; retryAfterMs?: number };

/** Error codes meaning the request never left this machine or never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
/** The connection broke after the request may have been sent. */
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
/** Connection refused usually means nothing listens: a couple of quick retries ride out a restart without making the "is it running?" answer slow. */
const MAX_REFUSED_RETRIES = 2;

/**
 * Whether the server may have carried out a request although no answer came back: it was sent
 * and then the answer was lost (timeout, connection broken), or a gateway answered for it (502,
 * 504, or any 5xx that is not our server's JSON error). Our server's own error answers are
 * definite: a handler that throws has its transaction rolled back, and 503 "busy" or 429 come
 * before any change.
 */
export function mayHaveBeenProcessed(failure: AttemptFailure, fromOurServer: boolean): boolean {
  switch (failure.kind) {
    case 'timeout':
      return true;
    case 'network':
      return !NOT_SENT.has(failure.code);
    case 'status':
      return failure.status === 502 || failure.status === 504 || (failure.status >= 500 && !fromOurServer);
  }
}

/**
 * Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). Returns milliseconds
 * from now (0 for a date in the past), or undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Every HTTP-date form starts with the day name; Date.parse alone would take "-3" as a year.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Exponential backoff with "equal jitter": half the window fixed, half random, so clients spread out but never retry instantly. */
export function backoffDelay(retryNumber: number, policy: RetryPolicy, random: () => number): number {
  const window = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retryNumber - 1));
  return Math.round(window / 2 + random() * (window / 2));
}

/**
 * Whether to retry after `failure` on attempt `retryNumber` (1 = the first retry).
 * Timeouts are not retried: the server is up but slow, and a retry would double both the wait and its load.
 */
export function decideRetry(
  failure: AttemptFailure,
  retryClass: RetryClass,
  retryNumber: number,
  policy: RetryPolicy,
  opts: { nowMs: number; random: () => number },
): RetryDecision {
  if (retryNumber > policy.retries) {
    if (failure.kind === 'status') return { retry: false, retryAfterMs: parseRetryAfter(failure.retryAfter, opts.nowMs) };
    return { retry: false };
  }
  const backoff = () => backoffDelay(retryNumber, policy, opts.random);
  switch (failure.kind) {
    case 'timeout':
      return { retry: false };
    case 'network': {
      if (NOT_SENT.has(failure.code)) {
        return failure.code === 'ECONNREFUSED' && retryNumber > MAX_REFUSED_RETRIES ? { retry: false } : { retry: true, delayMs: backoff() };
      }
      if (BROKEN.has(failure.code) && retryClass !== 'unsafe') return { retry: true, delayMs: backoff() };
      return { retry: false };
    }
    case 'status': {
      const { status } = failure;
      // 429 comes from the rate limiter before the handler runs, so even an unsafe request was not processed.
      // 503 and gateway errors may come after processing started: only for requests safe to replay.
      const retryable = status === 429 || ((status === 503 || status === 502 || status === 504) && retryClass !== 'unsafe');
      if (!retryable) return { retry: false };
      const retryAfterMs = parseRetryAfter(failure.retryAfter, opts.nowMs);
      if (retryAfterMs === undefined) return { retry: true, delayMs: backoff() };
      if (retryAfterMs > policy.maxRetryAfterMs) return { retry: false, retryAfterMs };
      // Retry-After is a minimum; a little jitter on top keeps a throttled fleet from returning in lockstep.
      return { retry: true, delayMs: retryAfterMs + Math.round(opts.random() * Math.min(1000, retryAfterMs * 0.1 + 50)) };
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
