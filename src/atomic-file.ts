// Writes a whole file or nothing: through a temp file beside it and a rename, so a reader (or a
// Ctrl-C mid-write) never sees half of it. Used for everything emmctl writes outside the store:
// saved plans, init scaffolds, exports, the simulator's state, the policy cache, the config.
//
// Never through a planted symlink: the temp name carries 96 random bits (nobody can plant a link
// at it in advance) and is created exclusively (O_EXCL, and O_NOFOLLOW where the OS has it), so
// an existing file or link at that name makes the write fail instead of following it. The final
// rename replaces whatever sits at the target, a symlink included, rather than writing through it.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, lstatSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { UsageError } from './errors.js';

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

export interface FileToWrite {
  path: string;
  data: string;
  /** Permission bits for a new file (0o600 for anything secret); the umask can only narrow them. */
  mode?: number;
}

export function writeFileAtomic(path: string, data: string, opts: { mode?: number } = {}): void {
  writeFilesAtomic([{ path, data, mode: opts.mode }]);
}

/**
 * Several files as one step: every temp file is written before any target is replaced, so a
 * failure while writing (disk full, permission) leaves all targets as they were.
 */
export function writeFilesAtomic(files: readonly FileToWrite[]): void {
  const temps: string[] = [];
  try {
    for (const f of files) temps.push(writeTemp(f));
    for (let i = 0; i < files.length; i++) {
      renameSync(temps[i]!, files[i]!.path);
      temps[i] = '';
    }
  } catch (error) {
    for (const tmp of temps) if (tmp) rmSync(tmp, { force: true });
    throw error;
  }
}

function writeTemp(f: FileToWrite): string {
  // Keeps the `FILE.tmp-` shape: the store recognises a leftover simulator-state.json.tmp-… as its own.
  const tmp = `${f.path}.tmp-${randomBytes(12).toString('hex')}`;
  const fd = openSync(tmp, CREATE_NEW, f.mode ?? 0o666);
  try {
    writeFileSync(fd, f.data);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  return tmp;
}

/**
 * For writes confined to a folder (export --dir, init): refuses when any existing path component
 * below `root`, the target included, is a symbolic link, because following it would write (or
 * create folders) outside `root`. `root` itself is the user's choice and may be a link.
 * Returns whether the target exists.
 */
export function checkInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`)) throw new UsageError(`${target} is not inside ${root}`);
  let path = root;
  for (const part of rel.split(sep)) {
    path = join(path, part);
    let isLink: boolean;
    try {
      isLink = lstatSync(path).isSymbolicLink();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    if (isLink) {
      throw new UsageError(`refusing to write ${target}: ${path} is a symbolic link, and writing through it could land outside ${root}; nothing was written`, 'remove the link (or replace it with the real file or folder), or choose another folder');
    }
  }
  return true;
}
