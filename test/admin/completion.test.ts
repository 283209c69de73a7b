// `emmctl completion`: scripts generated from the program tree, checked by the shells themselves.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

const dir = tempDir('emmctl-completion-');
afterAll(() => dir.cleanup());

/** Asks the generated bash function for completions of a command line, as bash would. */
function bashComplete(script: string, words: string[]): string[] {
  const path = join(dir.path, 'emmctl.bash');
  writeFileSync(path, script);
  const array = words.map((w) => `'${w}'`).join(' ');
  const r = spawnSync('bash', ['-c', `source '${path}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _emmctl; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('completion', () => {
  it('bash: valid syntax (bash -n) and completes commands, subcommands, options and choices', async () => {
    const r = await runCli(['completion', 'bash']);
    expect(r.code, r.stderr).toBe(0);
    const path = join(dir.path, 'check.bash');
    writeFileSync(path, r.stdout);
    const syntax = spawnSync('bash', ['-n', path], { encoding: 'utf8' });
    expect(syntax.status, syntax.stderr).toBe(0);

    const top = bashComplete(r.stdout, ['emmctl', '']);
    // Never drifts: every command `emmctl --help` lists is offered.
    const help = await runCli(['--help']);
    const listed = [...help.stdout.split('Commands:')[1]!.split('Exit codes:')[0]!.matchAll(/^  (\w[\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(listed.length).toBeGreaterThan(10);
    for (const c of listed) expect(top).toContain(c);
    for (const c of ['devices', 'compliance', 'wipe', 'retire', 'lock', 'reboot', 'commands', 'audit', 'enroll', 'completion']) expect(top).toContain(c);
    expect(bashComplete(r.stdout, ['emmctl', 'comp'])).toEqual(['compliance', 'completion']);
    expect(bashComplete(r.stdout, ['emmctl', 'enroll', 'token', ''])).toEqual(expect.arrayContaining(['create', 'list', 'revoke']));
    const wipeOpts = bashComplete(r.stdout, ['emmctl', 'wipe', '--']);
    for (const o of ['--yes', '--max-devices', '--dry-run', '--wait', '--reason', '--filter', '--output']) expect(wipeOpts).toContain(o);
    // Option values in between do not confuse the command path.
    expect(bashComplete(r.stdout, ['emmctl', '--data-dir', '/tmp/x', 'devices', 'list', '--f'])).toEqual(['--filter']);
    // Choices come from the option definition itself (whatever -o accepts today).
    expect(bashComplete(r.stdout, ['emmctl', 'devices', 'list', '-o', ''])).toEqual(expect.arrayContaining(['table', 'wide', 'json', 'yaml', 'csv']));
    expect(bashComplete(r.stdout, ['emmctl', 'devices', 'list', '-o', 'y'])).toEqual(['yaml']);
  });

  it('zsh and fish scripts name every command and subcommand', async () => {
    const zsh = await runCli(['completion', 'zsh']);
    const fish = await runCli(['completion', 'fish']);
    expect(zsh.code).toBe(0);
    expect(fish.code).toBe(0);
    expect(zsh.stdout.startsWith('#compdef emmctl\n')).toBe(true);
    expect(zsh.stdout).toMatch(/'enroll token'\) echo 'create list ls revoke'/);
    expect(zsh.stdout).toContain('compdef _emmctl emmctl');
    expect(fish.stdout).toMatch(/complete -c emmctl -n '__emmctl_at '\\''enroll token'\\''' -a 'create'/);
    expect(fish.stdout).toMatch(/-l max-devices -r/);
    expect(fish.stdout).toMatch(/-l output -s o -x -a 'table wide json yaml csv\b/);
    for (const shell of ['zsh', 'fish']) {
      const present = spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;
      if (!present) continue; // syntax-check only where the shell is installed
      const path = join(dir.path, `check.${shell}`);
      writeFileSync(path, shell === 'zsh' ? zsh.stdout : fish.stdout);
      const check = spawnSync(shell, shell === 'zsh' ? ['-n', path] : ['--no-execute', path], { encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
    }
  });

  it('rejects an unknown shell with exit 2', async () => {
    const r = await runCli(['completion', 'powershell']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected one of bash, zsh, fish/);
  });
});

describe('help', () => {
  it('every command of this area has examples and says what to run next', async () => {
    for (const args of [['devices'], ['devices', 'list'], ['devices', 'show'], ['compliance'], ['wipe'], ['lock'], ['retire'], ['reboot'], ['commands', 'list'], ['commands', 'cancel'], ['audit'], ['enroll', 'token', 'create'], ['enroll', 'import'], ['completion']]) {
      const r = await runCli([...args, '--help']);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/Examples?:\n\s+\$ emmctl /);
      expect(r.stdout, args.join(' ')).toMatch(/Next:/);
    }
  });
});
