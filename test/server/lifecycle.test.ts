// The server process: restart on the same data dir keeps everything; SIGTERM lets an
// in-flight request finish, refuses new connections, closes the store and exits 0.
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { call, checkIn, createToken, enroll, enrollmentToken, inFlightPreregister, killAll, POSTURE, seedResources, startServerProcess } from './helpers.js';

const dirs: Array<{ cleanup(): void }> = [];
afterAll(() => {
  killAll();
  for (const d of dirs) d.cleanup();
});

describe('restart persistence', () => {
  it('keeps tokens, devices, credentials and commands across a restart on the same data dir', async () => {
    const dir = tempDir('emmctl-server-restart-');
    dirs.push(dir);
    const admin = await createToken(dir.path, 'admin');
    const first = await startServerProcess(dir.path);
    await seedResources(first.url, admin);
    const et = await enrollmentToken(first.url, admin, { maxUses: 2 });
    const dev = await enroll(first.url, et.secret);
    const queued = await call(first.url, 'POST', '/v1/commands', { token: admin, headers: { 'idempotency-key': 'persist' }, body: { deviceIds: [dev.deviceId], type: 'lock' } });
    expect((await first.stop()).code).toBe(0);

    const second = await startServerProcess(dir.path);
    try {
      const device = await call(second.url, 'GET', `/v1/devices/${dev.deviceId}`, { token: admin });
      expect(device.status).toBe(200);
      expect(device.body.state).toBe('enrolled');
      const got = await checkIn(second.url, dev.credential);
      expect(got.status).toBe(200);
      expect(got.body.commands.map((c: { id: string }) => c.id)).toEqual([queued.body.results[0].command.id]);
      // The idempotency key survives too: a client retrying across the restart does not queue twice.
      const replay = await call(second.url, 'POST', '/v1/commands', { token: admin, headers: { 'idempotency-key': 'persist' }, body: { deviceIds: [dev.deviceId], type: 'lock' } });
      expect(replay.body.results[0].command.id).toBe(queued.body.results[0].command.id);
      // One use of two left.
      await enroll(second.url, et.secret);
      expect((await call(second.url, 'POST', '/v1/agent/enroll', { body: { token: et.secret, platform: 'android', serial: 'S-3', osVersion: '14' } })).status).toBe(401);
      const resources = await call(second.url, 'GET', '/v1/resources', { token: admin });
      expect(resources.body.items.map((r: { name: string }) => r.name).sort()).toEqual(['all-android', 'corp-phones']);
    } finally {
      expect((await second.stop()).code).toBe(0);
    }
  });
});

describe('reconcile tick', () => {
  it('escalates a device that became non-compliant by a policy change, without a check-in', async () => {
    const dir = tempDir('emmctl-server-tick-');
    dirs.push(dir);
    const admin = await createToken(dir.path, 'admin');
    const server = await startServerProcess(dir.path, ['--tick', '0.2']);
    try {
      await seedResources(server.url, admin);
      const dev = await enroll(server.url, (await enrollmentToken(server.url, admin)).secret);
      // Unencrypted, but no rule says so yet: nothing to escalate at this check-in.
      expect((await checkIn(server.url, dev.credential, { ...POSTURE, encrypted: false })).status).toBe(200);
      const policy = {
        apiVersion: 'emmctl/v1',
        kind: 'CompliancePolicy',
        metadata: { name: 'must-encrypt' },
        spec: { assign: ['all-android'], rules: { encryption: 'required' }, actions: [{ after: '0d', do: 'lock' }] },
      };
      const applied = await call(server.url, 'POST', '/v1/resources/apply', { token: admin, body: { changes: [{ op: 'create', kind: 'CompliancePolicy', name: 'must-encrypt', document: policy }] } });
      expect(applied.status).toBe(200);
      // The device does not check in again: only the server's tick can queue the lock.
      let commands: Array<{ type: string; requestedBy: string }> = [];
      for (let i = 0; i < 200 && commands.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        commands = (await call(server.url, 'GET', `/v1/commands?deviceId=${dev.deviceId}`, { token: admin })).body.items;
      }
      expect(commands).toEqual([expect.objectContaining({ type: 'lock', requestedBy: 'compliance:must-encrypt' })]);
    } finally {
      await server.stop();
    }
  });
});

describe('timeouts', () => {
  it('drops a client that never finishes its request headers (408)', async () => {
    const dir = tempDir('emmctl-server-timeout-');
    dirs.push(dir);
    const server = await startServerProcess(dir.path, ['--request-timeout', '1']);
    try {
      const { hostname, port } = new URL(server.url);
      const socket = connect(Number(port), hostname);
      let received = '';
      socket.setEncoding('utf8').on('data', (d) => (received += d));
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write('POST /v1/agent/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n');
      await new Promise<void>((resolve) => socket.once('close', resolve));
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
      expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM finishes the in-flight request, refuses new connections, then exits 0', async () => {
    const dir = tempDir('emmctl-server-sigterm-');
    dirs.push(dir);
    const admin = await createToken(dir.path, 'admin');
    const server = await startServerProcess(dir.path);
    const { req, body } = await inFlightPreregister(server.url, admin, 'IN-FLIGHT-1');
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
    });

    server.child.kill('SIGTERM');
    await server.waitForStderr(/SIGTERM: shutting down/);
    // The listener is closed: a new connection is refused while the old request is still open.
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    req.end(body);

    const res = await response;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ created: 1, updated: 0 });
    const exit = await server.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.stderr()).toContain('emmctl server: stopped');

    // The in-flight change was committed and the store closed cleanly.
    const again = await startServerProcess(dir.path);
    try {
      const devices = await call(again.url, 'GET', '/v1/devices?filter=serial%3DIN-FLIGHT-1', { token: admin });
      expect(devices.body.items).toHaveLength(1);
    } finally {
      await again.stop('SIGINT');
    }
  });

  it('exits 0 on SIGINT and reports a port that is taken with exit 1', async () => {
    const dir = tempDir('emmctl-server-sigint-');
    dirs.push(dir);
    const server = await startServerProcess(dir.path);
    const port = new URL(server.url).port;
    const clash = await runCli(['server', '--listen', `127.0.0.1:${port}`, '--data-dir', dir.path]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain(`cannot listen on 127.0.0.1:${port}: address already in use`);
    expect((await server.stop('SIGINT')).code).toBe(0);
    const bad = await runCli(['server', '--listen', 'nowhere', '--data-dir', dir.path]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid --listen "nowhere"');
  });
});
