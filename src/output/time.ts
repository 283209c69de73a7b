// Times for people and durations typed by people. Pure functions, no clock of their own:
// callers pass `now` so tables and tests agree on one instant.
import { UsageError } from '../errors.js';
import { parseDurationSeconds } from '../model/duration.js';

/** `90s`, `30m`, `12h`, `7d`, `2w` → seconds: one number and one unit (spaces allowed). Throws UsageError naming the flag. */
export function parseDuration(text: string, flag: string): number {
  const match = /^\s*(\d+)\s*([smhdw])\s*$/.exec(text);
  if (!match) throw new UsageError(`${flag} "${text}": expected a duration like 30m, 12h, 7d or 2w`);
  const seconds = parseDurationSeconds(`${match[1]}${match[2]}`);
  if (seconds === undefined) throw new UsageError(`${flag} "${text}": longer than 100 years`);
  if (seconds <= 0) throw new UsageError(`${flag} "${text}": must be longer than zero`);
  return seconds;
}

/** `--since 24h` (that long ago) or an ISO-8601 date/instant → ISO-8601 instant. */
export function parseSince(text: string, now: Date, flag = '--since'): string {
  if (/^\s*\d+\s*[smhdw]\s*$/.test(text)) return new Date(now.getTime() - parseDuration(text, flag) * 1000).toISOString();
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const at = new Date(text.trim());
    if (!Number.isNaN(at.getTime())) return at.toISOString();
  }
  throw new UsageError(`${flag} "${text}": expected a duration like 24h or 7d, or an ISO-8601 time like 2026-01-31T12:00:00Z`);
}

/** `just now`, `3m ago`, `5h ago`, `12d ago`, `in 2h` — for tables on a terminal. */
export function relativeTime(iso: string | undefined, now: Date): string {
  if (!iso) return '';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const diff = Math.round((now.getTime() - at) / 1000);
  const abs = Math.abs(diff);
  if (abs < 45) return 'just now';
  let text: string;
  if (abs < 3600) text = `${Math.round(abs / 60)}m`;
  else if (abs < 86_400) text = `${Math.round(abs / 3600)}h`;
  else if (abs < 86_400 * 60) text = `${Math.round(abs / 86_400)}d`;
  else if (abs < 86_400 * 730) text = `${Math.round(abs / (86_400 * 30))}mo`;
  else text = `${Math.round(abs / (86_400 * 365))}y`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}
