// The editor integration: yaml-language-server checks only the document that carries the
// modeline, so every document of every multi-document file we write or ship carries one, and it
// points at a schema that exists (relative to the file) or at the schema's published URL, never
// into the install folder. The schema itself compiles under ajv's strict mode and has a URL $id.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';
import { sandbox, SECRET } from '../plan/fixtures.js';

const SCHEMA_FILE = join(ROOT, 'schema', 'emmctl.schema.json');
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as { $id: string };
const MODELINE = /^# yaml-language-server: \$schema=(\S+)$/;

/** Each `---`-separated document's modeline target; throws naming the document that has none. */
function modelines(file: string, text: string): string[] {
  return text.split(/^---$/m).map((doc, i) => {
    const first = doc.replace(/^\n/, '').split('\n')[0] ?? '';
    const m = MODELINE.exec(first);
    if (!m) throw new Error(`${file}: document ${i + 1} has no yaml-language-server modeline (starts ${JSON.stringify(first)})`);
    return m[1]!;
  });
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n.startsWith('.') ? [] : yamlFiles(p);
    return /\.ya?ml$/.test(n) ? [p] : [];
  });
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('the schema', () => {
  it('compiles with ajv in strict mode (ajv-formats for the formats it uses)', () => {
    type AjvClass = new (o: object) => { compile(s: object): unknown };
    const mod = Ajv2020 as unknown as AjvClass & { default?: AjvClass };
    const Ajv = mod.default ?? mod;
    const formats = addFormats as unknown as ((a: unknown) => void) & { default?: (a: unknown) => void };
    // Plain strict mode (strictRequired, strictTypes, strictTuples, unknown keywords and formats)…
    expect(() => new Ajv({ strict: true }).compile(schema)).not.toThrow();
    // …and as editors and tools run it, with the standard formats added.
    const withFormats = new Ajv({ strict: true });
    (formats.default ?? formats)(withFormats);
    expect(() => withFormats.compile(schema)).not.toThrow();
  });

  it('has a resolvable https $id: the raw URL of this very file in the repository', () => {
    const url = new URL(schema.$id);
    expect(url.protocol).toBe('https:');
    expect(url.pathname.endsWith('/schema/emmctl.schema.json')).toBe(true);
    // The package ships the file at that path, so the URL and the installed copy agree.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('schema');
  });

  it('"match and devices" in one Group is still refused, with its own message', async () => {
    const r = await runCli(['validate', '-'], { input: 'apiVersion: emmctl/v1\nkind: Group\nmetadata: { name: g }\nspec:\n  match: { platforms: [android] }\n  devices: [a]\n' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/a Group has either "match" or "devices", not both \[schema\/group-match-or-devices\]/);
  });
});

describe('every shipped example document carries the modeline', () => {
  it('policies/: each document of each file, pointing at the repository schema', () => {
    const files = yamlFiles(join(ROOT, 'policies'));
    expect(files.length).toBeGreaterThan(3);
    let documents = 0;
    for (const f of files) {
      for (const target of modelines(f, readFileSync(f, 'utf8'))) {
        expect(resolve(dirname(f), target), f).toBe(SCHEMA_FILE);
        documents += 1;
      }
    }
    expect(documents).toBeGreaterThan(files.length);
  });
});

describe('export', () => {
  it('--dir: every document has a modeline relative to its file, to a schema it writes beside them', async () => {
    const sb = sandbox();
    cleanups.push(sb.cleanup);
    expect((await sb.cli(['apply', '--yes'])).code).toBe(0);
    const r = await sb.cli(['export', '--dir', 'out']);
    expect(r.code, r.stderr).toBe(0);
    const dir = join(sb.root, 'out');
    const written = join(dir, 'emmctl.schema.json');
    expect(readFileSync(written, 'utf8')).toBe(readFileSync(SCHEMA_FILE, 'utf8'));
    let documents = 0;
    for (const f of yamlFiles(dir)) {
      const text = readFileSync(f, 'utf8');
      expect(text).not.toContain(ROOT);
      for (const target of modelines(f, text)) {
        expect(target).toBe('./emmctl.schema.json');
        expect(resolve(dirname(f), target)).toBe(written);
        documents += 1;
      }
    }
    expect(documents).toBe(5);
  });

  it('--dir inside a repo made by init: points at that repo\'s schema and writes no second copy', async () => {
    const t = tempDir('emmctl-editor-');
    cleanups.push(t.cleanup);
    expect((await runCli(['init', t.path])).code).toBe(0);
    const env = { EMMCTL_DATA_DIR: join(t.path, '.data'), CORP_WIFI_PSK: SECRET };
    expect((await runCli(['apply', join(t.path, 'policies'), '--yes'], { env })).code).toBe(0);
    const r = await runCli(['export', '--dir', join(t.path, 'policies', 'exported')], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(t.path, 'policies', 'exported', 'emmctl.schema.json'))).toBe(false);
    for (const f of yamlFiles(join(t.path, 'policies', 'exported'))) {
      for (const target of modelines(f, readFileSync(f, 'utf8'))) {
        expect(target).toBe('../../emmctl.schema.json');
        expect(resolve(dirname(f), target)).toBe(join(t.path, 'emmctl.schema.json'));
      }
    }
  });

  it('to stdout: every document carries the schema\'s published URL, never a local path', async () => {
    const sb = sandbox();
    cleanups.push(sb.cleanup);
    expect((await sb.cli(['apply', '--yes'])).code).toBe(0);
    const r = await sb.cli(['export']);
    expect(r.code, r.stderr).toBe(0);
    const targets = modelines('stdout', r.stdout);
    expect(targets).toHaveLength(5);
    for (const t of targets) expect(t).toBe(schema.$id);
  });
});
