// Writes a whole file or nothing: through a temp file beside it and a rename, so a reader (or a
// Ctrl-C mid-write) never sees half of it. Used for everything emmctl writes outside the store:
// saved plans, init scaffolds, the simulator's state, the policy cache.
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export function writeFileAtomic(path: string, data: string, opts: { mode?: number } = {}): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, opts.mode === undefined ? undefined : { mode: opts.mode });
    // The mode applies only when the file is created; a leftover temp file keeps its own.
    if (opts.mode !== undefined) chmodSync(tmp, opts.mode);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
