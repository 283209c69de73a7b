// The module graph of src/ keeps the shape design.md draws: no import cycles, and the lower
// layers never reach up. Type-only imports count: they tie the modules together as much as any
// other (both cycles issue #8 found ran through one), yet the build erases them, so dist/meta.json
// (the build's record) never shows them. The graph is read from the sources with TypeScript's
// parser, and checked against meta.json: every import the build followed must be in it, so the
// scan cannot silently miss a form of import the bundler understands.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

type ImportKind = 'import' | 'import type' | 'import()' | 'export from';

interface Graph {
  files: string[];
  /** importer → imported → how (a pair can be linked more than one way). */
  edges: Map<string, Map<string, Set<ImportKind>>>;
  /** Relative specifiers that name no file: the scan would be blind to them. */
  unresolved: string[];
}

const posix = (path: string) => path.split(sep).join('/');

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) found.push(posix(relative(ROOT, path)));
  }
  return found;
}

function specifiers(file: string): Array<{ spec: string; kind: ImportKind }> {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Array<{ spec: string; kind: ImportKind }> = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      found.push({ spec: node.moduleSpecifier.text, kind: typeOnly ? 'import type' : 'import' });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ spec: node.moduleSpecifier.text, kind: 'export from' });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push({ spec: node.moduleReference.expression.text, kind: 'import' });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      found.push({ spec: node.arguments[0].text, kind: 'import()' });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ spec: node.argument.literal.text, kind: 'import type' });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file a relative specifier names (NodeNext style: `./x.js` is `./x.ts`), or undefined. */
function resolveSpecifier(importer: string, spec: string): string | undefined {
  const base = resolve(ROOT, dirname(importer), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.d.ts'), base, `${base}.ts`, join(base, 'index.ts')];
  const hit = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  return hit === undefined ? undefined : posix(relative(ROOT, hit));
}

function readGraph(): Graph {
  const files = sourceFiles(join(ROOT, 'src')).sort();
  const edges = new Map<string, Map<string, Set<ImportKind>>>();
  const unresolved: string[] = [];
  for (const file of files) {
    const out = new Map<string, Set<ImportKind>>();
    edges.set(file, out);
    for (const { spec, kind } of specifiers(file)) {
      if (!spec.startsWith('.')) continue; // packages, node: built-ins, the build's virtual modules
      const target = resolveSpecifier(file, spec);
      if (target === undefined) unresolved.push(`${file}: ${spec}`);
      else if (target.startsWith('src/')) out.set(target, (out.get(target) ?? new Set()).add(kind));
    }
  }
  return { files, edges, unresolved };
}

/** Strongly connected components (Tarjan); those with more than one module, or a self-import, are cycles. */
function cyclicComponents(graph: Graph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const strongConnect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.edges.get(v)?.has(v)) components.push(component.sort());
    }
  };
  for (const file of graph.files) if (!index.has(file)) strongConnect(file);
  return components;
}

/** One shortest cycle through the component's first module, each step labelled with how it imports. */
function describeCycle(graph: Graph, component: string[]): string {
  const members = new Set(component);
  const start = component[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  let closing: string | undefined;
  while (queue.length > 0 && closing === undefined) {
    const v = queue.shift()!;
    for (const w of graph.edges.get(v)?.keys() ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        closing = v;
        break;
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  const path = [start];
  for (let v = closing!; v !== start; v = previous.get(v)!) path.splice(1, 0, v);
  path.push(start);
  const steps = path.slice(1).map((to, i) => ` -(${[...graph.edges.get(path[i]!)!.get(to)!].join(', ')})-> ${to}`);
  const others = component.length > path.length - 1 ? ` (cycle group of ${component.length} modules: ${component.join(', ')})` : '';
  return `${start}${steps.join('')}${others}`;
}

/** src/<dir>/… is layer <dir>; the files directly in src/ are the ROOT_LAYER. */
const ROOT_LAYER = 'src/*.ts';
function layerOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : ROOT_LAYER;
}

// What each of the lower layers may import besides itself (design.md, "Architecture": each layer
// imports only the ones below it; model at the bottom). The files directly in src/ (errors,
// make-dirs, atomic-file, no-follow, token-cache) are leaf helpers below model that every layer may use. Allow
// sets, not deny lists, so a layer added later (src/service, an engine's folder) is forbidden to
// these until the table says otherwise. The layers above store (fleet, server, backends, plan,
// policy, output, config, agent, cli) are not checked yet: today several of them reach sideways
// and up (issue #8).
const MAY_IMPORT: Record<string, readonly string[]> = {
  [ROOT_LAYER]: [],
  model: [ROOT_LAYER],
  compliance: ['model', ROOT_LAYER],
  store: ['compliance', 'model', ROOT_LAYER],
  // Device channels (src/channels/<channel>/): how the service reaches devices. Pure translation
  // between emmctl's model and a vendor's wire format, below the service and above model.
  channels: ['compliance', 'model', ROOT_LAYER],
  // The fleet rules (design.md's service layer), over the store seam; it reaches devices through channels.
  service: ['store', 'channels', 'compliance', 'model', ROOT_LAYER],
};

function layerViolations(graph: Graph): Array<readonly [string, string, string]> {
  const found: Array<readonly [string, string, string]> = [];
  for (const [from, targets] of graph.edges) {
    const allowed = MAY_IMPORT[layerOf(from)];
    if (allowed === undefined) continue;
    for (const [to, kinds] of targets) {
      const layer = layerOf(to);
      if (layer !== layerOf(from) && !allowed.includes(layer)) found.push([from, to, [...kinds].join(', ')]);
    }
  }
  return found;
}

interface Meta {
  inputs: Record<string, { imports: Array<{ path: string; kind: string; external?: boolean }> }>;
}

describe('module layers', () => {
  const graph = readGraph();

  it('reads every import: each relative specifier resolves, and the graph holds every edge the build followed', () => {
    expect(graph.unresolved).toEqual([]);
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'meta.json'), 'utf8')) as Meta;
    const built = Object.keys(meta.inputs).filter((file) => file.startsWith('src/'));
    expect(built.length).toBeGreaterThan(0);
    expect(built.filter((file) => !graph.edges.has(file))).toEqual([]);
    const missed = new Set<string>();
    for (const file of built) {
      for (const imp of meta.inputs[file]!.imports) {
        if (!imp.external && imp.path.startsWith('src/') && !graph.edges.get(file)!.has(imp.path)) missed.add(`${file} -(${imp.kind})-> ${imp.path}`);
      }
    }
    expect([...missed]).toEqual([]);
  });

  it('has no import cycles among src/ modules (type-only and dynamic imports included)', () => {
    const cycles = cyclicComponents(graph).map((component) => describeCycle(graph, component));
    expect(cycles, `import cycles:\n  ${cycles.join('\n  ')}\n`).toEqual([]);
  });

  it('keeps model, compliance, store, channels and the src/ helpers importing only the layers below them', () => {
    const violations = layerViolations(graph).map(([from, to, kinds]) => `${from} -(${kinds})-> ${to} (${layerOf(from)} may import only: ${MAY_IMPORT[layerOf(from)]!.join(', ') || 'nothing'})`);
    expect(violations, `layer violations:\n  ${violations.join('\n  ')}\n`).toEqual([]);
  });

  it('names only layers that exist in its rule table, so no rule passes for want of files', () => {
    const layers = new Set(graph.files.map(layerOf));
    expect(Object.keys(MAY_IMPORT).filter((layer) => !layers.has(layer))).toEqual([]);
    expect([...new Set(Object.values(MAY_IMPORT).flat())].filter((layer) => !layers.has(layer))).toEqual([]);
  });
});
