// One `emmctl plan` or `emmctl apply` against a real server asks GET /v1/whoami once: the store's
// identity, the token's role (role notes), the server's notification and Android channels all
// come from the same answer, kept on the backend for the command's run. Counted in the server's
// own access log.
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDirs, ROOT, runCli } from '../helpers/cli.js';
import { createApiToken, startServerProcess, type ServerProcess } from '../helpers/server.js';

const freshDir = dataDirs('emmctl-whoami-once-');
let server: ServerProcess;
let admin: string;
let policies: string;

beforeAll(async () => {
  const dataDir = freshDir('store');
  admin = await createApiToken(dataDir, 'admin', 'ci-admin');
  server = await startServerProcess(dataDir);
  policies = freshDir('policies');
  cpSync(join(ROOT, 'policies'), policies, { recursive: true });
});
afterAll(async () => {
  await server?.stop();
});

/** The requests for `path` the server has logged so far. */
function requestsFor(path: string): number {
  let n = 0;
  for (const line of server.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { path?: unknown };
    if (entry.path === path) n++;
  }
  return n;
}

let marks = 0;
/** Waits until the server has logged every request made so far: it logs them in order, and this one last. */
async function logged(): Promise<void> {
  const mark = `/v1/mark-${++marks}`;
  await fetch(`${server.url}${mark}`).then((r) => r.text());
  await server.waitForStderr(new RegExp(`"path":"${mark}"`));
}

async function whoamisOf(args: string[], code: number): Promise<number> {
  const before = requestsFor('/v1/whoami');
  const r = await runCli(args, { env: { EMMCTL_SERVER: server.url, EMMCTL_TOKEN: admin } });
  expect(r.code, r.stderr).toBe(code);
  await logged();
  return requestsFor('/v1/whoami') - before;
}

describe('whoami against a real server', () => {
  it('is asked once by a plan with changes, once by the apply that makes them, and once by a plan in sync', async () => {
    expect(await whoamisOf(['plan', policies, '--detailed-exitcode'], 4)).toBe(1);
    expect(await whoamisOf(['apply', policies, '--yes'], 0)).toBe(1);
    expect(await whoamisOf(['plan', policies, '--detailed-exitcode'], 0)).toBe(1);
  });
});
