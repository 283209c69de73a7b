// Runs one emmctl invocation and maps every outcome to an exit code in one place.
import { CommanderError } from 'commander';
import { EmmctlError, ExitCode } from '../errors.js';
import { sanitize, sanitizeMessage } from '../output/sanitize.js';
import { createContext } from './context.js';
import type { IOStreams } from './io.js';
import { buildProgram } from './program.js';

export async function run(argv: string[], io: IOStreams): Promise<number> {
  const ctx = createContext(io);
  const program = buildProgram(ctx);
  const debug = argv.includes('--debug');
  let interrupted = false;
  const onSigint = () => {
    // The first Ctrl-C goes to a command that asked for it (ctx.onInterrupt) to stop gracefully;
    // a second one, or one that no command took, ends at once.
    const first = !interrupted;
    interrupted = true;
    if (first && ctx.interrupt()) return;
    io.stderr.write('\ninterrupted\n');
    process.exit(ExitCode.CANCELLED);
  };
  process.on('SIGINT', onSigint);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.OK;
  } catch (error) {
    return reportError(error, ctx, debug);
  } finally {
    process.removeListener('SIGINT', onSigint);
    try {
      await ctx.runExitHooks();
    } catch (error) {
      if (!interrupted) reportError(error, ctx, debug);
    }
  }
}

function reportError(error: unknown, ctx: ReturnType<typeof createContext>, debug: boolean): number {
  const { io, err } = ctx;
  // Error texts quote device names, server answers and file names: shown inert (src/output/sanitize.ts).
  // A message is one line, so a newline in what it quotes cannot forge an `error:`/`hint:` line;
  // hints and stacks keep their own line breaks.
  const safe = (text: string) => sanitizeMessage(text);
  const oneLine = (text: string) => sanitize(text);
  if (error instanceof CommanderError) {
    // commander already printed its message (help, version, unknown option...).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.OK;
    return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  }
  if (error instanceof EmmctlError) {
    if (error.message) io.stderr.write(`${err.red('error:')} ${oneLine(error.message)}\n`);
    if (error.hint) io.stderr.write(`${err.dim('hint:')} ${safe(error.hint)}\n`);
    if (debug && error.stack) io.stderr.write(`${safe(error.stack)}\n`);
    return error.exitCode;
  }
  if (error instanceof Error && error.name === 'ExitPromptError') {
    io.stderr.write('cancelled\n');
    return ExitCode.CANCELLED;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`${err.red('error:')} ${oneLine(message)}\n`);
  if (debug && error instanceof Error && error.stack) io.stderr.write(`${safe(error.stack)}\n`);
  else io.stderr.write(`${err.dim('hint:')} this is a bug in emmctl; run again with --debug for details\n`);
  return ExitCode.ERROR;
}
