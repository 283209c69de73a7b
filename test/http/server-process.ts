// A real `emmctl server` as a child process on a loopback port, and API tokens made with the
// real `emmctl server token create`: what the HTTP driver and the simulator talk to in tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, cliEnv, runCli } from '../helpers/cli.js';

export interface RunningServerProcess {
  url: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startServer(dataDir: string, args: string[] = []): Promise<RunningServerProcess> {
  const child = spawn(process.execPath, [BIN, 'server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--no-access-log', ...args], {
    env: cliEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const m = /listening on (\S+)\n/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`emmctl server exited before listening:\n${stderr}`)));
  });
  return {
    url,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function createApiToken(dataDir: string, role: 'admin' | 'operator' | 'viewer', name = `${role}-test`): Promise<string> {
  const r = await runCli(['server', 'token', 'create', '--role', role, '--name', name, '--data-dir', dataDir]);
  if (r.code !== 0) throw new Error(`emmctl server token create failed (${r.code}):\n${r.stderr}`);
  const secret = r.stdout.trim();
  if (!secret || secret.includes('\n')) throw new Error(`unexpected token output: ${JSON.stringify(r.stdout)}`);
  return secret;
}
