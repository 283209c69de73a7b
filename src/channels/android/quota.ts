// A client-side limiter for AMAPI's per-project quota (by default 1,000 queries per 100 seconds):
// asking within it avoids the 429 storms that would slow every replica down. A sliding window of
// the last `limit` send times: a query may go when fewer than `limit` went in the past `windowMs`;
// otherwise `take` says how long until the oldest leaves the window. The clock is an argument.
// One limiter counts one process's queries: several replicas share one project's quota, so each
// is to get its share (limit / replicas) until the budget is kept in the store.

export const AMAPI_QUOTA = { limit: 1000, windowMs: 100_000 } as const;

export class QuotaWindow {
  private readonly sent: number[];
  private head = 0;
  private count = 0;

  constructor(
    readonly limit: number = AMAPI_QUOTA.limit,
    readonly windowMs: number = AMAPI_QUOTA.windowMs,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`quota limit must be a positive whole number (got ${limit})`);
    if (!(windowMs > 0)) throw new Error(`quota window must be positive (got ${windowMs})`);
    this.sent = new Array<number>(limit).fill(0);
  }

  /** Records a query at `now` and returns 0, or records nothing and returns the milliseconds to wait. */
  take(now: number): number {
    // Drop what left the window; a clock that stepped back keeps the entries (never sends early).
    while (this.count > 0 && this.sent[this.head]! <= now - this.windowMs) {
      this.head = (this.head + 1) % this.limit;
      this.count--;
    }
    if (this.count >= this.limit) return this.sent[this.head]! + this.windowMs - now;
    this.sent[(this.head + this.count) % this.limit] = now;
    this.count++;
    return 0;
  }

  /** Queries counted in the window ending at the last `take`. */
  get used(): number {
    return this.count;
  }
}
