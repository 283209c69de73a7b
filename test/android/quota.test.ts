// The client-side AMAPI quota window: never more than `limit` queries in any window, and the
// wait it names is exactly when the next one may go. The clock is injected: no timing in tests.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/agent/fleet.js';
import { AMAPI_QUOTA, QuotaWindow } from '../../src/channels/android/quota.js';

describe('QuotaWindow', () => {
  it('lets 1,000 queries through in 100 s, then names the wait until the oldest leaves the window', () => {
    const q = new QuotaWindow();
    expect([q.limit, q.windowMs]).toEqual([AMAPI_QUOTA.limit, AMAPI_QUOTA.windowMs]);
    for (let i = 0; i < 1000; i++) expect(q.take(1_000 + i)).toBe(0);
    expect(q.take(1_999)).toBe(1_000 + 100_000 - 1_999);
    expect(q.used).toBe(1000);
    expect(q.take(101_000)).toBe(0);
    expect(q.take(101_000)).toBe(1);
  });

  it('never lets more than limit queries into any window, whatever the pattern (seeded)', () => {
    const random = mulberry32(9);
    const q = new QuotaWindow(50, 10_000);
    const sent: number[] = [];
    let now = 0;
    for (let i = 0; i < 5000; i++) {
      now += Math.floor(random() * 400);
      const wait = q.take(now);
      if (wait === 0) sent.push(now);
      else {
        // A millisecond before the instant it named, still refused; at that instant, the query goes.
        expect(q.take(now + wait - 1)).toBeGreaterThan(0);
        now += wait;
        expect(q.take(now)).toBe(0);
        sent.push(now);
      }
    }
    for (let i = 50; i < sent.length; i++) expect(sent[i]! - sent[i - 50]!, `window ending at ${sent[i]}`).toBeGreaterThanOrEqual(10_000);
    expect(sent.length).toBeGreaterThan(1000);
  });

  it('sends nothing early when the clock steps back', () => {
    const q = new QuotaWindow(2, 1000);
    expect([q.take(5000), q.take(5001)]).toEqual([0, 0]);
    expect(q.take(4000)).toBe(5000 + 1000 - 4000);
  });

  it('refuses a limit or window that is not one', () => {
    expect(() => new QuotaWindow(0)).toThrow('positive whole number');
    expect(() => new QuotaWindow(10, 0)).toThrow('positive');
  });
});
