// Request bodies: size limit, JSON content type, strict parsing with the error's position.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './router.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** Past the limit we keep reading (and discarding) this much so the client sees the 413, then drop the connection. */
const DRAIN_LIMIT = 8 * 1024 * 1024;

export async function readJsonBody(req: IncomingMessage, limit = DEFAULT_BODY_LIMIT): Promise<Record<string, unknown>> {
  const declared = req.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  const hasBody = (length !== undefined && length > 0) || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    // POSTs that carry nothing (revoke, cancel) may omit the body altogether.
    return {};
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    await drain(req);
    throw new HttpError(415, 'invalid', `request body must be application/json (got ${req.headers['content-type'] ? JSON.stringify(req.headers['content-type']) : 'no Content-Type'})`);
  }
  const charset = charsetOf(req.headers['content-type']!);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    await drain(req);
    throw new HttpError(415, 'invalid', `request body must be UTF-8 (got charset ${JSON.stringify(charset)})`);
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') {
    await drain(req);
    throw new HttpError(415, 'invalid', `request body must not be encoded (got Content-Encoding ${JSON.stringify(req.headers['content-encoding'])})`);
  }
  if (length !== undefined && length > limit) {
    await drain(req);
    throw tooLarge(limit);
  }
  const text = await readText(req, limit);
  return parseJsonObject(text);
}

export function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const type = value.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function charsetOf(contentType: string): string | undefined {
  for (const param of contentType.split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq >= 0 && param.slice(0, eq).trim().toLowerCase() === 'charset') return param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return undefined;
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'invalid', `request body is larger than ${limit} bytes`, { connection: 'close' });
}

/** Shared: decode() without { stream: true } keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function readText(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (over) {
        if (size > DRAIN_LIMIT) req.destroy();
        return;
      }
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) return reject(tooLarge(limit));
      // Buffer#toString would turn bad bytes into U+FFFD silently and store them.
      try {
        resolve(UTF8.decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
      } catch {
        reject(new HttpError(400, 'invalid', 'request body is not valid UTF-8'));
      }
    });
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new HttpError(400, 'invalid', 'request body was cut off'));
    });
  });
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > DRAIN_LIMIT) {
        req.destroy();
        resolve();
      }
    });
    req.on('end', resolve);
    req.on('close', resolve);
    req.on('error', () => resolve());
  });
}

/** JSON.parse for request bodies: an object at the top, and a 400 that says where the text went wrong. */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const at = locateJsonError(text);
    throw new HttpError(400, 'invalid', `malformed JSON at line ${at.line} column ${at.column} (position ${at.position}): ${at.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'invalid', 'request body must be a JSON object');
  }
  // Everything after parsing (validation, the store's JSON.stringify) recurses: a body nested
  // thousands deep would overflow the stack there and answer 500.
  if (depthExceeds(value, MAX_JSON_DEPTH)) throw new HttpError(400, 'invalid', `request body is nested more than ${MAX_JSON_DEPTH} levels deep`);
  // A \uD800 escape without its pair is valid JSON but no text: SQLite, YAML and terminals would mangle it.
  const surrogate = text.includes('\\u') ? loneSurrogatePath(value) : undefined;
  if (surrogate) throw new HttpError(400, 'invalid', `${surrogate} contains a lone surrogate (not valid Unicode)`);
  return value as Record<string, unknown>;
}

/** Deeper than any real request (a policy document inside a change is about 10 levels). */
export const MAX_JSON_DEPTH = 64;

/** Code units, not code points (no `u` flag): a high half not followed by a low one, or a low one alone. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path (body.a.b[0]) of the first string or key holding a lone surrogate, if any. */
function loneSurrogatePath(root: object): string | undefined {
  const stack: Array<[unknown, string]> = [[root, 'body']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return path;
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        const childPath = Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`;
        if (LONE_SURROGATE.test(k)) return childPath;
        stack.push([child, childPath]);
      }
    }
  }
  return undefined;
}

/** Recursive, but it stops one level past `max`, so the check itself cannot overflow the stack. */
function depthExceeds(v: object, max: number, depth = 1): boolean {
  if (depth > max) return true;
  if (Array.isArray(v)) {
    for (const child of v) if (child !== null && typeof child === 'object' && depthExceeds(child as object, max, depth + 1)) return true;
  } else {
    for (const key in v) {
      const child = (v as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object' && depthExceeds(child, max, depth + 1)) return true;
    }
  }
  return false;
}

export interface JsonErrorLocation {
  position: number;
  line: number;
  column: number;
  message: string;
}

/**
 * Where a text stops being JSON. JSON.parse's messages differ between V8 versions and do not
 * always carry a position, so on failure (only) we scan the text ourselves.
 */
export function locateJsonError(text: string): JsonErrorLocation {
  let i = 0;
  const fail = (message: string): never => {
    throw Object.assign(new Error(message), { position: i });
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`unexpected ${describe(text, i)}`);
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 2;
            fail('bad \\u escape in string');
          }
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          i++;
          fail('bad escape in string');
        }
        i += 2;
        continue;
      }
      i++;
    }
    fail('unterminated string');
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || m[0] === '-') fail(`unexpected ${describe(text, i)}`);
    i += m![0].length;
  };
  /** Consumes the opening bracket; true when the container is empty (its closing bracket consumed too). */
  const empty = (close: '}' | ']'): boolean => {
    i++;
    ws();
    if (text[i] !== close) return false;
    i++;
    return true;
  };
  /** After a member: true when a ',' says another follows, false at the closing bracket. */
  const more = (close: '}' | ']'): boolean => {
    ws();
    if (text[i] === ',') {
      i++;
      return true;
    }
    if (text[i] === close) {
      i++;
      return false;
    }
    return fail(`expected ',' or '${close}', found ${describe(text, i)}`);
  };
  const value = (depth: number): void => {
    if (depth > 512) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      if (empty('}')) return;
      do {
        ws();
        if (text[i] !== '"') fail(`expected a property name in double quotes, found ${describe(text, i)}`);
        string();
        ws();
        if (text[i] !== ':') fail(`expected ':' after property name, found ${describe(text, i)}`);
        i++;
        value(depth + 1);
      } while (more('}'));
      return;
    }
    if (c === '[') {
      if (empty(']')) return;
      do value(depth + 1);
      while (more(']'));
      return;
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    return number();
  };
  let message = 'not valid JSON';
  try {
    value(0);
    ws();
    if (i < text.length) fail(`unexpected ${describe(text, i)} after the JSON value`);
  } catch (error) {
    message = (error as Error).message;
  }
  const before = text.slice(0, i);
  const line = before.split('\n').length;
  const column = i - before.lastIndexOf('\n');
  return { position: i, line, column, message };
}

function describe(text: string, i: number): string {
  if (i >= text.length) return 'end of input';
  return `'${text[i]}'`;
}
