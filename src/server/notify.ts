// Notification webhooks: the server posts each escalation event (a notify step fired, an
// escalation command queued) to every configured URL, signed with HMAC-SHA256.
//
// The store writes each event to its outbox in the same transaction that fired the step, so an
// event is never lost to a crash and the check-in or reconcile that fired it never waits on the
// network. This notifier drains the outbox in the background: each channel gets each event,
// retried with exponential backoff; once every channel has delivered or given up, the outcome
// goes to the audit log and the event leaves the outbox. A restart re-sends what was pending,
// so delivery is at least once: receivers deduplicate on the event id. Format: docs/api.md.
//
// With several replicas on one database, one notifier delivers: the one holding the "notifier"
// lease row (renewed while it runs, given up at shutdown). The others only try to take the lease;
// when its holder dies, the next one takes it once it expires and sends what is still in the
// outbox, so an event is delivered once per channel, not once per replica.
import { createHmac, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { UsageError } from '../errors.js';
import type { NotifyDelivery, OutboxEvent } from '../model/access.js';
import type { Lease } from '../store/repos/leases.js';
import type { ServerStore } from './store.js';

export interface NotifyOptions {
  /** http(s) URLs; every event goes to each. */
  webhooks: string[];
  /** The HMAC-SHA256 key of the signature header. */
  secret: string;
  /** Attempts per channel and event, the first included (default 6). */
  attempts?: number;
  /** Delay before the first retry, doubled for each further one (default 1000 ms, at most 5 min). */
  backoffMs?: number;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  /** How often the outbox is looked at (default 1 s); the reconcile tick also kicks it. */
  pollMs?: number;
  /** How long the delivery lease lasts unless renewed (default 15 s): the failover time when its holder dies. */
  leaseMs?: number;
}

export const SIGNATURE_HEADER = 'x-emmctl-signature';
const MAX_BACKOFF_MS = 300_000;
const MAX_IN_FLIGHT = 16;
const LEASE = 'notifier';
const PAGE = 50;
/** Seqs this process finished, remembered so a page read just before an event left the outbox does not send it again. */
const MAX_FINISHED = 10_000;

/** The signature a receiver recomputes: hex HMAC-SHA256 of `TIMESTAMP.BODY` with the shared secret. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Checks a `--notify-webhook` value: an absolute http(s) URL. */
export function parseWebhookUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--notify-webhook "${text}" is not a URL`, 'give an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--notify-webhook "${text}": only http:// and https:// URLs are supported`);
  return url.toString();
}

/** The URL as the audit log shows it: no credentials, no query (either may carry a secret). */
export function channelName(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

export class Notifier {
  private readonly store: ServerStore;
  private readonly options: Required<NotifyOptions>;
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly finished = new Set<number>();
  /** What close() must cut short: requests in flight and backoff waits. */
  private readonly pending = new Set<() => void>();
  private timer?: NodeJS.Timeout;
  private draining = false;
  private again = false;
  private drained: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly log: (line: string, level: 'error' | 'info') => void;
  private readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private lease?: Lease;
  /** Local time (ms) after which the lease is renewed before the outbox is read again. */
  private renewAt = 0;
  /** Date.now() of the first failed look at the lease or the outbox since the last one that worked. */
  private downSince?: number;

  /** `log` gets a message and its level: 'error' for a failure, 'info' when the database answers again. */
  constructor(store: ServerStore, options: NotifyOptions, log: (line: string, level: 'error' | 'info') => void = () => {}) {
    this.store = store;
    this.options = { attempts: 6, backoffMs: 1000, timeoutMs: 10_000, pollMs: 1000, leaseMs: 15_000, ...options };
    this.log = log;
  }

  get channels(): number {
    return this.options.webhooks.length;
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Looks for new events now (after a reconcile tick); never waits for their delivery. */
  kick(): void {
    if (this.stopped) return;
    // A kick while the outbox is being read reads it once more afterwards, so no event waits for the next poll.
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = true;
    this.drained = this.drain().finally(() => {
      this.draining = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** True while this notifier holds the delivery lease (taken or renewed here when due). */
  private async holding(): Promise<boolean> {
    if (this.lease && Date.now() < this.renewAt) return true;
    const asked = Date.now();
    this.lease = await this.store.takeLease(LEASE, this.holder, this.options.leaseMs);
    this.answered();
    // Renewed well before it runs out (a third of its time), measured from when it was asked for.
    this.renewAt = asked + this.options.leaseMs / 3;
    return this.lease !== undefined;
  }

  private async drain(): Promise<void> {
    try {
      if (!(await this.holding())) return;
      // Every pass reads the outbox from its start (it holds only what is not yet delivered): a
      // cursor kept across passes would skip for good an event whose transaction took its seq
      // before, but committed after, one already read (PostgreSQL numbers rows when they are
      // written, not in commit order; other replicas write to the outbox too).
      let after = 0;
      while (!this.stopped && this.inFlight.size < MAX_IN_FLIGHT) {
        const events = await this.store.pendingNotifications(after, PAGE);
        this.answered();
        if (!events.length) break;
        for (const event of events) {
          after = event.seq;
          if (this.inFlight.has(event.seq) || this.finished.has(event.seq)) continue;
          if (this.inFlight.size >= MAX_IN_FLIGHT) break;
          const done = this.deliver(event).finally(() => {
            this.inFlight.delete(event.seq);
            this.kick();
          });
          this.inFlight.set(event.seq, done);
        }
      }
    } catch (error) {
      // Polled every pollMs: while the database is down, said once, not on every poll.
      if (this.downSince !== undefined) return;
      this.downSince = Date.now();
      this.log(`notify: cannot take the delivery lease or read the outbox: ${(error as Error).message}; trying again every ${this.options.pollMs} ms, logged again when it works`, 'error');
    }
  }

  /** The lease or the outbox was read: ends a run of failures, saying how long it lasted. */
  private answered(): void {
    if (this.downSince === undefined) return;
    const lasted = Date.now() - this.downSince;
    this.downSince = undefined;
    this.log(`notify: the delivery lease and the outbox can be read again, after ${(lasted / 1000).toFixed(1)} s of failures`, 'info');
  }

  /** Stops: attempts in flight are abandoned and their events stay in the outbox for the next start. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const cancel of [...this.pending]) cancel();
    await this.drained;
    await Promise.allSettled([...this.inFlight.values()]);
    // Another replica takes over at once instead of after the lease runs out.
    if (this.lease) await this.store.releaseLease(this.lease).catch(() => false);
    this.lease = undefined;
  }

  private async deliver(event: OutboxEvent): Promise<void> {
    const deliveries = await Promise.all(this.options.webhooks.map((url) => this.deliverTo(url, event)));
    if (this.stopped) return;
    this.finished.add(event.seq);
    if (this.finished.size > MAX_FINISHED) this.finished.delete(this.finished.values().next().value!);
    try {
      await this.store.finishNotification(event, deliveries);
    } catch (error) {
      // Left in the outbox: sent again after a restart, which the event id makes harmless.
      this.log(`notify: cannot record the delivery of ${event.id}: ${(error as Error).message}`, 'error');
    }
  }

  private async deliverTo(url: string, event: OutboxEvent): Promise<NotifyDelivery> {
    const channel = channelName(url);
    const type = (JSON.parse(event.body) as { type?: string }).type ?? 'unknown';
    let last: NotifyDelivery = { channel, ok: false, attempts: 0 };
    for (let attempt = 1; attempt <= this.options.attempts && !this.stopped; attempt++) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      let retryAfterMs: number | undefined;
      const ac = new AbortController();
      const timeout = setTimeout(() => ac.abort(new DOMException('timed out', 'TimeoutError')), this.options.timeoutMs);
      const cancel = () => ac.abort();
      this.pending.add(cancel);
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': `emmctl/${typeof EMMCTL_VERSION === 'string' ? EMMCTL_VERSION : '0.0.0-dev'}`,
            'x-emmctl-event': type,
            'x-emmctl-event-id': event.id,
            'x-emmctl-delivery-attempt': String(attempt),
            'x-emmctl-timestamp': timestamp,
            [SIGNATURE_HEADER]: signPayload(this.options.secret, timestamp, event.body),
          },
          body: event.body,
          redirect: 'manual',
          signal: ac.signal,
        });
        await response.arrayBuffer().catch(() => undefined);
        last = { channel, ok: response.status >= 200 && response.status < 300, attempts: attempt, status: response.status };
        if (last.ok) return last;
        // A receiver that says the request itself is wrong will say so again: retry only what may pass later.
        if (!(response.status === 408 || response.status === 429 || response.status >= 500)) return { ...last, error: `HTTP ${response.status}` };
        last.error = `HTTP ${response.status}`;
        const ra = Number(response.headers.get('retry-after'));
        if (Number.isFinite(ra) && ra >= 0) retryAfterMs = Math.min(ra * 1000, MAX_BACKOFF_MS);
      } catch (error) {
        if (this.stopped) break;
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        last = { channel, ok: false, attempts: attempt, error: ac.signal.reason instanceof DOMException && ac.signal.reason.name === 'TimeoutError' ? 'timeout' : cause ?? (error as Error).message };
      } finally {
        clearTimeout(timeout);
        this.pending.delete(cancel);
      }
      if (attempt < this.options.attempts) await this.sleep(retryAfterMs ?? Math.min(this.options.backoffMs * 2 ** (attempt - 1), MAX_BACKOFF_MS));
    }
    return last;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.pending.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.pending.add(done);
    });
  }
}
