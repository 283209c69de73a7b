// Entry point: the only place that knows about process.argv, process.exitCode and signals.
import { ioFromProcess } from './io.js';
import { run } from './run.js';

// `emmctl ... | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const io = ioFromProcess(process.argv);
process.exitCode = await run(process.argv.slice(2), io);
