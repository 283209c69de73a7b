// A scripted stand-in for `emmctl server`, for fault injection only: it answers with OUR OWN
// server's wire format (JSON bodies, {"error":{code,message}}, Retry-After) but lets a test say
// "429 first, then 200" or "drop the connection", which the real server cannot be made to do on
// cue. Everything else about the driver is tested against the real server (test/contract/http).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One scripted answer: a status + JSON body (+ headers), raw text, a dropped connection, or silence. */
export type Step =
  | { status: number; json?: unknown; headers?: Record<string, string> }
  | { status: number; text: string; headers?: Record<string, string> }
  | { reset: true }
  | { hang: true };

export interface FakeServer {
  url: string;
  seen: SeenRequest[];
  /** Answers for the next requests, in order; once used up, `fallback` answers. */
  script(...steps: Step[]): void;
  fallback: (req: SeenRequest) => Step;
  close(): Promise<void>;
}

export async function startFakeServer(): Promise<FakeServer> {
  const queue: Step[] = [];
  const hanging: ServerResponse[] = [];
  const fake: FakeServer = {
    url: '',
    seen: [],
    script: (...steps) => {
      queue.length = 0;
      queue.push(...steps);
    },
    fallback: () => ({ status: 200, json: { items: [] } }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      fake.seen.push(seen);
      const step = queue.shift() ?? fake.fallback(seen);
      if ('reset' in step) {
        req.socket.destroy();
        return;
      }
      if ('hang' in step) {
        hanging.push(res);
        return;
      }
      const text = 'text' in step ? step.text : JSON.stringify(step.json ?? {});
      res.writeHead(step.status, { 'content-type': 'text' in step ? 'text/html' : 'application/json', ...step.headers });
      res.end(step.status === 204 ? undefined : text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export const error = (status: number, code: string, message: string, headers?: Record<string, string>): Step => ({ status, json: { error: { code, message } }, headers });
