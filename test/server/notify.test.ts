// Notification webhooks against a real receiving HTTP server on loopback: the event body and its
// HMAC-SHA256 signature, one stable event id across a retry after a 500, delivery recorded in the
// audit log, and check-ins that never wait on the webhook.
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/http.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { PROFILE, POSTURE, call, checkIn, createToken, enroll, enrollmentToken, killAll, startServerProcess, type ServerProcess } from './helpers.js';

const SECRET = 'notify-test-secret';
const dirs: Array<{ cleanup: () => void }> = [];
const receivers: Server[] = [];
afterEach(() => killAll());
afterAll(() => {
  for (const r of receivers) r.close();
  for (const d of dirs) d.cleanup();
});

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  res: ServerResponse;
}

/** A webhook receiver: hands each request to the test, which answers it when it likes. */
async function receiver(): Promise<{ url: string; next(): Promise<Received> }> {
  const queue: Received[] = [];
  const waiting: Array<(r: Received) => void> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => {
      const r = { headers: req.headers, body, res };
      const w = waiting.shift();
      if (w) w(r);
      else queue.push(r);
    });
  });
  receivers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    next: () => new Promise((resolve) => (queue.length ? resolve(queue.shift()!) : waiting.push(resolve))),
  };
}

const answer = (r: Received, status: number) => r.res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');

function expectSigned(r: Received): Record<string, any> {
  const ts = String(r.headers['x-emmctl-timestamp']);
  const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${r.body}`).digest('hex')}`;
  expect(r.headers['x-emmctl-signature']).toBe(expected);
  expect(r.headers['content-type']).toBe('application/json');
  const event = JSON.parse(r.body) as Record<string, any>;
  expect(r.headers['x-emmctl-event-id']).toBe(event.id);
  expect(r.headers['x-emmctl-event']).toBe(event.type);
  return event;
}

const COMPLIANCE = {
  apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'encrypted' },
  spec: { assign: ['all'], rules: { encryption: 'required' }, actions: [{ after: '0d', do: 'notify' }, { after: '0d', do: 'lock' }] },
};

async function seed(base: string, admin: string) {
  const r = await call(base, 'POST', '/v1/resources/apply', {
    token: admin,
    body: { changes: [PROFILE, COMPLIANCE].map((d) => ({ op: 'create', kind: d.kind, name: d.metadata.name, document: d })) },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

async function auditUntil(base: string, admin: string, done: (items: any[]) => boolean): Promise<any[]> {
  for (;;) {
    const r = await call(base, 'GET', '/v1/audit?actor=server:notify&limit=1000', { token: admin });
    if (done(r.body.items)) return r.body.items;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('emmctl server --notify-webhook', () => {
  it('posts a signed event for the notify step and for the escalation command, retries after a 500, audits the delivery, never blocks a check-in', async () => {
    const dir = tempDir('emmctl-notify-');
    dirs.push(dir);
    const dataDir = join(dir.path, 'data');
    const hook = await receiver();
    const admin = await createToken(dataDir, 'admin');
    let server: ServerProcess | undefined;
    try {
      server = await startServerProcess(dataDir, ['--notify-webhook', `${hook.url}/hook?key=in-the-url`], { EMMCTL_NOTIFY_SECRET: SECRET });
      const base = server.url;
      expect((await call(base, 'GET', '/v1/whoami', { token: admin })).body.notifyChannels).toBe(1);
      await seed(base, admin);
      const device = await enroll(base, (await enrollmentToken(base, admin)).secret);
      const first = await checkIn(base, device.credential, { ...POSTURE, encrypted: false });
      expect(first.status).toBe(200);
      const lock = first.body.commands.find((c: { type: string }) => c.type === 'lock');
      expect(lock).toBeDefined();

      // The first delivery is held open: check-ins go on meanwhile.
      const a1 = await hook.next();
      expect((await checkIn(base, device.credential, { ...POSTURE, encrypted: false })).status).toBe(200);
      const a2 = await hook.next();
      const events = [a1, a2].map(expectSigned);
      const notify = events.find((e) => e.type === 'escalation.notify')!;
      const command = events.find((e) => e.type === 'escalation.command')!;
      expect(notify).toMatchObject({
        device: { id: device.deviceId, platform: 'android' }, policy: 'encrypted', step: { after: '0d', do: 'notify' },
        failures: [{ policy: 'encrypted', rule: 'encryption', expected: 'encrypted', actual: 'not encrypted' }],
      });
      expect(notify.id).toMatch(/^evt_[0-9a-f]{32}$/);
      expect(Date.parse(notify.occurredAt)).not.toBeNaN();
      expect(notify.noncompliantSince).toBe(notify.occurredAt);
      expect(notify.command).toBeUndefined();
      expect(command).toMatchObject({ device: { id: device.deviceId }, policy: 'encrypted', step: { after: '0d', do: 'lock' }, command: { id: lock.id, type: 'lock' } });
      expect(command.id).not.toBe(notify.id);

      // The notify event fails once with a 500 and comes again, same id and body, attempt 2.
      const [notifyReq, commandReq] = JSON.parse(a1.body).type === 'escalation.notify' ? [a1, a2] : [a2, a1];
      answer(commandReq, 200);
      answer(notifyReq, 500);
      const retry = await hook.next();
      expect(expectSigned(retry).id).toBe(notify.id);
      expect(retry.body).toBe(notifyReq.body);
      expect([notifyReq.headers['x-emmctl-delivery-attempt'], retry.headers['x-emmctl-delivery-attempt']]).toEqual(['1', '2']);
      answer(retry, 200);

      const audit = await auditUntil(base, admin, (items) => items.length >= 2);
      expect(audit.map((a) => [a.action, a.target, a.detail.eventId, a.detail.attempts, a.detail.status]).sort()).toEqual([
        ['notify.delivered', `device/${device.deviceId}`, command.id, 1, 200],
        ['notify.delivered', `device/${device.deviceId}`, notify.id, 2, 200],
      ].sort());
      // The URL's query may carry a secret: the audit names the channel without it.
      expect(audit[0].detail.channel).toBe(`${hook.url}/hook`);
    } finally {
      await server?.stop();
    }
  });

  it('records a delivery that failed after every retry, and refuses a webhook without a secret or with a bad URL', async () => {
    const dir = tempDir('emmctl-notify-');
    dirs.push(dir);
    const dataDir = join(dir.path, 'data');
    const hook = await receiver();
    const running = await startServer({ dataDir, listen: '127.0.0.1:0', log: false, notify: { webhooks: [hook.url], secret: SECRET, attempts: 3, backoffMs: 10 } });
    try {
      const admin = await createToken(dataDir, 'admin');
      await seed(running.url, admin);
      const device = await enroll(running.url, (await enrollmentToken(running.url, admin)).secret);
      expect((await checkIn(running.url, device.credential, { ...POSTURE, encrypted: false })).status).toBe(200);
      const seen: string[] = [];
      // Both events, each answered 503 three times.
      for (let i = 0; i < 6; i++) {
        const r = await hook.next();
        seen.push(`${expectSigned(r).type}#${r.headers['x-emmctl-delivery-attempt']}`);
        answer(r, 503);
      }
      expect(seen.sort()).toEqual(['escalation.command#1', 'escalation.command#2', 'escalation.command#3', 'escalation.notify#1', 'escalation.notify#2', 'escalation.notify#3']);
      const audit = await auditUntil(running.url, admin, (items) => items.length >= 2);
      expect(audit.map((a) => [a.action, a.detail.attempts, a.detail.status, a.detail.error])).toEqual([
        ['notify.failed', 3, 503, 'HTTP 503'], ['notify.failed', 3, 503, 'HTTP 503'],
      ]);
    } finally {
      await running.close();
    }

    const noSecret = await runCli(['server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--notify-webhook', hook.url]);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('EMMCTL_NOTIFY_SECRET');
    const badUrl = await runCli(['server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--notify-webhook', 'ftp://example.com/x'], { env: { EMMCTL_NOTIFY_SECRET: SECRET } });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('only http:// and https://');
    const empty = join(dir.path, 'empty-secret');
    writeFileSync(empty, '');
    const emptySecret = await runCli(['server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--notify-webhook', hook.url, '--notify-secret-file', empty]);
    expect(emptySecret.code).toBe(2);
    expect(emptySecret.stderr).toContain('is empty');
  });
});
