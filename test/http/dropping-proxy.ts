// A loopback proxy in front of a real `emmctl server` that loses answers on purpose: a request
// picked by `lose` is forwarded and fully carried out by the server, then the client's connection
// is dropped (or left hanging) instead of receiving the answer — the "it landed, but we never
// heard back" case that only a man in the middle can produce on cue.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Loss = 'drop' | 'hang' | false;

export interface DroppingProxy {
  url: string;
  /** Decides per request; default: lose nothing. */
  lose: (method: string, url: string) => Loss;
  /** Requests the server answered but the client never got. */
  lost: number;
  close(): Promise<void>;
}

export async function startDroppingProxy(upstream: string): Promise<DroppingProxy> {
  const target = new URL(upstream);
  const hanging: ServerResponse[] = [];
  const proxy: DroppingProxy = {
    url: '',
    lose: () => false,
    lost: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const loss = proxy.lose(req.method ?? 'GET', req.url ?? '/');
      const headers = { ...req.headers, host: target.host, connection: 'close' };
      const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
        const body: Buffer[] = [];
        answer.on('data', (c: Buffer) => body.push(c));
        answer.on('end', () => {
          // The server has finished the request; now the answer goes missing.
          if (loss === 'drop') {
            proxy.lost++;
            req.socket.destroy();
            return;
          }
          if (loss === 'hang') {
            proxy.lost++;
            hanging.push(res);
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(body));
        });
      });
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
