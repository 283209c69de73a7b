// Small stand-ins for Google's endpoints, for the client and auth tests before (and beside) the
// fake AMAPI (fake-amapi.ts): a real HTTP server on 127.0.0.1 whose answers each test scripts,
// recording what was sent so the test can check it (method, path, query, headers, body), and a
// fresh RSA key as a service account key file would hold it.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Seen {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: IncomingMessage['headers'];
  text: string;
  body?: unknown;
  /** The client's port: the same for requests on one kept-alive connection. */
  port: number;
}

export type Handler = (req: Seen, res: ServerResponse) => void | Promise<void>;

export interface LocalServer {
  url: string;
  seen: Seen[];
  /** The next answers, in order; when none is left, `fallback` answers. */
  handlers: Handler[];
  fallback: Handler;
  close(): Promise<void>;
}

export async function startLocal(fallback: Handler = (_q, res) => json(res, 404, { error: { code: 404, message: 'no handler', status: 'NOT_FOUND' } })): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://x');
    const query: Record<string, string | string[]> = {};
    for (const k of new Set(u.searchParams.keys())) {
      const all = u.searchParams.getAll(k);
      query[k] = all.length === 1 ? all[0]! : all;
    }
    let body: unknown;
    if (text !== '' && String(req.headers['content-type'] ?? '').startsWith('application/json')) body = JSON.parse(text);
    const seen: Seen = { method: req.method ?? '', path: decodeURIComponent(u.pathname), query, headers: req.headers, text, body, port: req.socket.remotePort ?? 0 };
    local.seen.push(seen);
    const handler = local.handlers.shift() ?? local.fallback;
    await handler(seen, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const local: LocalServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    seen: [],
    handlers: [],
    fallback,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return local;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A google.rpc.Status error answer. */
export function rpcError(res: ServerResponse, code: number, status: string, message: string, headers: Record<string, string> = {}): void {
  json(res, code, { error: { code, message, status } }, headers);
}

/** Drops the connection without an answer (the request was read: a lost response). */
export function drop(_q: Seen, res: ServerResponse): void {
  res.socket?.destroy();
}

/** Never answers (until the server closes). */
export function hang(): void {}

export interface TestKey {
  privateKeyPem: string;
  publicKeyPem: string;
  jwk: Record<string, unknown>;
  kid: string;
}

export function rsaKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(20).toString('hex');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
    kid,
  };
}

/** A service account key file's JSON, as Google Cloud hands it out. */
export function keyFileJson(key: TestKey, tokenUri: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: 'service_account',
    project_id: 'emmctl-test',
    private_key_id: key.kid,
    private_key: key.privateKeyPem,
    client_email: 'emmctl@emmctl-test.iam.gserviceaccount.com',
    client_id: '100000000000000000001',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: 'https://www.googleapis.com/robot/v1/metadata/x509/emmctl%40emmctl-test.iam.gserviceaccount.com',
    universe_domain: 'googleapis.com',
    ...extra,
  }, null, 2);
}
