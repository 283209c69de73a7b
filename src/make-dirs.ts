// `mkdir -p` that always ends. Node's own `mkdirSync(dir, { recursive: true })` spins forever at
// 100% CPU when mkdir(2) answers ENOENT although the parent exists, which is what /proc and
// similar pseudo-filesystems do (`--data-dir /proc/nope`): it takes ENOENT to mean "make the
// parent first", finds the parent there, and tries the child again, endlessly. It cannot even be
// stopped with SIGTERM, as the loop never yields to JavaScript. Here each missing component is
// created once, from the deepest existing ancestor down, and the first error is thrown.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Creates dir and any missing parents with `mode` (subject to the umask). A no-op when dir exists. */
export function makeDirs(dir: string, mode = 0o777): void {
  const missing: string[] = [];
  for (let current = resolve(dir); ; ) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(current).isDirectory();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      missing.push(current);
      const parent = dirname(current);
      // The root itself missing cannot happen on a sane system; stop rather than loop.
      if (parent === current) break;
      current = parent;
      continue;
    }
    if (!isDirectory) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${current}'`), { code: 'ENOTDIR', path: current });
    break;
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path, { mode });
    } catch (error) {
      // Another process made it meanwhile: fine, as long as it is a directory.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && statSync(path).isDirectory()) continue;
      throw error;
    }
  }
}
