// The embedded store's files: where they live, who may read them, and what happens when they
// are not there. A data dir holds credential hashes and the audit log, so it is owner-only, and
// the database and its journals are never opened through a symbolic link (SQLite and chmod would
// follow one wherever it points).
import { chmodSync, closeSync, constants as fsConstants, existsSync, lstatSync, openSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { makeDirs } from '../../make-dirs.js';

export const DB_FILE = 'emmctl.db';

/**
 * When dataDir holds no store: `create` it (the default); `fail` with "no emmctl store at DIR"
 * (commands that only read or act on what is there: a mistyped --data-dir says so instead of
 * making an empty store); or open an `empty` one in memory, writing nothing to dataDir (a plan
 * previews what apply, which creates it, would do).
 */
export type IfMissing = 'create' | 'fail' | 'empty';

/** The refusal when a command that must not create a store finds none. */
export function noStoreError(dataDir: string, why?: string): UsageError {
  return new UsageError(
    `no emmctl store at ${resolve(dataDir)}${why ? ` (${why})` : ''}`,
    'check --data-dir, EMMCTL_DATA_DIR or the context (`emmctl context current`); a new store is made by `emmctl apply` (or `emmctl server`, `emmctl server token create`, `emmctl simulate`)',
  );
}

/** Why dataDir holds no store, or undefined when it may (a permission problem is left for the open to report). */
export function missingStore(dataDir: string, path = join(dataDir, DB_FILE)): string | undefined {
  const code = (error: unknown) => (error as NodeJS.ErrnoException).code;
  try {
    if (!statSync(dataDir).isDirectory()) return 'not a directory';
  } catch (error) {
    return code(error) === 'ENOENT' ? 'no such directory' : code(error) === 'ENOTDIR' ? 'not a directory' : undefined;
  }
  try {
    statSync(path);
    return undefined;
  } catch (error) {
    return code(error) === 'ENOENT' ? `no ${DB_FILE} in it` : undefined;
  }
}

/**
 * A data dir made before emmctl (mkdir, a restored backup) may be readable by others; the store
 * holds credential hashes and the audit log, so a dir of ours is narrowed to owner-only. "Ours"
 * means owned by this user and holding nothing but emmctl's files: `--data-dir ~` or a project
 * folder is not ours to chmod. Someone else's dir is left alone too: it is theirs to decide.
 */
const OWN_FILES = /^(emmctl\.db(-wal|-shm|-journal)?|simulator-state\.json(\.tmp[-\w]*)?)$/;
function tightenOwnDir(dir: string): void {
  const st = statSync(dir);
  const uid = process.getuid?.();
  if (uid === undefined || st.uid !== uid || (st.mode & 0o077) === 0) return;
  if (readdirSync(dir).every((name) => OWN_FILES.test(name))) chmodSync(dir, 0o700);
}

function refuseLinkedStoreFiles(path: string): void {
  for (const file of [path, ...['-wal', '-shm', '-journal'].map((suffix) => path + suffix)]) {
    let linked = false;
    try {
      linked = lstatSync(file).isSymbolicLink();
    } catch {
      continue; // absent: SQLite or we create it
    }
    if (linked) throw new Error(`${file} is a symbolic link; emmctl never opens its store through one (remove it)`);
  }
}

/**
 * Makes dataDir (0700) and, when `create`, the database file (0600, exclusively, never through a
 * link) so it is owner-only from its first byte (SQLite would use the umask). Throws a plain
 * Error naming the problem; the engine wraps it.
 */
export function prepareStoreFiles(dataDir: string, path: string, create: boolean): void {
  if (!existsSync(dataDir)) makeDirs(dataDir, 0o700);
  else tightenOwnDir(dataDir);
  refuseLinkedStoreFiles(path);
  if (create && !existsSync(path)) {
    closeSync(openSync(path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW, 0o600));
  }
  chmodSync(path, 0o600);
}

/** SQLite gives the -wal and -shm files the database file's permissions; made sure of once they exist. */
export function tightenJournals(path: string): void {
  for (const suffix of ['-wal', '-shm']) if (existsSync(path + suffix)) chmodSync(path + suffix, 0o600);
}
