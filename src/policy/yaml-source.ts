// YAML text → plain documents that remember where every key and value came from.
// Hardened for untrusted input: duplicate keys are errors, alias expansion is bounded (a
// "billion laughs" file fails fast), and only plain JSON-like data comes out (no custom tags).
import type { Document, LineCounter, Node as YamlNode, Pair } from 'yaml';
import { fileProblem } from './files.js';
import type { DocPath, Problem, SourcePosition } from './types.js';

/** Aliases one document may expand: enough for any sane anchor reuse, far below a bomb. */
export const MAX_ALIAS_COUNT = 100;

type YamlModule = typeof import('yaml');
let yamlModule: YamlModule | undefined;

export async function loadYaml(): Promise<YamlModule> {
  if (!yamlModule) {
    // yaml is CommonJS under Node's export conditions: the bundle may hand it over as `default`.
    const m = (await import('yaml')) as YamlModule & { default?: YamlModule };
    yamlModule = m.default ?? m;
  }
  return yamlModule;
}

export interface ParsedDocument {
  value: unknown;
  file: string;
  /** Position of the document's first key. */
  start: SourcePosition;
  locate(path: DocPath, target?: 'key' | 'value'): SourcePosition;
}

export function parseYamlDocuments(yaml: YamlModule, text: string, file: string): { documents: ParsedDocument[]; problems: Problem[] } {
  const lineCounter = new yaml.LineCounter();
  const documents: ParsedDocument[] = [];
  const problems: Problem[] = [];
  const pos = (offset: number): SourcePosition => {
    const p = lineCounter.linePos(offset);
    return { file, line: p.line, column: p.col };
  };
  const docs = yaml.parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: false, version: '1.2' });
  // A stream that is not a list of documents (yaml returns an EmptyStream for empty input).
  if (!Array.isArray(docs)) return { documents, problems };
  for (const doc of docs) {
    if (doc.errors.length) {
      for (const e of doc.errors) problems.push(yamlProblem(e, text, pos));
      continue;
    }
    const contents = doc.contents as YamlNode | null;
    // An empty document (a trailing `---`, a comment-only file) declares nothing.
    if (contents === null || (yaml.isScalar(contents) && (contents.value === null || contents.value === ''))) continue;
    const startOffset = contents.range?.[0] ?? 0;
    if (!yaml.isMap(contents)) {
      problems.push({ ...fileProblem(file, 'a document must be a mapping with apiVersion, kind, metadata and spec', 'yaml/not-a-mapping'), ...pos(startOffset) });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      const message = (error as Error).message;
      problems.push({
        ...fileProblem(file, /alias count/i.test(message)
          ? `too many alias expansions (limit ${MAX_ALIAS_COUNT} per document): this looks like a "billion laughs" attack; write the values out instead of nesting anchors`
          : `cannot read document: ${message}`, /alias count/i.test(message) ? 'yaml/alias-limit' : 'yaml/syntax'),
        ...pos(startOffset),
      });
      continue;
    }
    documents.push({ value, file, start: pos(startOffset), locate: locator(yaml, doc, pos, startOffset) });
  }
  return { documents, problems };
}

function yamlProblem(e: { code: string; message: string; pos: [number, number] }, text: string, pos: (o: number) => SourcePosition): Problem {
  const at = pos(e.pos[0]);
  const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  if (e.code === 'DUPLICATE_KEY') {
    const key = /^\s*["']?([^"':\n{}[\],]*)/.exec(text.slice(e.pos[0], e.pos[0] + 200))?.[1]?.trim();
    return { ...at, path: '', message: key ? `duplicate key "${key}": each key may appear once in a mapping` : 'duplicate key: each key may appear once in a mapping', rule: 'yaml/duplicate-key', severity: 'error' };
  }
  if (/call stack/i.test(first)) return { ...at, path: '', message: 'nesting is too deep to read: policy documents are a few levels deep', rule: 'yaml/too-deep', severity: 'error' };
  return { ...at, path: '', message: `YAML syntax error: ${first.charAt(0).toLowerCase()}${first.slice(1)}`, rule: 'yaml/syntax', severity: 'error' };
}

function locator(yaml: YamlModule, doc: Document.Parsed, pos: (o: number) => SourcePosition, startOffset: number) {
  return (path: DocPath, target: 'key' | 'value' = 'value'): SourcePosition => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    for (const seg of path) {
      if (yaml.isMap(node)) {
        const pair = (node.items as Pair[]).find((it) => yaml.isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value ?? pair.key;
      } else if (yaml.isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        keyNode = undefined;
        node = node.items[seg];
      } else break;
    }
    const chosen = (target === 'key' && keyNode ? keyNode : node) as { range?: [number, number, number] } | undefined;
    return pos(chosen?.range?.[0] ?? startOffset);
  };
}

export type { LineCounter };
