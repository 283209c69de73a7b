// A cache of the last clean load of a policy set. Parsing YAML dominates a re-plan of a large
// repo (≈0.3 s CPU for 1,000 documents); when every file's bytes are the same as at the last
// clean load, that load's documents and warnings are read back as JSON instead.
// One entry per (cwd, paths) so the cache stays as small as the number of policy repos used.
// Only documents as written are kept — secret references, never resolved values — and
// secrets are resolved afresh on every run. Any doubt (a changed file, another emmctl build, a
// missing secret) sends the caller to the full loader, which reports problems with
// file:line:col.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-file.js';
import { makeDirs } from '../make-dirs.js';
import { chmodNoFollow } from '../no-follow.js';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { ResourceDocument } from '../model/policy.generated.js';

const FORMAT = 'emmctl.policy-cache/v3';

export function policyCacheDir(env: Record<string, string | undefined>): string | undefined {
  if (env.EMMCTL_CACHE_DIR === '') return undefined;
  if (env.EMMCTL_CACHE_DIR) return env.EMMCTL_CACHE_DIR;
  if (process.platform === 'win32') return env.LOCALAPPDATA ? join(env.LOCALAPPDATA, 'emmctl', 'Cache', 'policies') : undefined;
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'emmctl', 'policies');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'emmctl', 'policies');
}

/**
 * The cache plan, apply and validate share (one entry per policy set, whichever command wrote
 * it), or undefined when EMMCTL_CACHE_DIR is empty. `salt`: the policy loader's build identity.
 */
export function openPolicyCache(env: Record<string, string | undefined>, salt: string): PolicyCache | undefined {
  const dir = policyCacheDir(env);
  return dir ? new PolicyCache(dir, salt) : undefined;
}

export interface CachedSet<W> {
  documents: Array<{ file: string; document: ResourceDocument }>;
  warnings: W[];
  /** The warnings include the Android lint (src/policy/android.ts): a load made without it does not answer a caller that wants it. */
  android?: boolean;
}

const sha = (...parts: Array<string | Uint8Array>) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

export class PolicyCache {
  /** @param salt what else the load depends on: emmctl's build, the schema. */
  constructor(private readonly dir: string, private readonly salt: string) {}

  private entryPath(cwd: string, paths: readonly string[]): string {
    return join(this.dir, `${sha(this.salt, cwd, ...paths)}.json`);
  }

  /** Hash of the listed files' names and bytes; undefined when one cannot be read (stdin, gone). */
  contentHash(cwd: string, files: readonly string[]): string | undefined {
    const parts: Array<string | Uint8Array> = [this.salt];
    for (const f of files) {
      if (f === '-') return undefined;
      try {
        parts.push(f, readFileSync(isAbsolute(f) ? f : join(cwd, f)));
      } catch {
        return undefined;
      }
    }
    return sha(...parts);
  }

  get<W>(cwd: string, paths: readonly string[], contentHash: string): CachedSet<W> | undefined {
    try {
      const data = JSON.parse(readFileSync(this.entryPath(cwd, paths), 'utf8')) as { format?: string; contentHash?: string } & Partial<CachedSet<W>>;
      if (data.format !== FORMAT || data.contentHash !== contentHash || !Array.isArray(data.documents) || !Array.isArray(data.warnings)) return undefined;
      const ok = data.documents.every((d) => d && typeof d.file === 'string' && typeof d.document?.kind === 'string' && typeof d.document.metadata?.name === 'string');
      return ok ? { documents: data.documents, warnings: data.warnings, android: data.android === true } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Best effort: a cache that cannot be written only costs speed. */
  set<W>(cwd: string, paths: readonly string[], contentHash: string, value: CachedSet<W>): void {
    try {
      makeDirs(this.dir, 0o700);
      // A cache dir that is a link is used as it is: chmod would narrow the link's target.
      chmodNoFollow(this.dir, 0o700);
      writeFileAtomic(this.entryPath(cwd, paths), JSON.stringify({ format: FORMAT, contentHash, ...value }), { mode: 0o600 });
    } catch {
      // Nothing to undo: writeFileAtomic removed its temp file.
    }
  }
}
