// An apply whose answer is lost (issue 7, item 14): a proxy in front of a real `emmctl server`
// forwards the request, lets the server apply it, and then drops the connection instead of
// passing the answer on. The CLI retries with the same Idempotency-Key and gets the first result;
// when every answer is lost it says the apply may have happened and exits 7.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sandbox, startServer, type RunningServer, type Sandbox } from '../plan/fixtures.js';
import { call } from '../server/helpers.js';

interface DropProxy {
  url: string;
  /** How many apply answers to swallow from now on (Infinity: all). */
  dropApplies: number;
  applyKeys: string[];
  close(): Promise<void>;
}

async function startDropProxy(upstream: string): Promise<DropProxy> {
  const target = new URL(upstream);
  const proxy: DropProxy = { url: '', dropApplies: 0, applyKeys: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const isApply = req.method === 'POST' && req.url === '/v1/resources/apply';
      if (isApply) proxy.applyKeys.push(String(req.headers['idempotency-key']));
      const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (upRes) => {
        const body: Buffer[] = [];
        upRes.on('data', (c: Buffer) => body.push(c));
        upRes.on('end', () => {
          // The server has answered, so the apply happened; the client never hears of it.
          if (isApply && proxy.dropApplies > 0) {
            proxy.dropApplies -= 1;
            req.socket.destroy();
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          res.end(Buffer.concat(body));
        });
      });
      up.on('error', () => req.socket.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return proxy;
}

let sb: Sandbox;
let server: RunningServer;
let proxy: DropProxy;
beforeAll(async () => {
  sb = sandbox();
  server = await startServer(join(sb.root, 'server-data'));
  proxy = await startDropProxy(server.url);
});
afterEach(() => {
  proxy.dropApplies = 0;
  proxy.applyKeys.length = 0;
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  sb?.cleanup();
});

const viaProxy = () => ({ env: { EMMCTL_DATA_DIR: undefined, EMMCTL_SERVER: proxy.url, EMMCTL_TOKEN: server.token } });
async function appliedAudit(): Promise<number> {
  const r = await call(server.url, 'GET', '/v1/audit?limit=1000', { token: server.token });
  return (r.body.items as Array<{ action: string }>).filter((a) => a.action === 'apply').length;
}

describe('apply when the answer is lost', () => {
  it('a retry of an apply that landed reports its result, applied once', async () => {
    proxy.dropApplies = 1;
    const r = await sb.cli(['apply', '--yes'], viaProxy());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Apply complete: 5 created, 0 updated, 0 deleted.');
    expect(r.stderr).not.toContain('stale');
    // Two attempts, one key: the second got the first one's result.
    expect(proxy.applyKeys).toHaveLength(2);
    expect(new Set(proxy.applyKeys).size).toBe(1);
    expect(await appliedAudit()).toBe(5);
    const again = await sb.cli(['plan', '--detailed-exitcode'], viaProxy());
    expect(again.code, again.stdout).toBe(0);
  });

  it('when every answer is lost it says the apply may have happened, and exits 7', async () => {
    sb.write('policies/policies.yaml', (await import('../plan/fixtures.js')).policies(9));
    proxy.dropApplies = Infinity;
    const r = await sb.cli(['apply', '--yes'], viaProxy());
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toContain('may have been applied');
    expect(r.stderr).toContain('re-run `emmctl plan`');
    expect(r.stderr).not.toMatch(/nothing was applied|stale/);
    expect(proxy.applyKeys.length).toBeGreaterThan(1);
    expect(new Set(proxy.applyKeys).size).toBe(1);
    // It had in fact been applied, exactly once.
    proxy.dropApplies = 0;
    const plan = await sb.cli(['plan', '--detailed-exitcode'], viaProxy());
    expect(plan.code, plan.stdout).toBe(0);
    expect(await appliedAudit()).toBe(6);
  });

  it('the server refuses a reused key for a different change set', async () => {
    const doc = { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'keyed' }, spec: { match: { platforms: ['ios'] } } };
    const headers = { 'idempotency-key': 'same-key' };
    const first = await call(server.url, 'POST', '/v1/resources/apply', { token: server.token, headers, body: { changes: [{ op: 'create', kind: 'Group', name: 'keyed', document: doc }] } });
    expect(first.status).toBe(200);
    const replay = await call(server.url, 'POST', '/v1/resources/apply', { token: server.token, headers, body: { changes: [{ op: 'create', kind: 'Group', name: 'keyed', document: doc }] } });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    const other = await call(server.url, 'POST', '/v1/resources/apply', { token: server.token, headers, body: { changes: [{ op: 'delete', kind: 'Group', name: 'keyed', expectedVersion: 1 }] } });
    expect(other.status).toBe(409);
    expect(other.body.error.message).toContain('idempotency key "same-key" was already used for a different apply');
  });
});
