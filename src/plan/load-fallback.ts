// STOPGAP until the shared policy loader (src/policy) lands: reads policy files with yaml,
// validates each document against the schema with ajv, checks references and resolves
// `${env:NAME}` secrets, reporting every problem at file:line:col. Replace its one caller
// (loadDesired in src/cli/commands/plan.ts) with the shared loader and delete this file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ResourceDocument } from '../model/policy.generated.js';

export interface LoadProblem {
  file: string;
  line: number;
  col: number;
  message: string;
}

export interface LoadedDocument {
  /** The file it came from, as listed by listPolicyFiles. */
  sourceFile: string;
  document: ResourceDocument;
  resolved: ResourceDocument;
}

export type LoadResult = { ok: true; documents: LoadedDocument[] } | { ok: false; problems: LoadProblem[] };

/** The policy files under the given paths, in load order: *.yaml / *.yml, dot-directories skipped. */
export function listPolicyFiles(paths: string[]): { files: string[]; problems: LoadProblem[] } {
  const problems: LoadProblem[] = [];
  return { files: paths.flatMap((p) => listFiles(p, problems)), problems };
}

function listFiles(path: string, problems: LoadProblem[]): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    problems.push({ file: path, line: 0, col: 0, message: 'no such file or directory' });
    return [];
  }
  if (st.isFile()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const p = join(path, e.name);
      if (e.isDirectory()) return e.name.startsWith('.') ? [] : listFiles(p, problems);
      return /\.ya?ml$/.test(e.name) ? [p] : [];
    });
}

export async function loadPolicyFiles(paths: string[], opts: { env: Record<string, string | undefined>; schemaFile: string }): Promise<LoadResult> {
  // yaml is CommonJS under Node's export conditions: the bundle may hand it over as `default`.
  const yamlModule = (await import('yaml')) as typeof import('yaml') & { default?: typeof import('yaml') };
  const { parseAllDocuments, LineCounter, isMap, isSeq, isScalar } = yamlModule.default ?? yamlModule;
  const ajvModule = (await import('ajv/dist/2020.js')) as unknown as { default: typeof import('ajv/dist/2020.js').default };
  const Ajv2020 = ajvModule.default;
  const { default: addFormats } = await import('ajv-formats');
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  (addFormats as unknown as (a: unknown) => void)(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(opts.schemaFile, 'utf8')));
  const problems: LoadProblem[] = [];
  const docs: Array<{ doc: ResourceDocument; file: string; sourceFile: string; pos: (path: Array<string | number>) => { line: number; col: number } }> = [];
  for (const file of paths.flatMap((p) => listFiles(p, problems))) {
    const text = readFileSync(file, 'utf8');
    const lc = new LineCounter();
    const display = relative(process.cwd(), file) || file;
    for (const yd of parseAllDocuments(text, { lineCounter: lc, prettyErrors: false })) {
      if (yd.errors.length) {
        for (const e of yd.errors) {
          const p = lc.linePos(e.pos[0]);
          problems.push({ file: display, line: p.line, col: p.col, message: e.message.split('\n')[0]! });
        }
        continue;
      }
      // An empty document (a trailing `---`, a comment-only file) declares nothing.
      if (yd.contents === null || (isScalar(yd.contents) && yd.contents.value === null)) continue;
      const pos = (path: Array<string | number>) => {
        let node: unknown = yd.contents;
        for (const key of path) {
          let next: unknown;
          if (isMap(node)) next = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(key))?.value;
          else if (isSeq(node)) next = node.items[Number(key)];
          if (!next) break;
          node = next;
        }
        const range = (node as { range?: [number, number, number] }).range;
        return range ? lc.linePos(range[0]) : { line: 1, col: 1 };
      };
      const doc = yd.toJS() as ResourceDocument;
      if (!validate(doc)) {
        for (const e of validate.errors ?? []) {
          if (e.keyword === 'if') continue;
          const path = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
          const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(document)';
          problems.push({ file: display, ...pos(path), message: `${where}: ${e.message}${e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}` });
        }
        continue;
      }
      docs.push({ doc, file: display, sourceFile: file, pos });
    }
  }
  const seen = new Map<string, string>();
  const groups = new Set(['all', ...docs.filter((d) => d.doc.kind === 'Group').map((d) => d.doc.metadata.name)]);
  for (const d of docs) {
    const key = `${d.doc.kind}/${d.doc.metadata.name}`;
    const p = d.pos(['metadata', 'name']);
    if (seen.has(key)) problems.push({ file: d.file, ...p, message: `${key} is declared twice (first at ${seen.get(key)})` });
    else seen.set(key, `${d.file}:${p.line}:${p.col}`);
    const refs: Array<{ name: string; path: Array<string | number> }> =
      d.doc.kind === 'EnrollmentProfile'
        ? d.doc.spec.group ? [{ name: d.doc.spec.group, path: ['spec', 'group'] }] : []
        : d.doc.kind === 'Group' ? [] : d.doc.spec.assign.map((name, i) => ({ name, path: ['spec', 'assign', i] }));
    for (const r of refs) if (!groups.has(r.name)) problems.push({ file: d.file, ...d.pos(r.path), message: `${key} refers to group "${r.name}", which no file declares` });
  }
  const loaded: LoadedDocument[] = [];
  for (const d of docs) {
    const resolve = (value: unknown, path: Array<string | number>): unknown => {
      if (typeof value === 'string') {
        const m = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value);
        if (!m) return value;
        const v = opts.env[m[1]!];
        if (v === undefined || v === '') {
          problems.push({ file: d.file, ...d.pos(path), message: `secret \${env:${m[1]}} is not set: environment variable ${m[1]} is empty or missing` });
          return value;
        }
        return v;
      }
      if (Array.isArray(value)) return value.map((v, i) => resolve(v, [...path, i]));
      if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, [...path, k])]));
      return value;
    };
    loaded.push({ sourceFile: d.sourceFile, document: d.doc, resolved: resolve(d.doc, []) as ResourceDocument });
  }
  return problems.length ? { ok: false, problems } : { ok: true, documents: loaded };
}

export function formatLoadProblems(problems: LoadProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}\n`).join('');
}
