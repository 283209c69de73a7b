// A one-line progress indicator on stderr — only when stderr is a terminal, so piped and CI
// output never carries spinner frames or carriage returns.
import type { OutStream } from './render.js';
import { sanitize } from './sanitize.js';

export interface Progress {
  update(text: string): void;
  /** Clears the line; prints `message` (if any) as a normal line. */
  done(message?: string): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function createProgress(stream: OutStream, opts: { enabled?: boolean; intervalMs?: number } = {}): Progress {
  const enabled = opts.enabled ?? Boolean(stream.isTTY);
  if (!enabled) return { update() {}, done() {} };
  let text = '';
  let frame = 0;
  const draw = () => stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text}`);
  const timer = setInterval(draw, opts.intervalMs ?? 100);
  timer.unref();
  return {
    update(next) {
      text = sanitize(next); // one line: a newline or escape in it would break the redraw
      draw();
    },
    done(message) {
      clearInterval(timer);
      stream.write('\r\x1b[2K');
      if (message) stream.write(`${sanitize(message)}\n`);
    },
  };
}
