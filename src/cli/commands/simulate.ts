// `emmctl simulate`: a seeded fleet of simulated devices enrolls and checks in through the real
// agent API — against a server, or an in-process one over the embedded store. Flags only here;
// the simulator lives in src/agent and loads on use.
import { Command, InvalidArgumentError } from 'commander';
import type { SimulationSummary } from '../../agent/simulator.js';
import { CancelledError, EmmctlError, UsageError } from '../../errors.js';
import { acceptsOutput, type CliContext } from '../context.js';

function wholeNumber(flag: string, min: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min) throw new InvalidArgumentError(`${flag} expects a whole number of at least ${min}, got "${value}"`);
    return Number(value);
  };
}

function seconds(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0)) throw new InvalidArgumentError(`${flag} expects a positive number of seconds, got "${value}"`);
    return n;
  };
}

interface SimulateFlags {
  devices: number;
  server?: string;
  enrollToken?: string;
  seed?: number;
  once?: boolean;
  interval?: number;
  duration?: number;
  concurrency?: number;
  state?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('simulate')
    .description('simulate a fleet of devices that enroll, check in, apply configuration and execute commands (also a load generator)')
    .requiredOption('--devices <n>', 'number of simulated devices', wholeNumber('--devices', 1))
    .option('--server <url>', 'a running `emmctl server` (default: EMMCTL_SERVER or the current context; else an in-process server over the embedded store)')
    .option('--enroll-token <secret>', 'enrollment token for devices not enrolled yet (with --server); env EMMCTL_ENROLL_TOKEN')
    .option('--seed <n>', 'seed of the simulated fleet: same seed, same devices (default 1, or the one the fleet was created with)', wholeNumber('--seed', 0))
    .option('--once', 'each device checks in once, then exit (the default)')
    .option('--interval <sec>', 'check in every SEC seconds, spread evenly (default 60 when --duration is given)', seconds('--interval'))
    .option('--duration <sec>', 'with --interval: stop after SEC seconds (default: until interrupted)', seconds('--duration'))
    .option('--concurrency <n>', 'requests in flight at once', wholeNumber('--concurrency', 1), 32)
    .option('--state <file>', 'where the fleet keeps its identity (default: DATA_DIR/simulator-state.json; holds device credentials, written 0600)')
    .addHelpText('after', `
Simulated devices keep their identity across runs: the same --devices count checks the same fleet
in (never enrolling duplicates) and executes commands queued since the last run; a larger count
adds devices. Without --server, an in-process server on 127.0.0.1 serves the embedded store and
the simulator creates its own enrollment tokens (on a store with no EnrollmentProfile it creates
one, simulated-devices, so it works before anything is applied). Ctrl-C stops a run: requests
in flight finish, the state is saved, the summary prints, and the exit code is 130.

Examples:
  $ emmctl simulate --devices 50 --once
  $ emmctl simulate --devices 1000 --interval 30 --duration 600 --concurrency 64
  $ EMMCTL_ENROLL_TOKEN=... emmctl simulate --devices 200 --server https://emm.example.com -o json

Next: \`emmctl compliance\` to see which simulated devices fail which rules.`)
    .action(async (flags: SimulateFlags, command: Command) => {
      if (flags.once && (flags.interval !== undefined || flags.duration !== undefined)) {
        throw new UsageError('--once cannot be combined with --interval or --duration');
      }
      const globals = ctx.globals(command);
      let server = flags.server;
      let dataDir: string;
      const { defaultDataDir, resolveTarget } = await import('../target.js');
      if (server) {
        dataDir = globals.dataDir ?? defaultDataDir(ctx.io.env);
      } else {
        const target = await resolveTarget(globals, ctx.io.env);
        if (target.kind === 'intune') {
          throw new UsageError('simulate needs an emmctl store or server: Intune devices run Intune\'s own agent (Company Portal), so there is nothing to simulate against an intune context', 'use --data-dir DIR or --server URL, or another --context');
        }
        if (target.kind === 'http') {
          server = target.server;
          dataDir = defaultDataDir(ctx.io.env);
        } else {
          dataDir = target.dataDir;
        }
      }
      const { simulateFleet } = await import('../../agent/simulator.js');
      const { createProgress } = await import('../../output/progress.js');
      const showProgress = Boolean(ctx.io.stderr.isTTY) && !globals.quiet;
      const progress = createProgress(ctx.io.stderr, { enabled: showProgress });
      // A message in the middle of a run first clears the progress line it would otherwise run into.
      const clearLine = () => showProgress && ctx.io.stderr.write('\r\x1b[2K');
      // Ctrl-C ends the run, not the process: requests in flight finish, the state is saved and
      // the summary still prints. A second Ctrl-C quits at once (state as of the last save).
      const abort = new AbortController();
      const releaseInterrupt = ctx.onInterrupt(() => {
        clearLine();
        ctx.io.stderr.write('\ninterrupted: finishing the requests in flight (Ctrl-C again to quit at once)\n');
        abort.abort();
      });
      const summary = await simulateFleet({
        devices: flags.devices,
        server,
        enrollToken: flags.enrollToken ?? (ctx.io.env.EMMCTL_ENROLL_TOKEN || undefined),
        seed: flags.seed,
        intervalSec: flags.interval,
        durationSec: flags.duration,
        concurrency: flags.concurrency,
        dataDir,
        stateFile: flags.state,
        info: (line) => (clearLine(), ctx.info(line)),
        warn: (line) => (clearLine(), ctx.warn(line)),
        progress: (text) => progress.update(text),
        signal: abort.signal,
      }).finally(() => {
        releaseInterrupt();
        progress.done();
      });
      for (const line of summaryLines(summary)) ctx.info(line);
      const format = globals.output;
      if (format === 'json' || format === 'yaml') {
        const { renderDocument } = await import('../../output/render.js');
        await renderDocument(summary, format, ctx.io.stdout);
      }
      // The summary above says what happened; exit 130 tells a script the run did not complete.
      if (summary.interrupted) throw new CancelledError('');
      if (summary.errors > 0) {
        throw new EmmctlError(`${summary.errors} simulated device operation${summary.errors === 1 ? '' : 's'} failed`, {
          hint: summary.errorSamples.join('\n      '),
        });
      }
    });
  acceptsOutput(program.commands.find((c) => c.name() === 'simulate')!, ['table', 'json', 'yaml']);
}

export function summaryLines(s: SimulationSummary): string[] {
  const where = s.store ? `in-process server over ${s.store}` : s.server;
  const cmd = s.commands;
  const types = Object.entries(cmd.byType).map(([t, n]) => `${t} ${n}`).join(', ');
  const lines = [
    `simulated ${s.devices} device${s.devices === 1 ? '' : 's'} (seed ${s.seed}) against ${where}`,
    `  enrolled      ${s.enrolled} new${s.notEnrolled ? `, ${s.notEnrolled} could not enroll` : ''}`,
    ...s.notEnrolledReasons.map((r) => `                ${r}`),
    `  checked in    ${s.checkIns}${s.rounds > 1 ? ` over ${s.rounds} rounds` : ''}`,
    `  commands      ${cmd.executed} executed${cmd.executed ? ` (${cmd.acknowledged} acknowledged, ${cmd.failed} failed; ${types})` : ''}`,
  ];
  if (s.wiped || s.retired) lines.push(`  inactive      ${s.wiped} wiped (no longer check in), ${s.retired} retired`);
  lines.push(`  errors        ${s.errors}${s.retries ? ` (${s.retries} requests retried)` : ''}`);
  lines.push(`  rate          ${Math.round(s.checkInsPerSecond)} check-ins/s (${s.checkInSeconds.toFixed(2)} s of check-ins, ${(s.durationMs / 1000).toFixed(2)} s in all)`);
  lines.push(`  state         ${s.stateFile}`);
  if (s.interrupted) lines.push(`  interrupted   after ${s.rounds} round${s.rounds === 1 ? '' : 's'}; run again to continue with the same fleet`);
  return lines;
}
