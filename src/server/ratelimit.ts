// Token buckets: each key (an API token, a device, a client address) refills `rate` tokens per
// second up to `burst`; a request takes one. An empty bucket answers 429 with Retry-After.
import { UsageError } from '../errors.js';

export interface BucketConfig {
  /** Tokens added per second. */
  rate: number;
  /** Bucket size: how many requests may come at once. */
  burst: number;
}

export interface RateLimitConfig {
  /** Per admin API token. */
  token?: BucketConfig | false;
  /** Per enrolled device (check-ins, results). */
  device?: BucketConfig | false;
  /** Per client address, for unauthenticated enrollment. */
  enroll?: BucketConfig | false;
}

export const DEFAULT_RATE_LIMITS: Required<RateLimitConfig> = {
  token: { rate: 50, burst: 200 },
  device: { rate: 2, burst: 10 },
  // Generous: a whole office (or the simulator) enrolls from one address behind NAT.
  enroll: { rate: 200, burst: 1000 },
};

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly config: BucketConfig) {}

  /** Takes one token; returns 0 when allowed, else the whole seconds to wait. */
  take(key: string, nowMs: number): number {
    const { rate, burst } = this.config;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: burst, at: nowMs };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.at) / 1000) * rate);
      bucket.at = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
  }

  /** Forgets buckets that have refilled: they behave exactly like new ones. */
  sweep(nowMs: number): void {
    const { rate, burst } = this.config;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((nowMs - bucket.at) / 1000) * rate >= burst) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** `RATE[/BURST]` (per second; burst defaults to RATE), or `off`. */
export function parseBucketConfig(text: string, what: string): BucketConfig | false {
  const t = text.trim().toLowerCase();
  if (t === 'off' || t === '0' || t === 'none') return false;
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(t);
  const rate = m ? Number(m[1]) : NaN;
  const burst = m?.[2] !== undefined ? Number(m[2]) : Math.max(1, Math.ceil(rate));
  if (!m || !(rate > 0) || !(burst >= 1)) {
    throw new UsageError(`invalid ${what} "${text}": expected RATE[/BURST] requests per second, e.g. 50/200, or off`);
  }
  return { rate, burst };
}
