// CLI consistency (issue #7 item 21): -q everywhere, -o values a command cannot print are usage
// errors, typos in filter values and sort fields are exit 2 with a suggestion, help examples
// that work when pasted, global options in every command's help, and `emmctl version`.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { sandbox, type Sandbox } from '../plan/fixtures.js';

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

describe('-q', () => {
  it('silences context use, context rm and init (data and errors only)', async () => {
    expect((await sb.cli(['context', 'add', 'other', '--data-dir', `${sb.root}/other`, '-q'])).stderr).toBe('');
    const use = await sb.cli(['context', 'use', 'other', '-q'], { env: { EMMCTL_DATA_DIR: undefined } });
    expect(use.code, use.stderr).toBe(0);
    expect(use.stderr).toBe('');
    const rm = await sb.cli(['context', 'rm', 'other', '-q'], { env: { EMMCTL_DATA_DIR: undefined } });
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stderr).toBe('');
    const init = await sb.cli(['init', 'scaffold', '-q']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout + init.stderr).toBe('');
  });
});

describe('-o', () => {
  it('schema -o yaml prints the schema as YAML; -o json (the default) the shipped file', async () => {
    const yaml = await sb.cli(['schema', '-o', 'yaml']);
    expect(yaml.code, yaml.stderr).toBe(0);
    expect(yaml.stdout.trimStart().startsWith('{')).toBe(false);
    const json = await sb.cli(['schema']);
    expect(parse(yaml.stdout)).toEqual(JSON.parse(json.stdout));
    expect((await sb.cli(['schema', '-o', 'csv'])).code).toBe(2);
  });

  it('server token create -o yaml|json prints the token record with its secret; text the bare secret', async () => {
    const yaml = await sb.cli(['server', 'token', 'create', '--role', 'viewer', '--name', 'y', '-o', 'yaml']);
    expect(yaml.code, yaml.stderr).toBe(0);
    const doc = parse(yaml.stdout) as { token: { id: string; name: string; role: string }; secret: string };
    expect(doc.token).toMatchObject({ name: 'y', role: 'viewer' });
    expect(doc.secret).toMatch(/^emm_at_/);
    const text = await sb.cli(['server', 'token', 'create', '--role', 'viewer', '--name', 't']);
    expect(text.stdout).toMatch(/^emm_at_\S+\n$/);
  });

  it('plan -o csv is refused with exit 2 before anything is read', async () => {
    const r = await sb.cli(['plan', '-o', 'csv']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/`emmctl plan` prints table, json, yaml, not csv/);
  });

  it('apply, export and the other fixed-form commands refuse an -o they cannot print (exit 2, nothing done)', async () => {
    for (const [args, format] of [[['apply', '--yes'], 'csv'], [['apply', '--yes'], 'wide'], [['export'], 'json'], [['version'], 'csv'], [['server', 'token', 'create', '--role', 'viewer'], 'csv']] as const) {
      const r = await sb.cli([...args, '-o', format]);
      expect(r.code, `${args.join(' ')} -o ${format}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe('');
    }
    // Nothing was applied by the refused apply.
    expect(JSON.parse((await sb.cli(['plan', '-o', 'json'])).stdout).summary.create).toBeGreaterThan(0);
  });
});

describe('filter values and sort fields', () => {
  it('an unknown enum value is exit 2 with "did you mean", for every enum field, in devices list and compliance', async () => {
    for (const [filter, guess] of [['platform=andriod', 'android'], ['ownership=corprate', 'corporate'], ['compliance=noncompliant2', 'noncompliant'], ['state=enroled', 'enrolled'], ['platform!=Android', 'android']]) {
      for (const command of [['devices', 'list'], ['compliance']]) {
        const r = await sb.cli([...command, '--filter', filter!]);
        expect(r.code, `${command.join(' ')} --filter ${filter}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toContain(`did you mean "${guess}"?`);
        expect(r.stdout).toBe('');
      }
    }
    // A read-only command needs a store to exist (it never creates one).
    expect((await sb.cli(['server', 'token', 'create', '--role', 'admin'])).code).toBe(0);
    expect((await sb.cli(['devices', 'list', '--filter', 'platform=android'])).code).toBe(0);
  });

  it('--sort with an unknown field is exit 2 with a suggestion', async () => {
    for (const command of [['devices', 'list'], ['compliance']]) {
      const bogus = await sb.cli([...command, '--sort', 'bogus']);
      expect(bogus.code).toBe(2);
      expect(bogus.stderr).toMatch(/cannot sort devices by "bogus"/);
      const typo = await sb.cli([...command, '--sort', '-lastChekIn']);
      expect(typo.code).toBe(2);
      expect(typo.stderr).toContain('did you mean "lastCheckIn"?');
    }
    expect((await sb.cli(['server', 'token', 'create', '--role', 'admin'])).code).toBe(0);
    expect((await sb.cli(['devices', 'list', '--sort=-os'])).code).toBe(0);
  });
});

describe('help', () => {
  it('examples paste into a shell as they read: quoted filters, the server default port', async () => {
    const devices = await sb.cli(['devices', '--help']);
    expect(devices.stdout).toContain("--filter 'os<14'");
    expect(devices.stdout).not.toMatch(/--filter os</);
    const context = await sb.cli(['context', 'add', '--help']);
    expect(context.stdout).toContain('http://127.0.0.1:8787');
    expect(context.stdout).not.toContain(':8080');
  });

  it('every subcommand help lists the global options', async () => {
    for (const command of [['devices', 'list'], ['context', 'use'], ['server', 'token', 'create'], ['plan'], ['version']]) {
      const r = await sb.cli([...command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout, command.join(' ')).toMatch(/Global Options:[\s\S]*--context <name>[\s\S]*-o, --output[\s\S]*-q, --quiet/);
    }
  });

  it('the apply hint off a terminal keeps the paths and --prune it was given', async () => {
    const r = await sb.cli(['apply', 'policies', '--prune']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('`emmctl plan policies --prune`, then run `emmctl apply policies --prune --yes`');
  });
});

describe('emmctl version', () => {
  it('prints the versions for people and as a record with -o json|yaml', async () => {
    const { version } = JSON.parse((await import('node:fs')).readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const text = await sb.cli(['version']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`emmctl ${version}`);
    expect(text.stdout).toContain(process.version);
    const json = await sb.cli(['version', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual({
      version, node: process.version, platform: process.platform, arch: process.arch,
      policyApiVersion: 'emmctl/v1', schemaId: expect.any(String), storeSchemaVersion: expect.any(Number),
    });
    expect(parse((await sb.cli(['version', '-o', 'yaml'])).stdout)).toEqual(JSON.parse(json.stdout));
    expect((await sb.cli(['version', '-o', 'csv'])).code).toBe(2);
  });
});
