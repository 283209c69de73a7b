// The policy layer's stable contract. plan/apply, export and validate import only this module.
//
//   loadPolicySet(paths, opts) → Promise<LoadResult>
//     paths: files, folders (walked recursively for *.yaml / *.yml, sorted, dot-folders and
//       node_modules skipped) or `-` for opts.stdin.
//     ok: true  → { documents: LoadedDocument[], warnings: Problem[], files, documentCount }
//     ok: false → { problems: Problem[] (errors and warnings, sorted by file, line, column),
//                   documents (those that loaded, for tools that want to go on), files,
//                   documentCount (documents found, valid or not) }
//     A LoadedDocument is { document, resolved?, source: {file, line, column}, file, locate(path) }.
//     Every Problem is { file, line, column, path, message, rule, severity } — line/column of the
//     offending key or value, 1-based; 0 for whole-file problems (missing, too large).
//   Options: env + envCheck (report unset `${env:NAME}`), resolveSecrets (fill `resolved`; an
//     unset secret is then an error at the reference), stdin, cwd, maxFileBytes (1 MiB), strict,
//     android (also the warnings of what Android devices through AMAPI cannot apply: android.ts).
//   resolveSecrets(value, env) → { value, missing }   for documents that left their files.
//   listPolicyFiles(paths, cwd) → { files, problems }  the files a load would read.
//   androidWarnings(load), sortProblems(problems, files) the Android lint of a load made without
//                                                       opts.android, for a target found to have the channel.
//   formatProblems{Text,Json,Github}                    validate's three output formats.
//   policyCacheSalt()                                   build identity for caches of clean loads.
//
// What a load checks: YAML syntax, duplicate keys, alias bombs (bounded expansion), file size,
// UTF-8; the JSON Schema (schema/emmctl.schema.json) with human messages; per-document
// consistency; unique names per kind; group references; same-priority policy conflicts (warning).
import { androidProblems } from './android.js';
import { checkDocument, checkDocumentSet, type CheckedDocument, type CheckRule } from './checks.js';
import { DEFAULT_MAX_FILE_BYTES, decodePolicyBytes, listPolicyFiles, readPolicyBytes, type BytesResult } from './files.js';
import { schemaProblems, schemaValidator } from './schema.js';
import { findSecretRefs, resolveSecrets } from './secrets.js';
import type { LoadedDocument, LoadOptions, LoadResult, Problem } from './types.js';
import { pathString } from './types.js';
import { loadYaml, parseYamlDocuments } from './yaml-source.js';
import type { ResourceDocument } from '../model/policy.generated.js';

export type { DocPath, LoadedDocument, LoadOptions, LoadResult, Problem, Severity, SourcePosition } from './types.js';
export { pathString } from './types.js';
export { DEFAULT_MAX_FILE_BYTES, listPolicyFiles } from './files.js';
export { findSecretRefs, resolveSecrets, SECRET_REF, type SecretRefUse } from './secrets.js';
export { BUILTIN_GROUP, CHECK_RULES, NOTIFY_NO_CHANNEL } from './checks.js';
export { ANDROID_RULES, isAndroidProblem } from './android.js';
export { MAX_ALIAS_COUNT } from './yaml-source.js';
export { checkDocuments, describeProblem, documentChecker, documentSetChecker, type DocumentCheck, type DocumentInput } from './documents.js';

/**
 * For the salt of a cache of clean loads (src/config/policy-cache.ts): the bundle chunk's URL
 * carries a content hash, so a new build of the checks never trusts what an older one cached.
 */
export function policyCacheSalt(): string {
  return import.meta.url;
}

export async function loadPolicySet(paths: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const cwd = opts.cwd ?? process.cwd();
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const listed = listPolicyFiles(paths, cwd);
  const reads: BytesResult[] = listed.files.map((file) => (file === '-' ? stdinBytes(opts.stdin) : readPolicyBytes(file, cwd, maxBytes)));
  const [yaml, validate] = await Promise.all([loadYaml(), schemaValidator()]);
  const problems: Problem[] = [...listed.problems];
  const valid: CheckedDocument[] = [];
  let documentCount = 0;
  for (const [i, file] of listed.files.entries()) {
    const bytes = reads[i]!;
    const read = bytes.ok ? decodePolicyBytes(file, bytes.bytes, maxBytes) : bytes;
    if (!read.ok) {
      problems.push(read.problem);
      continue;
    }
    const text = read.text.charCodeAt(0) === 0xfeff ? read.text.slice(1) : read.text;
    const parsed = parseYamlDocuments(yaml, text, file);
    problems.push(...parsed.problems);
    documentCount += parsed.documents.length + parsed.problems.filter((p) => p.rule !== 'yaml/syntax' && p.rule !== 'yaml/duplicate-key').length;
    const fileDocs: CheckedDocument[] = [];
    for (const doc of parsed.documents) {
      if (!validate(doc.value)) {
        problems.push(...schemaProblems(validate.errors ?? [], doc.value, doc.locate));
        continue;
      }
      const checked: CheckedDocument = { document: doc.value as ResourceDocument, file, locate: doc.locate };
      problems.push(...checkDocument(checked));
      fileDocs.push(checked);
    }
    valid.push(...fileDocs);
  }
  problems.push(...checkDocumentSet(valid));
  if (opts.android) problems.push(...androidProblems(valid));
  return finish(valid, problems, listed.files, documentCount, opts);
}

/**
 * The Android lint (android.ts) of a load made without opts.android, for a caller that learns
 * only later that its target has the channel; sorted as a load's problems are.
 */
export function androidWarnings(load: { documents: readonly LoadedDocument[]; files: readonly string[] }): Problem[] {
  return sortProblems(androidProblems(load.documents), load.files);
}

/** Problems in load order: files as listed, then line, then column. */
export function sortProblems(problems: Problem[], files: readonly string[]): Problem[] {
  return problems.sort(byPosition(files));
}

function finish(valid: CheckedDocument[], problems: Problem[], files: string[], documentCount: number, opts: LoadOptions): LoadResult {
  const env = opts.env ?? {};
  const documents: LoadedDocument[] = valid.map((d) => ({ document: d.document, file: d.file, source: d.locate([]), locate: d.locate }));
  if (opts.resolveSecrets || opts.envCheck) {
    for (const [i, d] of valid.entries()) {
      if (opts.resolveSecrets) {
        const r = resolveSecrets(d.document, env);
        documents[i]!.resolved = r.value;
        for (const m of r.missing) problems.push(unsetSecret(d, m.path, m.name));
      } else {
        for (const ref of findSecretRefs(d.document)) {
          const v = env[ref.name];
          if (v === undefined || v === '') problems.push(unsetSecret(d, ref.path, ref.name));
        }
      }
    }
  }
  problems.sort(byPosition(files));
  const failed = problems.some((p) => p.severity === 'error' || opts.strict);
  return failed ? { ok: false, problems, documents, files, documentCount } : { ok: true, documents, warnings: problems, files, documentCount };
}

function unsetSecret(d: CheckedDocument, path: Array<string | number>, name: string): Problem {
  return {
    ...d.locate(path),
    path: pathString(path),
    message: `secret \${env:${name}} is not set: export the environment variable ${name} (it is read at plan/apply time and never stored in the files)`,
    rule: 'unset-secret' satisfies CheckRule,
    severity: 'error',
  };
}

function stdinBytes(stdin: string | Uint8Array | undefined): BytesResult {
  return { ok: true, bytes: typeof stdin === 'string' ? Buffer.from(stdin, 'utf8') : Buffer.from(stdin ?? new Uint8Array()) };
}

/** Files in load order, then line, then column. */
function byPosition(files: readonly string[]): (a: Problem, b: Problem) => number {
  const order = new Map(files.map((f, i) => [f, i]));
  return (a, b) => (order.get(a.file) ?? -1) - (order.get(b.file) ?? -1) || a.line - b.line || a.column - b.column;
}

export { formatProblemsGithub, formatProblemsJson, formatProblemsText } from './format.js';
