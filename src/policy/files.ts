// Finding policy files and reading them safely: size limit before reading, strict UTF-8.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Problem } from './types.js';

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
const POLICY_FILE = /\.ya?ml$/i;

export interface ListedFiles {
  files: string[];
  problems: Problem[];
}

/**
 * The policy files under `paths` in load order: a file named explicitly is taken whatever its
 * extension; folders are walked recursively for *.yaml / *.yml, sorted by name, skipping
 * dot-folders (.git, .github) and node_modules. `-` (stdin) is passed through.
 */
export function listPolicyFiles(paths: readonly string[], cwd = process.cwd()): ListedFiles {
  const files: string[] = [];
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const add = (p: string) => {
    if (!seen.has(p)) {
      seen.add(p);
      files.push(p);
    }
  };
  for (const p of paths) {
    if (p === '-') {
      add('-');
      continue;
    }
    const abs = isAbsolute(p) ? p : join(cwd, p);
    let st;
    try {
      st = statSync(abs);
    } catch {
      problems.push(fileProblem(p, 'no such file or directory', 'io/not-found'));
      continue;
    }
    if (st.isFile()) add(p);
    else if (st.isDirectory()) {
      const before = files.length;
      walk(abs, p, new Set([realpathSync(abs)]), add, problems);
      if (files.length === before) problems.push(fileProblem(p, 'no policy files (*.yaml, *.yml) in this folder', 'io/no-files'));
    } else problems.push(fileProblem(p, 'not a file or folder', 'io/not-a-file'));
  }
  return { files, problems };
}

function walk(abs: string, shown: string, visiting: Set<string>, add: (p: string) => void, problems: Problem[]): void {
  let listing;
  try {
    listing = readdirSync(abs, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(fileProblem(shown, code === 'EACCES' ? 'cannot read folder: permission denied' : `cannot read folder: ${(error as Error).message}`, 'io/read'));
    return;
  }
  const entries = listing.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const childAbs = join(abs, e.name);
    const childShown = join(shown, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        const st = statSync(childAbs);
        isDir = st.isDirectory();
        isFile = st.isFile();
      } catch {
        continue; // dangling link
      }
    }
    if (isDir) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const real = realpathSync(childAbs);
      if (visiting.has(real)) continue; // a symlink loop
      visiting.add(real);
      walk(childAbs, childShown, visiting, add, problems);
      visiting.delete(real);
    } else if (isFile && POLICY_FILE.test(e.name)) add(childShown);
  }
}

export function fileProblem(file: string, message: string, rule: string, line = 0, column = 0): Problem {
  return { file, line, column, path: '', message, rule, severity: 'error' };
}

export type ReadResult = { ok: true; text: string } | { ok: false; problem: Problem };
export type BytesResult = { ok: true; bytes: Buffer } | { ok: false; problem: Problem };

/** A policy file's bytes, refused over the size limit without reading it. */
export function readPolicyBytes(file: string, cwd: string, maxBytes: number): BytesResult {
  const abs = isAbsolute(file) ? file : join(cwd, file);
  try {
    const size = statSync(abs).size;
    if (size > maxBytes) return { ok: false, problem: tooLarge(file, size, maxBytes) };
    return { ok: true, bytes: readFileSync(abs) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, problem: fileProblem(file, code === 'EACCES' ? 'permission denied' : code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${(error as Error).message}`, 'io/read') };
  }
}

/** Reads a policy file: refuses it over the size limit without reading it; decodes strict UTF-8. */
export function readPolicyFile(file: string, cwd: string, maxBytes: number): ReadResult {
  const r = readPolicyBytes(file, cwd, maxBytes);
  return r.ok ? decodePolicyBytes(file, r.bytes, maxBytes) : r;
}

function tooLarge(file: string, size: number, maxBytes: number): Problem {
  // Stdin is read only up to just past the limit (validate -), so its size is unknown.
  if (file === '-') return fileProblem(file, `stdin is larger than the limit of ${formatBytes(maxBytes)} (reading stopped there): split it into several files`, 'io/too-large');
  return fileProblem(file, `file is too large (${formatBytes(size)}; the limit is ${formatBytes(maxBytes)}): split it into several files`, 'io/too-large');
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function decodePolicyBytes(file: string, bytes: Uint8Array, maxBytes: number): ReadResult {
  if (bytes.length > maxBytes) return { ok: false, problem: tooLarge(file, bytes.length, maxBytes) };
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { ok: false, problem: fileProblem(file, 'file is UTF-16 encoded: policy files must be UTF-8 (re-save the file as UTF-8)', 'io/encoding', 1, 1) };
  }
  try {
    return { ok: true, text: decoder.decode(bytes) };
  } catch {
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
    const column = new TextDecoder().decode(bytes.subarray(lineStart, at)).length + 1;
    return {
      ok: false,
      problem: fileProblem(file, `file is not valid UTF-8 (byte 0x${bytes[at]!.toString(16).padStart(2, '0')} at offset ${at}): policy files must be UTF-8 (re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8)`, 'io/encoding', line, column),
    };
  }
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n = 0;
    let min = 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
    } else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${n % (1024 * 1024) === 0 ? n / 1024 / 1024 : (n / 1024 / 1024).toFixed(2)} MiB`;
  if (n >= 1024) return `${n % 1024 === 0 ? n / 1024 : (n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
