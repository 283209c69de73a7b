// `validate -` applies its 1 MiB limit while reading stdin (issue #7 item 10): an endless pipe
// is refused once it passes the limit, with the file-size problem and exit 3, instead of being
// read (and held in memory) to its end.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, cliEnv } from '../helpers/cli.js';

describe('validate - (stdin) over 1 MiB', () => {
  it('stops reading past the limit: an endless pipe ends in exit 3 with a clear problem, having read little more than 1 MiB', async () => {
    const child = spawn(process.execPath, [BIN, 'validate', '-', '-o', 'json'], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    // A writer that never ends: only a reader that stops can let the command finish.
    let sent = 0;
    const chunk = Buffer.from('key: value\n'.repeat(6000));
    child.stdin.on('error', () => {}); // EPIPE once the CLI stops reading
    const pump = () => {
      while (!child.stdin.destroyed && child.stdin.write(chunk)) sent += chunk.length;
      if (!child.stdin.destroyed) sent += chunk.length;
    };
    child.stdin.on('drain', pump);
    pump();
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(killer);
    child.stdin.destroy();
    expect(code).toBe(3);
    const report = JSON.parse(stdout) as { valid: boolean; problems: Array<{ file: string; rule: string; message: string }> };
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ file: '-', rule: 'io/too-large', message: expect.stringContaining('larger than the limit of 1 MiB') })]);
    // What the writer got rid of: the limit plus what pipes buffer, nowhere near "all of it".
    expect(sent).toBeLessThan(16 * 1024 * 1024);
  });
});
