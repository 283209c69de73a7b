// A command that would ignore an -o value refuses it (exit 2) before it runs, naming the command
// by its full path and listing the formats it really prints (issue #7 item 21).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

const dir = tempDir('emmctl-output-');
afterAll(() => dir.cleanup());
const env = { EMMCTL_DATA_DIR: join(dir.path, 'data') };

describe('-o values a command does not print', () => {
  it.each([
    [['init', join(dir.path, 'repo'), '-o', 'json'], '`emmctl init` has no -o output'],
    [['completion', 'bash', '-o', 'json'], '`emmctl completion` has no -o output'],
    [['context', 'current', '-o', 'csv'], '`emmctl context current` prints table, json, yaml, not csv'],
    [['simulate', '--devices', '1', '-o', 'csv'], '`emmctl simulate` prints table, json, yaml, not csv'],
    [['lock', 'dev_0001', '-o', 'wide', '--dry-run'], '`emmctl lock` prints table, json, yaml, csv, not wide'],
    [['server', 'token', 'create', '--role', 'admin', '-o', 'csv'], '`emmctl server token create` prints table, json, yaml, not csv'],
  ])('%j exits 2 and does nothing', async (args, message) => {
    const r = await runCli(args, { env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
    expect(existsSync(join(dir.path, 'repo'))).toBe(false);
    expect(existsSync(env.EMMCTL_DATA_DIR)).toBe(false);
  });

  it('context current still prints -o json', async () => {
    const r = await runCli(['context', 'current', '-o', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ backend: 'embedded' });
  });
});
