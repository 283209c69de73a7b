// The agent client under faults (scripted server, see test/http/fake-server.ts): check-ins ride
// out throttling and dropped connections, enrollment is never sent twice when it may have landed,
// and garbage or refusals become precise errors. The happy path runs against the real server in
// test/contract/http.test.ts and test/agent/simulate.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, isUnreachable } from '../../src/agent/client.js';
import { BackendError } from '../../src/errors.js';
import { closedPort, error, startFakeServer, type FakeServer } from '../http/fake-server.js';

const POSTURE = { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [] };
const CHECKIN = { deviceId: 'dev_1', configuration: { version: 'v1', settings: {} }, commands: [], checkInIntervalSeconds: 900 };
const ENROLL = { token: 'et-secret', platform: 'android' as const, serial: 'S1', osVersion: '14' };

let fake: FakeServer;
let delays: number[] = [];
const clients: AgentClient[] = [];
const client = (server = fake.url) => {
  const c = new AgentClient({ server, timeoutMs: 2000, sleep: async (ms) => void delays.push(ms), random: () => 0 });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  fake = await startFakeServer();
});
afterAll(() => fake.close());
afterEach(() => {
  while (clients.length) clients.pop()!.close();
  fake.seen.length = 0;
  fake.script();
  delays = [];
});

describe('AgentClient', () => {
  it('sends the device credential and retries a throttled check-in after Retry-After', async () => {
    fake.script(error(429, 'rate_limited', 'slow down', { 'retry-after': '1' }), { reset: true }, { status: 200, json: CHECKIN });
    const c = client();
    const r = await c.checkIn('cred-1', { posture: POSTURE });
    expect(r.configuration.version).toBe('v1');
    expect(fake.seen).toHaveLength(3);
    expect(fake.seen.every((s) => s.headers.authorization === 'Device cred-1')).toBe(true);
    expect(JSON.parse(fake.seen[0]!.body)).toEqual({ posture: POSTURE });
    expect(delays[0]).toBe(1000);
    expect(c.retries).toBe(2);
  });

  it('does not resend an enrollment whose connection dropped (it may have used the token)', async () => {
    fake.script({ reset: true }, { status: 200, json: { deviceId: 'dev_1', credential: 'c', checkInIntervalSeconds: 1 } });
    const e = await client().enroll(ENROLL).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(BackendError);
    expect((e as BackendError).message).toMatch(/ECONNRESET/);
    expect(fake.seen).toHaveLength(1);
    expect(isUnreachable(e)).toBe(false);
  });

  it('maps refusals to their codes with the server message', async () => {
    fake.script(error(401, 'unauthorized', 'enrollment token et_1 has been used 2 of 2 times'), error(400, 'invalid', 'platform "macos" may not enroll with profile "phones"'));
    const c = client();
    await expect(c.enroll(ENROLL)).rejects.toMatchObject({ code: 'unauthorized', message: 'enroll failed: enrollment token et_1 has been used 2 of 2 times' });
    await expect(c.enroll(ENROLL)).rejects.toMatchObject({ code: 'invalid', message: 'enroll failed: platform "macos" may not enroll with profile "phones"' });
  });

  it('reports garbage as a protocol error', async () => {
    fake.script({ status: 200, text: 'ok' }, { status: 200, json: { deviceId: 'dev_1' } });
    const c = client();
    await expect(c.checkIn('c', { posture: POSTURE })).rejects.toMatchObject({ code: 'protocol', message: expect.stringMatching(/\(check in\): the body is not JSON/) });
    await expect(c.checkIn('c', { posture: POSTURE })).rejects.toMatchObject({ code: 'protocol', message: expect.stringMatching(/lacks configuration, commands/) });
  });

  it('reports a command result and accepts 204', async () => {
    fake.script({ status: 204 });
    await client().reportResult('c', 'cmd/1', { status: 'failed', detail: 'busy' });
    expect(fake.seen[0]!.url).toBe('/v1/agent/commands/cmd%2F1/result');
    expect(JSON.parse(fake.seen[0]!.body)).toEqual({ status: 'failed', detail: 'busy' });
  });

  it('marks a refused connection as unreachable', async () => {
    const port = await closedPort();
    const e = await client(`http://127.0.0.1:${port}`).checkIn('c', { posture: POSTURE }).catch((err: unknown) => err);
    expect(isUnreachable(e)).toBe(true);
    expect((e as Error).message).toBe(`cannot reach emmctl server at http://127.0.0.1:${port}: ECONNREFUSED — is it running?`);
  });
});
