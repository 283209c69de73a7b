// An access token held in memory until shortly before it expires, for the clients that sign in to
// a vendor (Google's AMAPI, Microsoft Graph). Every caller that finds none valid waits on one
// shared refresh, so a burst of requests makes one token request, not one each. A refresh that
// fails is not remembered: the next call tries again.

/** What a refresh gives: the token and when it expires (ms since the epoch). */
export interface IssuedToken {
  token: string;
  expiresAt: number;
}

export interface TokenCacheOptions {
  /**
   * How long before its expiry a token is renewed, at most; never later than halfway through its
   * life, so a short-lived token is still reused and a request started just before expiry does
   * not arrive with a dead one.
   */
  maxMarginMs: number;
  /** ms since the epoch (default Date.now). */
  now?: () => number;
}

export class TokenCache {
  private cached?: { token: string; renewAt: number };
  private pending?: Promise<string>;
  private readonly now: () => number;

  constructor(private readonly refresh: () => Promise<IssuedToken>, private readonly options: TokenCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A valid token; concurrent callers share one refresh. */
  token(): Promise<string> {
    if (this.cached && this.now() < this.cached.renewAt) return Promise.resolve(this.cached.token);
    this.pending ??= this.renew().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the token (the vendor answered 401 to it: revoked, or the clock is off). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async renew(): Promise<string> {
    const issued = await this.refresh();
    const receivedAt = this.now();
    const lifeMs = Math.max(0, issued.expiresAt - receivedAt);
    this.cached = { token: issued.token, renewAt: issued.expiresAt - Math.min(this.options.maxMarginMs, lifeMs / 2) };
    return issued.token;
  }
}
