// Structured access log: one JSON line per request on stderr. Never tokens, credentials or
// query values that could hold one. Lines are batched per event-loop turn: one write, not one
// per request, on the check-in hot path.

import { SECRET_PREFIX } from '../store/secrets.js';

export type LogSink = (line: string) => void;

export interface AccessLogEntry {
  time: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  actor?: string;
  ip: string;
  /** The error code for failed requests. */
  error?: string;
}

/** Parameter names (matched case-insensitively, anywhere in the name) whose values are never logged. */
const SENSITIVE = /token|secret|key|credential|pass|pwd|psk|auth|session|bearer|sig/i;
/** Our own secrets carry a readable prefix: one pasted into a path or any value is redacted too. */
const OUR_SECRET = new RegExp(Object.values(SECRET_PREFIX).join('|'), 'i');

function looksSecret(text: string): boolean {
  if (OUR_SECRET.test(text)) return true;
  try {
    return OUR_SECRET.test(decodeURIComponent(text));
  } catch {
    return false;
  }
}

/** The path plus its query with path segments and values of anything secret-looking replaced. */
export function loggablePath(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const path = rawPath.split('/').map((seg) => (looksSecret(seg) ? 'REDACTED' : seg)).join('/');
  if (q < 0) return path;
  const params = new URLSearchParams(rawUrl.slice(q + 1));
  for (const key of new Set(params.keys())) {
    if (SENSITIVE.test(key) || looksSecret(key) || params.getAll(key).some(looksSecret)) params.set(key, 'REDACTED');
  }
  // A secret pasted as a parameter name: drop the name itself.
  for (const key of [...new Set(params.keys())]) {
    if (looksSecret(key)) {
      params.delete(key);
      params.append('REDACTED', 'REDACTED');
    }
  }
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

export class BatchedWriter {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly write: (chunk: string) => void) {}

  readonly line: LogSink = (line) => {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  };

  flush(): void {
    this.scheduled = false;
    if (!this.pending.length) return;
    const chunk = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.write(chunk);
  }
}
