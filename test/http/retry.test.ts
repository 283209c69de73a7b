// The retry policy as pure functions: what is retried, after how long.
import { describe, expect, it } from 'vitest';
import { backoffDelay, decideRetry, DEFAULT_RETRY_POLICY, parseRetryAfter, type AttemptFailure, type RetryClass } from '../../src/backends/http/retry.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const opts = { nowMs: NOW, random: () => 0 };
const decide = (f: AttemptFailure, c: RetryClass, n = 1) => decideRetry(f, c, n, DEFAULT_RETRY_POLICY, opts);

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('5', NOW)).toBe(5000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', NOW)).toBe(7000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', NOW)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-3', NOW)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('doubles per retry, jitters within the upper half, and caps', () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, p, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, p, () => 1))).toEqual([100, 200, 400, 800, 1000]);
  });
});

describe('decideRetry', () => {
  it('retries 429 for every class, waiting at least Retry-After', () => {
    for (const c of ['safe', 'keyed', 'unsafe'] as const) {
      const d = decide({ kind: 'status', status: 429, retryAfter: '3' }, c);
      expect(d).toEqual({ retry: true, delayMs: 3000 });
    }
  });
  it('retries 502/503/504 only when a replay is safe', () => {
    for (const status of [502, 503, 504]) {
      expect(decide({ kind: 'status', status }, 'safe').retry).toBe(true);
      expect(decide({ kind: 'status', status }, 'keyed').retry).toBe(true);
      expect(decide({ kind: 'status', status }, 'unsafe').retry).toBe(false);
    }
  });
  it('never retries client errors or 500', () => {
    for (const status of [400, 401, 403, 404, 409, 413, 500]) expect(decide({ kind: 'status', status }, 'safe').retry).toBe(false);
  });
  it('retries a broken connection only when a replay is safe; a refused one always (it was never sent)', () => {
    expect(decide({ kind: 'network', code: 'ECONNRESET' }, 'keyed').retry).toBe(true);
    expect(decide({ kind: 'network', code: 'ECONNRESET' }, 'unsafe').retry).toBe(false);
    expect(decide({ kind: 'network', code: 'ECONNREFUSED' }, 'unsafe').retry).toBe(true);
    expect(decide({ kind: 'network', code: 'ECONNREFUSED' }, 'safe', 3).retry).toBe(false);
    expect(decide({ kind: 'network', code: 'ENOTFOUND' }, 'safe').retry).toBe(false);
  });
  it('does not retry timeouts, nor past the retry budget, nor a Retry-After beyond the cap', () => {
    expect(decide({ kind: 'timeout' }, 'safe').retry).toBe(false);
    expect(decide({ kind: 'status', status: 503 }, 'safe', DEFAULT_RETRY_POLICY.retries + 1)).toEqual({ retry: false, retryAfterMs: undefined });
    expect(decide({ kind: 'status', status: 429, retryAfter: '600' }, 'safe')).toEqual({ retry: false, retryAfterMs: 600_000 });
  });
});
