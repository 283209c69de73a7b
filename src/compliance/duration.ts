// Durations as written in policy files (`after: 3d`, `tokenTtl: 12h`): days, hours, minutes,
// seconds, each optional but in that order, at least one present.
import { EmmctlError, ExitCode } from '../errors.js';
import { parseDurationSeconds } from '../model/duration.js';

const cache = new Map<string, number>();

/** Milliseconds in `text` (`0d`, `3d`, `12h`, `1d12h`, `90m`, `30s`). */
export function parseDuration(text: string): number {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  // Policy files have no weeks unit (the schema's Duration pattern).
  const seconds = parseDurationSeconds(text, { weeks: false });
  if (seconds === undefined) {
    // The schema rejects these; reaching here means a document skipped validation.
    throw new EmmctlError(`invalid duration "${text}": expected days, hours, minutes, seconds in that order, like 3d, 12h, 1d12h, 90m or 30s`, {
      exitCode: ExitCode.INVALID,
      hint: 'run `emmctl validate` on the policy files',
    });
  }
  const ms = seconds * 1000;
  // Policies hold a handful of distinct durations; evaluating 100k devices re-reads the same few.
  if (cache.size < 1000) cache.set(text, ms);
  return ms;
}
