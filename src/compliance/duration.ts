// Durations as written in policy files (`after: 3d`, `tokenTtl: 12h`): days, hours, minutes,
// seconds, each optional but in that order, at least one present.
import { EmmctlError, ExitCode } from '../errors.js';

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const cache = new Map<string, number>();

/** Milliseconds in `text` (`0d`, `3d`, `12h`, `1d12h`, `90m`, `30s`). */
export function parseDuration(text: string): number {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const m = DURATION.exec(text);
  if (!m || text === '') {
    // The schema rejects these; reaching here means a document skipped validation.
    throw new EmmctlError(`invalid duration "${text}": expected days, hours, minutes, seconds in that order, like 3d, 12h, 1d12h, 90m or 30s`, {
      exitCode: ExitCode.INVALID,
      hint: 'run `emmctl validate` on the policy files',
    });
  }
  const [d, h, mi, s] = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number];
  const ms = (((d * 24 + h) * 60 + mi) * 60 + s) * 1000;
  // Policies hold a handful of distinct durations; evaluating 100k devices re-reads the same few.
  if (cache.size < 1000) cache.set(text, ms);
  return ms;
}
