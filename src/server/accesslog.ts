// Structured access log: one JSON line per request on stderr. Never tokens, credentials or
// query values that could hold one. Lines are batched per event-loop turn: one write, not one
// per request, on the check-in hot path.

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

const SENSITIVE = /token|secret|key|credential|password|auth/i;

/** The path plus its query with the values of anything secret-looking replaced. */
export function loggablePath(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  if (q < 0) return rawUrl;
  const params = new URLSearchParams(rawUrl.slice(q + 1));
  for (const key of new Set(params.keys())) {
    if (SENSITIVE.test(key)) params.set(key, 'REDACTED');
  }
  const query = params.toString();
  return query ? `${rawUrl.slice(0, q)}?${query}` : rawUrl.slice(0, q);
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
