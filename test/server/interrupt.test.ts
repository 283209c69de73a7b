// Ctrl-C on `emmctl server`: the first one shuts down gracefully (ctx.onInterrupt), a second one
// while a request is still in flight quits at once with 130.
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { createToken, inFlightPreregister, killAll, startServerProcess } from './helpers.js';

const dirs: Array<{ cleanup(): void }> = [];
afterAll(() => {
  killAll();
  dirs.forEach((d) => d.cleanup());
});

describe('emmctl server and Ctrl-C', () => {
  it('waits for the in-flight request on the first Ctrl-C and quits with 130 on the second', async () => {
    const dir = tempDir('emmctl-server-int-');
    dirs.push(dir);
    const admin = await createToken(dir.path, 'admin');
    const server = await startServerProcess(dir.path);
    // The body is never sent: the request stays in flight.
    const { req } = await inFlightPreregister(server.url, admin, 'NEVER-SENT');
    req.on('error', () => {});

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
