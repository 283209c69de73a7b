// One reading of durations, wherever they are written: policy files (`after: 3d`, `tokenTtl: 1d12h`),
// server flags (`--expires 2w`) and CLI flags (`--since 24h`). Units in this order, each optional,
// at least one: weeks (only where the caller allows them), days, hours, minutes, seconds.
const COMPOUND = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Seconds in `text`, or undefined when it is not a duration of that form. No surrounding spaces. */
export function parseDurationSeconds(text: string, opts: { weeks?: boolean } = { weeks: true }): number | undefined {
  const m = COMPOUND.exec(text);
  if (!m || text === '' || (m[1] !== undefined && !opts.weeks)) return undefined;
  const [w, d, h, min, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number, number];
  const total = (w * 7 + d) * 86_400 + h * 3600 + min * 60 + s;
  // Past this, instants built from it stop being valid Dates (toISOString throws): refuse, don't 500.
  return total > MAX_DURATION_SECONDS ? undefined : total;
}

/** The longest duration anywhere: 100 years. */
export const MAX_DURATION_SECONDS = 100 * 366 * 86_400;

/**
 * A what-if instant (`compliance --at`): `+DURATION` from `now` (`+3d`, `+1w2d`, `+12h`) or an
 * ISO-8601 instant with its zone (`2026-02-01T12:00:00Z`; a zone-less date is refused). Epoch ms, or undefined when
 * it is neither. One reading for the CLI (early usage errors) and the store (the real clock).
 */
export function parseWhatIfInstant(text: string, now: Date): number | undefined {
  const t = text.trim();
  if (t.startsWith('+')) {
    const seconds = parseDurationSeconds(t.slice(1));
    return seconds === undefined ? undefined : now.getTime() + seconds * 1000;
  }
  // A time needs its zone: the CLI and a server may sit in different ones.
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))$/i.exec(t);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, zh, zm] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as number[];
  // Date.parse rolls 02-30 over to March and takes 24:00: only a real calendar instant counts.
  if (!isCalendarDate(y!, mo!, d!) || h! > 23 || mi! > 59 || s! > 59 || zh! > 23 || zm! > 59) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

/** True when year-month-day names a day that exists (no 02-30, no month 13). */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** `YYYY-MM-DD` naming a real calendar day. */
export function isCalendarDateText(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return !!m && isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]));
}
