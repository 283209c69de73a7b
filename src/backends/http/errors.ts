// Turns what happened on the wire into a BackendError that says what failed, where, and what to do.
// Messages name the server URL and the request line, never a token.
import { BackendError, OutcomeUnknownError, type BackendErrorCode } from '../../errors.js';

export interface RequestLine {
  method: string;
  /** Path without the query string (query values may carry cursors or filters, not secrets, but are noise). */
  path: string;
  /** What the request does, for "your token's role viewer cannot <action>". */
  action: string;
}

/** The JSON error body the server sends: {"error":{"code","message"}}. */
export interface ServerErrorBody {
  code: string;
  message: string;
  /** The resource a refused apply names (`Kind/name`), when the refusal is about one document. */
  document?: string;
}

function readErrorBody(body: unknown): ServerErrorBody | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message, document } = error as { code?: unknown; message?: unknown; document?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return typeof document === 'string' ? { code, message, document } : { code, message };
}

/** readErrorBody on a response's text; undefined when the text is not JSON at all. */
export function parseErrorBody(text: string | undefined): ServerErrorBody | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
  return readErrorBody(parsed);
}

const SERVER_HINT = 'start one with `emmctl server --listen HOST:PORT`, or point EMMCTL_SERVER (or --context) at a running one';

export function unreachableError(server: string, code: string, req: RequestLine, attempts: number): BackendError {
  const tried = attempts > 1 ? ` (${attempts} attempts)` : '';
  const hint = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `check the host name in ${server}; ${SERVER_HINT}` : SERVER_HINT;
  return new BackendError('unavailable', `cannot reach emmctl server at ${server}: ${code} — is it running?${tried}`, { hint });
}

export function timeoutError(server: string, timeoutMs: number, req: RequestLine): BackendError {
  return new BackendError('unavailable', `emmctl server at ${server} did not answer ${req.method} ${req.path} within ${formatMs(timeoutMs)}`, {
    hint: 'the server may be overloaded or stuck; check its log and try again',
  });
}

/** What a write may have done when its answer was lost, and what to do about it. */
export interface IfLost {
  /** e.g. "the enrollment token may have been created". */
  what: string;
  hint: string;
}

/** A write sent but not answered: neither failure nor success (exit 7). */
export function outcomeUnknownError(server: string, req: RequestLine, lost: string, attempts: number, ifLost: IfLost | undefined): OutcomeUnknownError {
  const tried = attempts > 1 ? ` (${attempts} attempts)` : '';
  return new OutcomeUnknownError(
    `${ifLost?.what ?? `the request to ${req.action} may or may not have been carried out`} (the answer from ${server} to ${req.method} ${req.path} was lost: ${lost}${tried})`,
    { hint: ifLost?.hint ?? 'check the result before trying again' },
  );
}

export function protocolError(server: string, req: RequestLine, status: number, what: string): BackendError {
  return new BackendError('protocol', `unexpected response from ${server} to ${req.method} ${req.path} (HTTP ${status}): ${what}`, {
    status,
    hint: `is ${server} an emmctl server of a matching version? check with: curl ${server}/healthz`,
  });
}

export interface StatusContext {
  server: string;
  req: RequestLine;
  status: number;
  body: ServerErrorBody | undefined;
  hasToken: boolean;
  /** The caller's role, looked up after a 403. */
  role?: string;
  /** For 429 when retries ran out or the server asked for too long a wait. */
  retryAfterMs?: number;
  attempts: number;
  /** Set when the request was replayed: a 409 may then mean an earlier attempt already landed. */
  replayed: boolean;
}

const REQUIRED_ROLE_HINT =
  'viewers read; operators also apply, lock and reboot; admins also wipe, retire, prune and manage tokens — create a token with the right role with `emmctl server token create --role ROLE`';

export function statusError(c: StatusContext): BackendError {
  const { server, req, status, body } = c;
  const said = body?.message;
  const at = `${req.method} ${req.path}`;
  const make = (code: BackendErrorCode, message: string, hint?: string) => new BackendError(code, message, { status, hint });
  switch (status) {
    case 400:
      return make('invalid', `${server} rejected ${at}: ${said ?? 'bad request'}`);
    case 401:
      return c.hasToken
        ? make('unauthorized', `token rejected by ${server}${said ? ` (${said})` : ''}`, 'create one with `emmctl server token create --role admin --name NAME --data-dir DIR` on the server host (DIR: the store it serves), then set EMMCTL_TOKEN')
        : make('unauthorized', `${server} needs an API token and none is configured`, 'create one with `emmctl server token create --role admin --name NAME --data-dir DIR` on the server host (DIR: the store it serves), then set EMMCTL_TOKEN');
    case 403:
      // A refusal about one document (a step that queues retire) says which: the role alone does not explain it.
      if (c.role && body?.document) return make('forbidden', `your token's role ${c.role} cannot ${req.action}: ${said}`, REQUIRED_ROLE_HINT);
      return make('forbidden', c.role ? `your token's role ${c.role} cannot ${req.action}` : `your token cannot ${req.action}${said ? ` (${said})` : ''}`, REQUIRED_ROLE_HINT);
    case 404:
      return make('not_found', said ?? `not found: ${at}`);
    case 409:
      return make(
        'conflict',
        said ?? `conflict: ${at}`,
        c.replayed
          ? 'the connection dropped and the request was sent again: the first attempt may already have been applied — run `emmctl plan` to see what is left'
          : 'the backend changed since you last read it; run `emmctl plan` again',
      );
    case 422:
      return make('invalid', `${server} rejected ${at}: ${said ?? 'the documents do not validate'}`, 'run `emmctl validate` on the policy files');
    case 413:
      return make('invalid', `${server} refused ${at}: request body too large${said ? ` (${said})` : ''}`, 'send fewer changes or devices per request');
    case 415:
      return make('protocol', `${server} refused ${at}: ${said ?? 'unsupported media type'}`);
    case 429: {
      const wait = c.retryAfterMs !== undefined ? `; the server asks to wait ${formatMs(c.retryAfterMs)}` : '';
      return make('rate_limited', `rate limited by ${server} on ${at} after ${c.attempts} attempt${c.attempts === 1 ? '' : 's'}${wait}`, 'slow down, or ask the server operator to raise the per-token rate limit');
    }
    default:
      if (status >= 500) {
        const tried = c.attempts > 1 ? ` after ${c.attempts} attempts` : '';
        return make('unavailable', `${server} failed ${at} with HTTP ${status}${tried}${said ? `: ${said}` : ''}`, 'see the server log for details; retry later');
      }
      return make('protocol', `unexpected HTTP ${status} from ${server} for ${at}${said ? `: ${said}` : ''}`);
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

/** Shorter "tokens" are no secret any server issues, and masking them would garble words (`x` in `--context`). */
const MIN_REDACTED_LENGTH = 8;

/** Belt and braces: whatever a server echoes back, the token never reaches a message. */
export function redact(error: BackendError, secret: string | undefined): BackendError {
  if (!secret || secret.length < MIN_REDACTED_LENGTH) return error;
  if (!error.message.includes(secret) && !(error.hint ?? '').includes(secret)) return error;
  return new BackendError(error.code, error.message.split(secret).join('***'), {
    status: error.status,
    hint: error.hint?.split(secret).join('***'),
  });
}
