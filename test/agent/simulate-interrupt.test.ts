// Ctrl-C during `emmctl simulate --interval … --duration …` stops the run, not the process: the
// requests in flight finish, the summary prints, the state is saved, and the exit code is 130.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SimulationSummary } from '../../src/agent/simulator.js';
import { BIN, cliEnv, runCli, tempDir } from '../helpers/cli.js';

const dirs: Array<{ cleanup(): void }> = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts simulate, sends SIGINT once stderr matches `when`, and waits for the exit. */
function interruptedRun(args: string[], when: RegExp): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    // A safety net for a run that ignores the signal: the test then fails on the exit code.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (!sent && when.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('emmctl simulate interrupted', () => {
  it('on Ctrl-C after the first round prints the summary, keeps the state and exits 130', async () => {
    const dir = tempDir('emmctl-simulate-int-');
    dirs.push(dir);
    const dataDir = join(dir.path, 'data');
    const r = await interruptedRun(
      ['simulate', '--devices', '5', '--interval', '1', '--duration', '60', '--data-dir', dataDir, '-o', 'json'],
      /round 1: /,
    );
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('interrupted: finishing the requests in flight');
    expect(r.stderr).toMatch(/simulated 5 devices \(seed 1\)/);
    expect(r.stderr).toMatch(/enrolled +5 new/);
    expect(r.stderr).toMatch(/interrupted +after \d+ rounds?/);
    // The immediate exit's line is not there: the run stopped, the process was not killed.
    expect(r.stderr).not.toMatch(/^interrupted$/m);

    const summary = JSON.parse(r.stdout) as SimulationSummary;
    expect(summary).toMatchObject({ devices: 5, enrolled: 5, interrupted: true, errors: 0 });
    expect(summary.rounds).toBeGreaterThanOrEqual(1);
    expect(summary.checkIns).toBeGreaterThanOrEqual(5);

    const stateFile = join(dataDir, 'simulator-state.json');
    expect(existsSync(stateFile)).toBe(true);
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { fleets: Record<string, { devices: Array<{ credential?: string }> }> };
    const [fleet] = Object.values(state.fleets);
    expect(fleet!.devices.filter((d) => d?.credential)).toHaveLength(5);

    // The saved state is whole: the next run checks the same five devices in, enrolling none.
    const again = await runCli(['simulate', '--devices', '5', '--once', '--data-dir', dataDir, '-o', 'json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ enrolled: 0, checkIns: 5, interrupted: false });
  });
});
