// Entry point: the only place that knows about process.argv, process.exitCode and signals.
import { ioFromProcess } from './io.js';
import { run } from './run.js';

const io = ioFromProcess(process.argv);
process.exitCode = await run(process.argv.slice(2), io);
