// Progress only on a terminal; prompts never wait without one (they fail naming the flag).
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { createProgress } from '../../src/output/progress.js';
import { confirm, typedConfirmation } from '../../src/output/prompt.js';

function sink(isTTY: boolean) {
  let text = '';
  const stream = new Writable({
    write(chunk, _e, cb) {
      text += chunk.toString();
      cb();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => text };
}

describe('progress', () => {
  it('writes nothing when stderr is not a terminal', () => {
    const s = sink(false);
    const p = createProgress(s.stream);
    p.update('working 1/3');
    p.done('finished');
    expect(s.text()).toBe('');
  });

  it('redraws one line on a terminal and clears it when done', () => {
    const s = sink(true);
    const p = createProgress(s.stream, { intervalMs: 10_000 });
    p.update('working 1/3');
    p.update('working 2/3');
    p.done('finished');
    expect(s.text()).toMatch(/^\r\u001b\[2K. working 1\/3\r\u001b\[2K. working 2\/3\r\u001b\[2Kfinished\n$/);
  });
});

describe('prompts without a terminal', () => {
  const io = { stdin: new PassThrough(), stderr: sink(false).stream, canPrompt: false };
  it('typed confirmation fails with a UsageError naming the flag', async () => {
    const error = await typedConfirmation(io, { message: 'Type the name', expected: 'x', flag: '--yes', what: 'wipe (destructive)' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe('wipe (destructive) needs confirmation, and there is no terminal to ask on; nothing was done');
    expect((error as UsageError).hint).toBe('pass --yes to confirm non-interactively');
  });
  it('yes/no fails the same way', async () => {
    await expect(confirm(io, 'Go?', '--force', 'prune')).rejects.toThrow(/prune needs confirmation/);
  });
});
