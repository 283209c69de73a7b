// `notify` steps reach people only through `emmctl server --notify-webhook`: validate warns
// (rule notify-no-channel) unless told the target has a channel, and plan asks its backend.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { createApiToken, killAll, startServerProcess } from '../helpers/server.js';

const dir = tempDir('emmctl-notify-warn-');
afterAll(() => {
  killAll();
  dir.cleanup();
});
const file = join(dir.path, 'compliance.yaml');
writeFileSync(file, [
  'apiVersion: emmctl/v1',
  'kind: CompliancePolicy',
  'metadata: { name: baseline }',
  'spec:',
  '  assign: [all]',
  '  rules: { encryption: required }',
  '  actions:',
  '    - { after: 0d, do: markNoncompliant }',
  '    - { after: 1d, do: notify }',
  '',
].join('\n'));
const env = { EMMCTL_CACHE_DIR: join(dir.path, 'cache'), HOME: dir.path };

describe('notify-no-channel', () => {
  it('validate warns at the step, fails it with --strict, and is quiet with --notify-channel (cached or not)', async () => {
    for (let round = 0; round < 2; round++) {
      const r = await runCli(['validate', file], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`${file}:9:24: warning: the notify step after 1d reaches nobody unless the server has a notification channel (emmctl server --notify-webhook URL) [notify-no-channel]`);
      expect((await runCli(['validate', file, '--strict'], { env })).code).toBe(3);
      const told = await runCli(['validate', file, '--notify-channel', '--strict', '-o', 'json'], { env });
      expect(told.code, told.stderr).toBe(0);
      expect(JSON.parse(told.stdout)).toMatchObject({ valid: true, problems: [], summary: { warnings: 0 } });
    }
  });

  it('plan warns on the embedded store and on a server without a channel, not on a server with one', async () => {
    const embedded = await runCli(['plan', file, '--data-dir', join(dir.path, 'local')], { env });
    expect(embedded.code, embedded.stderr).toBe(0);
    expect(embedded.stderr).toContain('[notify-no-channel]');

    const dataDir = join(dir.path, 'served');
    const token = await createApiToken(dataDir, 'viewer');
    for (const withChannel of [false, true]) {
      const server = await startServerProcess(dataDir, withChannel ? ['--notify-webhook', 'http://127.0.0.1:9/hook'] : [], { EMMCTL_NOTIFY_SECRET: 's3cret' });
      try {
        const r = await runCli(['plan', file], { env: { ...env, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token } });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr.includes('[notify-no-channel]'), r.stderr).toBe(!withChannel);
        expect(r.stdout).toContain('+ create CompliancePolicy/baseline');
      } finally {
        await server.stop();
      }
    }
  });
});
