// A real `emmctl server` child process on 127.0.0.1:0 and small fetch helpers for its API.
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, cliEnv, runCli } from '../helpers/cli.js';

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

export async function startServerProcess(dataDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, 'server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], {
    env: cliEnv(env),
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

/** Creates an API token through the CLI (directly on the store) and returns its secret. */
export async function createToken(dataDir: string, role: string, name = `${role}-test`): Promise<string> {
  const r = await runCli(['server', 'token', 'create', '--role', role, '--name', name, '--data-dir', dataDir]);
  if (r.code !== 0) throw new Error(`token create failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

export interface CallOptions {
  token?: string;
  device?: string;
  body?: unknown;
  /** Raw body text, sent as is. */
  raw?: string;
  headers?: Record<string, string>;
}

export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.device) headers.authorization = `Device ${opts.device}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export const PROFILE = {
  apiVersion: 'emmctl/v1',
  kind: 'EnrollmentProfile',
  metadata: { name: 'corp-phones' },
  spec: { platforms: ['android', 'ios'], ownership: 'corporate' },
};

export const GROUP = {
  apiVersion: 'emmctl/v1',
  kind: 'Group',
  metadata: { name: 'all-android' },
  spec: { match: { platforms: ['android'] } },
};

/** Applies an enrollment profile (and a group) so devices can enroll. */
export async function seedResources(base: string, adminOrOperator: string): Promise<void> {
  const r = await call(base, 'POST', '/v1/resources/apply', {
    token: adminOrOperator,
    body: {
      changes: [
        { op: 'create', kind: 'Group', name: GROUP.metadata.name, document: GROUP },
        { op: 'create', kind: 'EnrollmentProfile', name: PROFILE.metadata.name, document: PROFILE },
      ],
    },
  });
  if (r.status !== 200) throw new Error(`seeding failed: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function enrollmentToken(base: string, token: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const r = await call(base, 'POST', '/v1/enrollment-tokens', { token, body: { profile: PROFILE.metadata.name, ...extra } });
  if (r.status !== 200) throw new Error(`enrollment token failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.token.id, secret: r.body.secret };
}

let serial = 0;
export function enrollBody(secret: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  serial += 1;
  return { token: secret, platform: 'android', serial: `SN-${process.pid}-${serial}`, osVersion: '14', model: 'Pixel 8', owner: 'ana@example.com', ...overrides };
}

export async function enroll(base: string, secret: string, overrides: Record<string, unknown> = {}): Promise<{ deviceId: string; credential: string }> {
  const r = await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody(secret, overrides) });
  if (r.status !== 200) throw new Error(`enroll failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export const POSTURE = {
  osVersion: '14',
  patchLevel: '2026-10-05',
  model: 'Pixel 8',
  encrypted: true,
  passcodeSet: true,
  compromised: false,
  installedApps: ['com.example.mail'],
};

export function checkIn(base: string, credential: string, posture: Record<string, unknown> = POSTURE): Promise<ApiResponse> {
  return call(base, 'POST', '/v1/agent/checkin', { device: credential, body: { posture } });
}
