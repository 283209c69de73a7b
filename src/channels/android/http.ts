// One HTTP exchange with Google (the AMAPI endpoint or the OAuth token endpoint) on node:http,
// because the one fact a non-idempotent write needs is only visible there: whether the request
// had been written out in full when it failed. Before that, Google cannot have acted on it
// (a request with a Content-Length is not processed half-received); after it, a timeout or a reset
// leaves the outcome unknown. No redirects are followed (a bearer token goes nowhere else), the
// whole exchange has one deadline, and an answer is bounded in size.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpExchange {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBytes: number;
  /**
   * On a connection of its own, not a kept-alive one: a server may close an idle connection
   * just as a request goes out on it, and the reset that follows cannot be told from a lost
   * answer. For a write that is never resent blindly, that would be an unknown outcome for nothing.
   */
  fresh?: boolean;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** No (complete) answer came. `sent`: the request had been written out in full, so it may have been carried out. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

// One pool per process: the sync pages through devices.list on kept-alive connections.
const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 16 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 16 }) };

export function exchange(x: HttpExchange): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const https = x.url.protocol === 'https:';
    const headers: Record<string, string> = { ...x.headers };
    if (x.body !== undefined) headers['content-length'] = String(Buffer.byteLength(x.body));
    let written = false;
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new TransportError(message, written));
    };
    const req = (https ? httpsRequest : httpRequest)(x.url, { method: x.method, headers, agent: x.fresh ? false : https ? agents.https : agents.http });
    const timer = setTimeout(() => {
      fail(`no answer within ${Math.round(x.timeoutMs / 100) / 10} s`);
      req.destroy();
    }, x.timeoutMs);
    req.on('finish', () => {
      written = true;
    });
    req.on('error', (error: NodeJS.ErrnoException) => fail(describe(error)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > x.maxBytes) {
          fail(`the answer exceeded ${x.maxBytes} bytes`);
          res.destroy();
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (error: NodeJS.ErrnoException) => fail(describe(error)));
      res.on('aborted', () => fail('the connection closed in the middle of the answer'));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(x.body);
  });
}

function describe(error: NodeJS.ErrnoException): string {
  // The code (ECONNRESET, ENOTFOUND, CERT_HAS_EXPIRED) is what an admin can act on; Node's
  // message adds the address, which the caller names itself.
  return error.code ? `${error.code}${error.syscall ? ` (${error.syscall})` : ''}` : error.message;
}
