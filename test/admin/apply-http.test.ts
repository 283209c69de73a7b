// plan / apply / export against a real `emmctl server` child process on 127.0.0.1:0, selected
// through a context whose token came from stdin.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policies, sandbox, startServer, type RunningServer, type Sandbox } from '../plan/fixtures.js';

let sb: Sandbox;
let server: RunningServer;
beforeAll(async () => {
  sb = sandbox();
  const serverData = join(sb.root, 'server-data');
  server = await startServer(serverData);
  delete (sb.env as Record<string, string | undefined>).EMMCTL_DATA_DIR;
  const add = await sb.cli(['context', 'add', 'remote', '--server', server.url, '--token-stdin', '--use'], { input: `${server.token}\n` });
  expect(add.code, add.stderr).toBe(0);
});
afterAll(async () => {
  await server?.stop();
  sb?.cleanup();
});

describe('plan and apply over HTTP', () => {
  it('plan → apply → plan reports no changes', async () => {
    const plan = await sb.cli(['plan', '-o', 'json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).backend).toEqual({ kind: 'http', location: server.url, storeId: expect.stringMatching(/^st_[0-9a-f]{24}$/) });
    const apply = await sb.cli(['apply', '--yes']);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain('Apply complete: 5 created');
    expect(apply.stdout + apply.stderr).not.toContain(server.token);
    const again = await sb.cli(['plan', '--detailed-exitcode']);
    expect(again.code).toBe(0);
    expect((await sb.cli(['apply', '--yes'])).stdout).toMatch(/^No changes\./);
  });

  it('refuses a stale saved plan', async () => {
    sb.write('policies/policies.yaml', policies(9));
    expect((await sb.cli(['plan', '--out', 'one.plan'])).code).toBe(0);
    expect((await sb.cli(['plan', '--out', 'two.plan'])).code).toBe(0);
    expect((await sb.cli(['apply', '--plan', 'one.plan', '--yes'])).code).toBe(0);
    const stale = await sb.cli(['apply', '--plan', 'two.plan', '--yes']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/plan is stale: Policy\/android-baseline changed \(version \d+, plan expected \d+\); run emmctl plan again/);
  });

  it('exports what the server holds, and the export plans as no change', async () => {
    const r = await sb.cli(['export', '--dir', 'from-server']);
    expect(r.code, r.stderr).toBe(0);
    const plan = await sb.cli(['plan', 'from-server', '--prune', '--detailed-exitcode']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
  });

  it('a wrong token is refused, never echoed', async () => {
    const r = await sb.cli(['plan'], { env: { EMMCTL_TOKEN: 'emm_at_wrong-token-value' } });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain('emm_at_wrong-token-value');
  });
});
