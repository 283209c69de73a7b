// What every command gets: streams, colours, global options, and lazily built services
// (gh's factory). --help and --version never construct a backend or read config.
import type { Command } from 'commander';
import type { Backend } from '../backends/backend.js';
import { colors, type Colors } from '../output/color.js';
import { sanitizeMessage } from '../output/sanitize.js';
import { canPrompt, type IOStreams } from './io.js';
import type { TargetFlags } from './target.js';

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml' | 'csv';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'wide', 'json', 'yaml', 'csv'];

// The -o formats a command prints, when not every record format (plan has no csv, schema is
// a document): declared where the command is defined, checked before its action runs (program.ts).
const declaredFormats = new WeakMap<Command, readonly string[]>();

/** Declares the -o values `command` accepts; any other is a usage error (exit 2) before it runs. */
export function acceptsOutput(command: Command, formats: readonly string[]): Command {
  declaredFormats.set(command, formats);
  return command;
}

export function acceptedOutput(command: Command): readonly string[] | undefined {
  return declaredFormats.get(command);
}

export interface GlobalOptions extends TargetFlags {
  output?: OutputFormat;
  color: boolean;
  debug: boolean;
  quiet: boolean;
}

export interface CliContext {
  io: IOStreams;
  /** Colours for stdout / stderr (off when not a terminal, NO_COLOR or --no-color). */
  out: Colors;
  err: Colors;
  canPrompt(): boolean;
  /** Global options merged with the command's own (commander's optsWithGlobals). */
  globals(command: Command): GlobalOptions;
  /**
   * The backend selected by --context / EMMCTL_* / config, opened on first use and closed at exit.
   * An embedded store is created only with `{ ifMissing: 'create' }` (apply, the bootstrap API
   * token); plan previews one with 'empty'; every other command gets "no emmctl store at DIR"
   * (exit 2) for a dir without one.
   */
  backend(command: Command, opts?: { ifMissing?: 'create' | 'fail' | 'empty' }): Promise<Backend>;
  /**
   * Messages for people, on stderr. info is silenced by --quiet; warnings and errors are not.
   * Control characters in them show as escapes (src/output/sanitize.ts), whatever they quote.
   */
  info(message: string): void;
  warn(message: string): void;
  /** Text for people on stdout (a show command's layout, a plan), sanitised like messages. */
  print(text: string): void;
  /** Registers cleanup run after the command finishes (close stores, servers). */
  onExit(fn: () => Promise<void> | void): void;
  runExitHooks(): Promise<void>;
  /**
   * Takes over Ctrl-C for a graceful stop (finish in-flight work, report, then return or throw
   * CancelledError). Only the first Ctrl-C reaches the handler; a second one ends the process at
   * once. Returns a disposer that gives Ctrl-C back to the immediate exit.
   */
  onInterrupt(handler: () => void): () => void;
  /** run.ts calls this on SIGINT: true when a command's handler took the interrupt over. */
  interrupt(): boolean;
}

export function createContext(io: IOStreams): CliContext {
  const exitHooks: Array<() => Promise<void> | void> = [];
  const interruptHandlers: Array<() => void> = [];
  let quiet = false;
  let backendPromise: Promise<Backend> | undefined;
  const ctx: CliContext = {
    io,
    out: colors(io.colorStdout),
    err: colors(io.colorStderr),
    canPrompt: () => canPrompt(io),
    globals(command) {
      const opts = command.optsWithGlobals() as Partial<GlobalOptions> & { color?: boolean };
      quiet = Boolean(opts.quiet);
      return {
        context: opts.context,
        dataDir: opts.dataDir,
        output: opts.output,
        color: opts.color !== false,
        debug: Boolean(opts.debug),
        quiet,
      };
    },
    backend(command, opts = {}) {
      backendPromise ??= (async () => {
        const { resolveTarget } = await import('./target.js');
        const { openBackend } = await import('../backends/index.js');
        const globals = ctx.globals(command);
        const target = await resolveTarget(globals, io.env);
        if (target.kind === 'embedded') target.ifMissing = opts.ifMissing ?? 'fail';
        if ((target.kind === 'http' || target.kind === 'intune') && globals.debug) target.debug = (line) => io.stderr.write(`${sanitizeMessage(line)}\n`);
        const backend = await openBackend(target);
        exitHooks.push(() => backend.close());
        if (backend.notice) ctx.warn(backend.notice);
        return backend;
      })();
      return backendPromise;
    },
    info(message) {
      if (!quiet) io.stderr.write(`${sanitizeMessage(message, { keepColor: io.colorStderr })}\n`);
    },
    warn(message) {
      io.stderr.write(`${ctx.err.yellow('warning:')} ${sanitizeMessage(message, { keepColor: io.colorStderr })}\n`);
    },
    print(text) {
      io.stdout.write(sanitizeMessage(text, { keepColor: io.colorStdout }));
    },
    onExit(fn) {
      exitHooks.push(fn);
    },
    async runExitHooks() {
      while (exitHooks.length) await exitHooks.pop()!();
    },
    onInterrupt(handler) {
      interruptHandlers.push(handler);
      return () => {
        const i = interruptHandlers.indexOf(handler);
        if (i >= 0) interruptHandlers.splice(i, 1);
      };
    },
    interrupt() {
      // The most recent taker only: a command nested in another's run stops first.
      const handler = interruptHandlers.at(-1);
      if (!handler) return false;
      handler();
      return true;
    },
  };
  return ctx;
}
