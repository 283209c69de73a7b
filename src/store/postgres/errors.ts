// Which PostgreSQL failures mean "try the transaction again" and which mean "the database is not
// there" (the server answers 503 + Retry-After and the CLI retries).

/** SQLSTATEs after which running the whole transaction again can succeed. */
export function isRetryable(e: unknown): boolean {
  const code = sqlState(e);
  return code === '40001' /* serialization_failure */ || code === '40P01' /* deadlock_detected */;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** True when the error says the database cannot be reached or went away, not that the request was wrong. */
export function isUnavailable(e: unknown): boolean {
  const code = sqlState(e);
  if (code !== undefined) {
    // 08: connection exceptions; 57P01-57P03: admin/crash shutdown, cannot connect now (starting
    // up, recovering); 53300: too many connections.
    return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300';
  }
  const errno = (e as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && UNREACHABLE_CODES.has(errno)) return true;
  // node-postgres reports these as plain Errors without a code.
  const message = e instanceof Error ? e.message : '';
  return /^Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection terminated due to connection timeout|Client was closed and is not queryable|Cannot use a pool after calling end/.test(message);
}

export function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  // SQLSTATEs are five digits and capitals, and no class starts with E: errno codes (EPIPE) do.
  return typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code) ? code : undefined;
}
