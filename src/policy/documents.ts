// The checks `validate` runs on files, for documents that arrive without one (the server's
// apply, the store's documents at start-up): the same compiled schema, the same per-document
// and cross-document checks, the same problem records. Positions are 0: there is no source text.
// Secret fields hold their `${env:NAME}` reference there too (the values travel apart), so a
// document carrying a secret value is refused as a file carrying one is.
import { checkDocument, checkDocumentSet, type CheckedDocument } from './checks.js';
import { schemaProblems, schemaValidator } from './schema.js';
import type { Problem } from './types.js';
import type { ResourceDocument } from '../model/policy.generated.js';

export interface DocumentInput {
  /** Names the document in the problems' `file` field, e.g. `changes[2]` or `CompliancePolicy/baseline`. */
  label: string;
  value: unknown;
}

export interface DocumentCheck {
  /** Errors and warnings, in input order. */
  problems: Problem[];
  /** Per input: it passed the schema and the per-document checks (no error of its own). */
  valid: boolean[];
}

/**
 * Checks `documents` one by one, then as a set together with `context` (documents that are
 * already in place and schema-valid, e.g. the stored ones this change leaves alone), so
 * duplicate names and group references are judged on the state that would result.
 * Problems found on context documents are reported under their labels too.
 */
export async function checkDocuments(documents: readonly DocumentInput[], context: readonly DocumentInput[] = []): Promise<DocumentCheck> {
  const validate = await schemaValidator();
  return checkDocumentsWith(validate, documents, context, true);
}

/** The checks with the validator in hand; the set checks only when `asSet`. */
function checkDocumentsWith(validate: Awaited<ReturnType<typeof schemaValidator>>, documents: readonly DocumentInput[], context: readonly DocumentInput[], asSet: boolean): DocumentCheck {
  const problems: Problem[] = [];
  const checked: CheckedDocument[] = [];
  const valid = documents.map((d) => {
    const locate = () => ({ file: d.label, line: 0, column: 0 });
    const value = d.value;
    if (!validate(value)) {
      problems.push(...schemaProblems(validate.errors ?? [], value, locate));
      return false;
    }
    const c: CheckedDocument = { document: value as ResourceDocument, file: d.label, locate };
    const own = checkDocument(c);
    problems.push(...own);
    checked.push(c);
    return !own.some((p) => p.severity === 'error');
  });
  for (const d of context) {
    const value = d.value;
    if (validate(value)) checked.push({ document: value as ResourceDocument, file: d.label, locate: () => ({ file: d.label, line: 0, column: 0 }) });
  }
  if (asSet) problems.push(...checkDocumentSet(checked));
  return { problems, valid };
}

/**
 * A synchronous "why is this document unusable" for the store: the first error of the schema
 * and the per-document checks, as `path: message [rule]`, or undefined when it is fine.
 */
export async function documentChecker(): Promise<(document: unknown) => string | undefined> {
  const validate = await schemaValidator();
  return (document) => {
    // Alone, without the set checks: a reference to a group is judged with the other documents.
    const { problems } = checkDocumentsWith(validate, [{ label: 'document', value: document }], [], false);
    const first = problems.find((p) => p.severity === 'error');
    return first ? describeProblem(first) : undefined;
  };
}

/** One problem on one line, without a position: `spec.rules.encryption: invalid … [schema/enum]`. */
export function describeProblem(p: Pick<Problem, 'path' | 'message' | 'rule'>): string {
  return `${p.path ? `${p.path}: ` : ''}${p.message} [${p.rule}]`;
}

/** checkDocuments with the validator loaded up front, for callers that must not wait (inside a transaction). */
export async function documentSetChecker(): Promise<(documents: readonly DocumentInput[], context?: readonly DocumentInput[]) => DocumentCheck> {
  const validate = await schemaValidator();
  return (documents, context = []) => checkDocumentsWith(validate, documents, context, true);
}
