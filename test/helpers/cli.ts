// Runs the built CLI as a child process, the way users and CI run it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'emmctl');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

// The developer's own contexts and policy cache must neither steer nor receive test runs:
// CLI child processes get an empty config dir and cache dir in the run's scratch folder (made and
// removed by test/global-setup.ts); each test file gets its own pair.
let isolatedDirs: { config: string; cache: string } | undefined;
function isolated(): { config: string; cache: string } {
  if (!isolatedDirs) {
    const base = mkdtempSync(join(process.env.EMMCTL_TEST_SCRATCH ?? tmpdir(), 'file-'));
    isolatedDirs = { config: join(base, 'config'), cache: join(base, 'cache') };
  }
  return isolatedDirs;
}

/** A clean environment: no colour forcing, no inherited EMMCTL_* settings, config and cache in temp dirs. */
export function cliEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('EMMCTL_') || k === 'FORCE_COLOR' || k === 'NO_COLOR') continue;
    env[k] = v;
  }
  env.EMMCTL_CONFIG_DIR = isolated().config;
  env.EMMCTL_CACHE_DIR = isolated().cache;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: cliEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 50_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(prefix = 'emmctl-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Temp dirs for one test file, all removed after its last test. Call at the file's top level (it
 * registers the afterAll there): `const freshDir = dataDirs('emmctl-x-')`. `freshDir()` is a new
 * empty dir; `freshDir('data')` a path inside a new one, left for the code under test to create
 * (as `--data-dir` and SqliteEngine.open do).
 */
export function dataDirs(prefix: string): (sub?: string) => string {
  const made: Array<{ cleanup(): void }> = [];
  afterAll(() => made.forEach((d) => d.cleanup()));
  return (sub) => {
    const dir = tempDir(prefix);
    made.push(dir);
    return sub === undefined ? dir.path : join(dir.path, sub);
  };
}
