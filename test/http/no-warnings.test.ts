// Every server-backed command runs clean on each supported Node (20, 22 and 24): no process
// warning on stderr, neither from emmctl nor from a dependency (on Node 24 the HTTP client's
// proxy lookup used to print DEP0169 `url.parse()` on every request). .ci/run runs this file
// under each of those Nodes; the server child runs on the same Node as the CLI.
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { createApiToken, startServerProcess, type ServerProcess } from '../helpers/server.js';

const LAB_PROFILE = `apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata:
  name: lab-any
spec:
  platforms: [android, ios, ipados, macos, windows]
  ownership: corporate
`;

// Node writes every process warning as "(node:PID) [CODE] SomethingWarning: ...".
const NODE_WARNING = /\(node:\d+\)|\b[A-Z]\w*Warning\b/;

const work = tempDir('emmctl-no-warnings-');
const repo = join(work.path, 'repo');
let server: ServerProcess;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  cpSync(join(ROOT, 'policies'), join(repo, 'policies'), { recursive: true });
  writeFileSync(join(repo, 'policies', 'enrollment', 'lab.yaml'), LAB_PROFILE);
  const dataDir = join(work.path, 'server-data');
  const token = await createApiToken(dataDir, 'admin', 'warnings-admin');
  // Nothing inherited may silence warnings, or this test could not fail.
  const loud = { NODE_OPTIONS: undefined, NODE_NO_WARNINGS: undefined };
  server = await startServerProcess(dataDir, ['--no-access-log'], { NODE_OPTIONS: '', NODE_NO_WARNINGS: '' });
  env = { ...loud, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token };
});
afterAll(async () => {
  await server?.stop();
  work.cleanup();
});

async function clean(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli(args, { cwd: repo, env: { ...env, ...extraEnv } });
  expect(r.code, `emmctl ${args.join(' ')}:\n${r.stderr}`).toBe(0);
  expect(r.stderr, `emmctl ${args.join(' ')} on node ${process.version}`).not.toMatch(NODE_WARNING);
  return r;
}

describe(`server-backed commands on node ${process.version}`, () => {
  it('print no Node warning on stderr: plan, apply, export, enroll, simulate, devices, compliance, lock, commands, audit', async () => {
    await clean(['plan']);
    await clean(['apply', '--yes']);
    await clean(['export', '--dir', join(work.path, 'exported')]);
    const created = JSON.parse((await clean(['enroll', 'token', 'create', '--profile', 'lab-any', '-o', 'json'])).stdout) as { secret: string };
    await clean(['simulate', '--devices', '2', '--once', '--seed', '3', '--enroll-token', created.secret, '--state', join(work.path, 'sim.json')]);
    const devices = JSON.parse((await clean(['devices', 'list', '-o', 'json'])).stdout) as Array<{ id: string }>;
    expect(devices).toHaveLength(2);
    await clean(['devices', 'show', devices[0]!.id]);
    await clean(['compliance']);
    await clean(['lock', devices[0]!.id, '--yes']);
    await clean(['commands', 'list', '--device', devices[0]!.id]);
    await clean(['audit']);
    // The proxy lookup runs on every request, with or without proxy settings in the environment.
    await clean(['devices', 'list'], { HTTP_PROXY: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1,localhost' });
    expect(server.stderr()).not.toMatch(NODE_WARNING);
  });
});
