// The shapes of the policy loader's contract (re-exported by src/policy/index.ts).
import type { ResourceDocument } from '../model/policy.generated.js';

export type Severity = 'error' | 'warning';

/** A path into a document: keys and list indexes, e.g. ['spec', 'assign', 0]. */
export type DocPath = ReadonlyArray<string | number>;

/**
 * One finding. `line`/`column` are 1-based and point at the offending key or value
 * (0 when the problem concerns a whole file or path, e.g. it does not exist).
 * `path` is the dotted path inside the document (`spec.settings.passcode.minLength`,
 * `spec.assign[0]`), empty for file-level problems. `rule` is a stable id
 * (`schema/additional-property`, `unknown-group`, `yaml/duplicate-key`…).
 */
export interface Problem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
  rule: string;
  severity: Severity;
}

export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export interface LoadedDocument {
  /** The document as written (secret references unresolved). */
  document: ResourceDocument;
  /** With `${env:NAME}` secrets resolved from opts.env; present only when opts.resolveSecrets is set. */
  resolved?: ResourceDocument;
  /** Where the document starts (its first key). */
  source: SourcePosition;
  /** The file as it was named when listed (relative to cwd when under it); `-` for stdin. */
  file: string;
  /** Position of a key or value inside this document, for problems found later (plan/apply). */
  locate(path: DocPath, target?: 'key' | 'value'): SourcePosition;
}

/** files: the files read, in load order; documentCount: documents found in them, valid or not. */
export type LoadResult =
  | { ok: true; documents: LoadedDocument[]; warnings: Problem[]; files: string[]; documentCount: number }
  | { ok: false; problems: Problem[]; documents: LoadedDocument[]; files: string[]; documentCount: number };

export interface LoadOptions {
  /** Environment for `${env:NAME}` secrets (default: none). */
  env?: Record<string, string | undefined>;
  /** Report secret references whose variable is unset or empty (`validate --env-check`). */
  envCheck?: boolean;
  /** Resolve secrets into LoadedDocument.resolved; an unset variable is then an error. */
  resolveSecrets?: boolean;
  /** Content for the path `-`. */
  stdin?: string | Uint8Array;
  /** Base for relative display names (default process.cwd()). */
  cwd?: string;
  /** Refuse files larger than this many bytes (default 1 MiB). */
  maxFileBytes?: number;
  /**
   * Also warn of what AMAPI cannot carry to Android devices (rules `android/…`, src/policy/android.ts).
   * Asked only when wanted (validate --android; plan/apply once the target says it has the
   * channel, through androidWarnings): the lint costs more than the rest of the checks together.
   */
  android?: boolean;
  /** Count warnings as errors (ok is false when any warning). */
  strict?: boolean;
}

export function pathString(path: DocPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}
