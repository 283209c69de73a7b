// Ctrl-C on `emmctl server`: the first one shuts down gracefully (ctx.onInterrupt), a second one
// while a request is still in flight quits at once with 130.
import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { createApiToken, killAll, startServerProcess } from '../helpers/server.js';

const dirs: Array<{ cleanup(): void }> = [];
afterAll(() => {
  killAll();
  dirs.forEach((d) => d.cleanup());
});

describe('emmctl server and Ctrl-C', () => {
  it('waits for the in-flight request on the first Ctrl-C and quits with 130 on the second', async () => {
    const dir = tempDir('emmctl-server-int-');
    dirs.push(dir);
    const admin = await createApiToken(dir.path, 'admin');
    const server = await startServerProcess(dir.path);
    const { hostname, port } = new URL(server.url);
    const body = JSON.stringify({ devices: [{ serial: 'NEVER-SENT', platform: 'android' }] });
    // Expect: 100-continue: once the server answers "continue" the request is in flight, and it
    // stays so because the body is never sent.
    const req = request({
      host: hostname,
      port: Number(port),
      method: 'POST',
      path: '/v1/devices/preregister',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
    });
    req.on('error', () => {});
    await new Promise<void>((resolve) => req.once('continue', resolve));

    server.child.kill('SIGINT');
    await server.waitForStderr(/SIGINT: shutting down/);
    expect(server.stderr()).not.toContain('emmctl server: stopped');
    server.child.kill('SIGINT');
    const exit = await server.exited;
    req.destroy();
    expect(exit).toEqual({ code: 130, signal: null });
    expect(server.stderr()).toMatch(/^interrupted$/m);
    expect(server.stderr()).not.toContain('emmctl server: stopped');
  });

  it('stops gracefully with exit 0 on a single Ctrl-C', async () => {
    const dir = tempDir('emmctl-server-int1-');
    dirs.push(dir);
    const server = await startServerProcess(dir.path);
    server.child.kill('SIGINT');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stderr()).toContain('SIGINT: shutting down');
    expect(server.stderr()).toContain('emmctl server: stopped');
  });
});
