// Prompts for people at a terminal. Questions go to stderr so stdout stays data; without a
// terminal a prompt never waits for input that cannot come: it fails naming the flag to pass.
// @inquirer/prompts is imported only when a question is actually asked.
import type { Readable, Writable } from 'node:stream';
import { CancelledError, UsageError } from '../errors.js';
import { sanitize } from './sanitize.js';

export interface PromptIO {
  stdin: Readable;
  stderr: Writable;
  /** Both ends are terminals (and not CI). */
  canPrompt: boolean;
}

/** Yes/no question; `flag` is what a script passes instead (e.g. --yes). Returns the answer. */
export async function confirm(io: PromptIO, message: string, flag: string, what: string): Promise<boolean> {
  if (!io.canPrompt) throw new UsageError(`${what} needs confirmation, and there is no terminal to ask on; nothing was done`, `pass ${flag} to confirm non-interactively`);
  const { confirm: ask } = await import('@inquirer/prompts');
  return ask({ message: sanitize(message), default: false }, { input: io.stdin, output: io.stderr, clearPromptOnDone: false });
}

/**
 * The admin types `expected` (a device name, a count) to go ahead — a deliberate act, not a
 * reflexive `y`. Anything else cancels (exit 130); there is no second try. The question is one line,
 * control characters (newlines too) in the name shown as escapes; typing that visible form is accepted too, as is anything in `alsoAccept` (a device ID).
 */
export async function typedConfirmation(io: PromptIO, opts: { message: string; expected: string; flag: string; what: string; alsoAccept?: string[] }): Promise<void> {
  if (!io.canPrompt) throw new UsageError(`${opts.what} needs confirmation, and there is no terminal to ask on; nothing was done`, `pass ${opts.flag} to confirm non-interactively`);
  const { input } = await import('@inquirer/prompts');
  const answer = (await input({ message: sanitize(opts.message) }, { input: io.stdin, output: io.stderr, clearPromptOnDone: false })).trim();
  // What the prompt shows (escaped), the exact text, or another exact identifier (the device ID,
  // for a name whose raw form cannot be typed).
  const accepted = [opts.expected, sanitize(opts.expected), ...(opts.alsoAccept ?? [])];
  if (!accepted.includes(answer)) throw new CancelledError(`confirmation did not match "${sanitize(opts.expected)}"; nothing was done`);
}
