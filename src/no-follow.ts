// Permission changes that never reach through a symlink. chmod(2) follows links, so narrowing
// "our" config or cache folder by name would narrow whatever a planted (or user-made) link
// points at: another user's file, /etc, a shared folder. Here the path is opened with
// O_NOFOLLOW and the mode set on that descriptor; a link is left as it is.
import { closeSync, constants, fchmodSync, fstatSync, openSync } from 'node:fs';

const OPEN_NO_FOLLOW = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Sets `mode` on path itself, unless path is a symlink (left alone) or missing. `onlyOwnLoose`:
 * only when the caller owns it and it grants others anything (a read that narrows, never fails).
 * Returns false when nothing was changed because of a link or a missing path.
 */
export function chmodNoFollow(path: string, mode: number, opts: { onlyOwnLoose?: boolean } = {}): boolean {
  let fd: number;
  try {
    fd = openSync(path, OPEN_NO_FOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ELOOP: the last component is a link (EMLINK/EFTYPE on some BSDs).
    if (code === 'ELOOP' || code === 'EMLINK' || code === 'EFTYPE' || code === 'ENOENT') return false;
    throw error;
  }
  try {
    const st = fstatSync(fd);
    if (opts.onlyOwnLoose) {
      const uid = process.getuid?.();
      if (uid === undefined || st.uid !== uid || (st.mode & 0o077) === 0) return true;
    }
    if ((st.mode & 0o777) !== mode) fchmodSync(fd, mode);
    return true;
  } finally {
    closeSync(fd);
  }
}
