// Tests run the built CLI; build once if `npm test` was not the entry point (e.g. `npx vitest`).
// Also makes one scratch folder for the run, where every CLI child process gets an empty config
// dir and cache dir (test/helpers/cli.ts), removed when the run ends; and starts the run's one
// PostgreSQL cluster (test/helpers/postgres.ts hands each test file its own database in it), or
// uses the server EMMCTL_TEST_DATABASE_URL names.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startCluster } from './helpers/postgres-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL (with its password) on the run's PostgreSQL server. */
    postgresAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  if (!existsSync(`${root}dist/cli.js`)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  // Workers are forked after global setup, so they inherit this variable.
  const scratch = mkdtempSync(join(tmpdir(), 'emmctl-test-home-'));
  process.env.EMMCTL_TEST_SCRATCH = scratch;
  const external = process.env.EMMCTL_TEST_DATABASE_URL;
  const cluster = external ? undefined : await startCluster();
  project.provide('postgresAdminUrl', external ?? cluster!.adminUrl);
  return async () => {
    await cluster?.stop();
    rmSync(scratch, { recursive: true, force: true });
  };
}
