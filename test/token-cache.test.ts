// The in-memory token cache both vendor sign-ins use (src/token-cache.ts: Google's JWT bearer
// exchange, Microsoft's client credentials): its rules on their own, with a refresh that counts
// its calls and a clock the test moves. The sign-ins themselves are tested against their fakes
// (test/android/auth.test.ts, test/intune/).
import { describe, expect, it } from 'vitest';
import { TokenCache, type IssuedToken } from '../src/token-cache.js';

const MINUTE = 60_000;

/** A refresh whose answers the test releases one at a time, and a clock it sets. */
function harness(lifeMs: number, maxMarginMs: number) {
  let now = Date.parse('2026-01-01T00:00:00.000Z');
  let issued = 0;
  const waiting: Array<{ resolve: (t: IssuedToken) => void; reject: (e: Error) => void }> = [];
  const cache = new TokenCache(() => new Promise<IssuedToken>((resolve, reject) => waiting.push({ resolve, reject })), { maxMarginMs, now: () => now });
  return {
    cache,
    get calls() {
      return issued + waiting.length;
    },
    /** Answers the oldest refresh with a new token of lifeMs. */
    answer(): string {
      const token = `t${++issued}`;
      waiting.shift()!.resolve({ token, expiresAt: now + lifeMs });
      return token;
    },
    fail(message: string): void {
      issued++;
      waiting.shift()!.reject(new Error(message));
    },
    advance(ms: number): void {
      now += ms;
    },
  };
}

/** Lets the promise callbacks queued so far run. */
const settle = () => new Promise((r) => setImmediate(r));

/** Asks for a token that must take a new refresh (the nth), answers it, and returns what the caller got. */
async function refreshed(h: ReturnType<typeof harness>, nth: number): Promise<string> {
  const asked = h.cache.token();
  await settle();
  expect(h.calls).toBe(nth);
  const token = h.answer();
  expect(await asked).toBe(token);
  return token;
}

describe('TokenCache', () => {
  it('reuses a token until maxMarginMs before it expires, and renews it from then on', async () => {
    const h = harness(60 * MINUTE, 5 * MINUTE);
    const t1 = await refreshed(h, 1);
    h.advance(55 * MINUTE - 1);
    expect(await h.cache.token()).toBe(t1);
    expect(h.calls).toBe(1);
    h.advance(1);
    expect(await refreshed(h, 2)).not.toBe(t1);
  });

  it('renews a short-lived token halfway through its life, never after it is dead', async () => {
    const h = harness(2 * MINUTE, 5 * MINUTE);
    const t1 = await refreshed(h, 1);
    h.advance(MINUTE - 1);
    expect(await h.cache.token()).toBe(t1);
    h.advance(1);
    await refreshed(h, 2);
  });

  it('makes one refresh for any number of concurrent callers, who all get its token', async () => {
    const h = harness(60 * MINUTE, MINUTE);
    const callers = Array.from({ length: 20 }, () => h.cache.token());
    await settle();
    expect(h.calls).toBe(1);
    const t1 = h.answer();
    expect(await Promise.all(callers)).toEqual(Array(20).fill(t1));
    expect(await h.cache.token()).toBe(t1);
    expect(h.calls).toBe(1);
  });

  it('does not keep a failed refresh: its callers all get the error, the next call refreshes again', async () => {
    const h = harness(60 * MINUTE, MINUTE);
    const callers = Array.from({ length: 5 }, () => h.cache.token());
    await settle();
    h.fail('token endpoint down');
    for (const c of await Promise.allSettled(callers)) expect(c).toMatchObject({ status: 'rejected', reason: { message: 'token endpoint down' } });
    await refreshed(h, 2);
  });

  it('forgets the token on invalidate (a 401): the next call refreshes', async () => {
    const h = harness(60 * MINUTE, MINUTE);
    const t1 = await refreshed(h, 1);
    expect(await h.cache.token()).toBe(t1);
    h.cache.invalidate();
    expect(await refreshed(h, 2)).not.toBe(t1);
  });
});
