// The process's streams and what they are connected to, decided once and passed down
// (gh's IOStreams): commands never touch process.* so tests and the server can drive them.
import type { Readable, Writable } from 'node:stream';

export interface IOStreams {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  /** Colour on stdout. */
  colorStdout: boolean;
  /** Colour on stderr. */
  colorStderr: boolean;
}

export function ioFromProcess(argv: readonly string[]): IOStreams {
  const env = process.env;
  const noColor = argv.includes('--no-color') || (env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.TERM === 'dumb';
  const force = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && !noColor;
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env,
    colorStdout: force || (!noColor && Boolean(process.stdout.isTTY)),
    colorStderr: force || (!noColor && Boolean(process.stderr.isTTY)),
  };
}

/** Prompts need a terminal on both ends: stdin to answer, stderr to show the question. */
export function canPrompt(io: IOStreams): boolean {
  return Boolean(io.stdin.isTTY && io.stderr.isTTY) && io.env.CI !== 'true';
}
