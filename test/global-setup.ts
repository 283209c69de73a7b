// Tests run the built CLI; build once if `npm test` was not the entry point (e.g. `npx vitest`).
// Also makes one scratch folder for the run, where every CLI child process gets an empty config
// dir and cache dir (test/helpers/cli.ts), removed when the run ends.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): () => void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  if (!existsSync(`${root}dist/cli.js`)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  // Workers are forked after global setup, so they inherit this variable.
  const scratch = mkdtempSync(join(tmpdir(), 'emmctl-test-home-'));
  process.env.EMMCTL_TEST_SCRATCH = scratch;
  return () => rmSync(scratch, { recursive: true, force: true });
}
