// A real `emmctl server` child process on 127.0.0.1:0, and API tokens made with the real
// `emmctl server token create`: what every test that needs a server talks to.
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, cliEnv, runCli } from './cli.js';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Resolves when stderr matches. */
  waitForStderr(pattern: RegExp): Promise<void>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/** Kills whatever a failed test left running. */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/**
 * Where a server's data is: an embedded store's dir, or a PostgreSQL database (--database with
 * the URL without its password, the password in env; or no flag, the store named by env alone).
 */
export type StoreArg = string | { database?: string; env?: Record<string, string> };

function storeArgs(store: StoreArg): { args: string[]; env: Record<string, string> } {
  if (typeof store === 'string') return { args: ['--data-dir', store], env: {} };
  return { args: store.database === undefined ? [] : ['--database', store.database], env: store.env ?? {} };
}

export async function startServerProcess(store: StoreArg, args: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const where = storeArgs(store);
  const child = spawn(process.execPath, [BIN, 'server', '--listen', '127.0.0.1:0', ...where.args, ...args], {
    env: cliEnv({ ...where.env, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const w of [...waiters]) {
      if (w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const waitForStderr = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (pattern.test(stderr)) return resolve();
      waiters.push({ pattern, resolve });
      void exited.then(() => setTimeout(() => reject(new Error(`server exited before printing ${pattern}; stderr:\n${stderr}`)), 50));
    });
  await waitForStderr(/listening on (\S+)\n/);
  const url = /listening on (\S+)\n/.exec(stderr)![1]!;
  return {
    url,
    child,
    stderr: () => stderr,
    waitForStderr,
    exited,
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
  };
}

/** Creates an API token through the CLI (directly on the store or database) and returns its secret. */
export async function createApiToken(store: StoreArg, role: 'admin' | 'operator' | 'viewer' | string, name = `${role}-test`): Promise<string> {
  const where = storeArgs(store);
  const r = await runCli(['server', 'token', 'create', '--role', role, '--name', name, ...where.args], { env: where.env });
  if (r.code !== 0) throw new Error(`emmctl server token create failed (${r.code}):\n${r.stderr}`);
  const secret = r.stdout.trim();
  if (!secret || secret.includes('\n')) throw new Error(`unexpected token output: ${JSON.stringify(r.stdout)}`);
  return secret;
}
