// A cache of validated policy files, keyed by a hash of the file's bytes, the schema and the
// emmctl version. Parsing YAML dominates a re-plan of a large repo (≈0.3 s CPU for 1,000
// documents); a file whose bytes did not change was valid last time and parses the same way,
// so its documents are read back as JSON. Only documents as written are kept — secret
// references, never resolved values. Any doubt (a miss, a cross-file problem, a missing
// secret) sends the caller to the full loader, which reports problems with file:line:col.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ResourceDocument } from '../model/policy.generated.js';

const FORMAT = 'emmctl.policy-cache/v1';

export function policyCacheDir(env: Record<string, string | undefined>): string | undefined {
  if (env.EMMCTL_CACHE_DIR === '') return undefined;
  if (env.EMMCTL_CACHE_DIR) return env.EMMCTL_CACHE_DIR;
  if (process.platform === 'win32') return env.LOCALAPPDATA ? join(env.LOCALAPPDATA, 'emmctl', 'Cache', 'policies') : undefined;
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'emmctl', 'policies');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'emmctl', 'policies');
}

export class PolicyCache {
  private readonly salt: string;
  constructor(private readonly dir: string, salt: string) {
    this.salt = createHash('sha256').update(FORMAT).update('\0').update(salt).digest('hex');
  }

  key(fileBytes: Buffer): string {
    return createHash('sha256').update(this.salt).update('\0').update(fileBytes).digest('hex');
  }

  get(key: string): ResourceDocument[] | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.dir, `${key}.json`), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const data = JSON.parse(text) as { format?: string; documents?: unknown };
      if (data.format !== FORMAT || !Array.isArray(data.documents)) return undefined;
      const docs = data.documents as ResourceDocument[];
      return docs.every((d) => d && typeof d.kind === 'string' && typeof d.metadata?.name === 'string') ? docs : undefined;
    } catch {
      return undefined;
    }
  }

  /** Best effort: a cache that cannot be written only costs speed. */
  set(key: string, documents: ResourceDocument[]): void {
    const path = join(this.dir, `${key}.json`);
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      chmodSync(this.dir, 0o700);
      writeFileSync(tmp, JSON.stringify({ format: FORMAT, documents }), { mode: 0o600 });
      renameSync(tmp, path);
    } catch {
      rmSync(tmp, { force: true });
    }
  }
}
