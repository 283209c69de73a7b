// One reading of durations, wherever they are written: policy files (`after: 3d`, `tokenTtl: 1d12h`),
// server flags (`--expires 2w`) and CLI flags (`--since 24h`). Units in this order, each optional,
// at least one: weeks (only where the caller allows them), days, hours, minutes, seconds.
const COMPOUND = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Seconds in `text`, or undefined when it is not a duration of that form. No surrounding spaces. */
export function parseDurationSeconds(text: string, opts: { weeks?: boolean } = { weeks: true }): number | undefined {
  const m = COMPOUND.exec(text);
  if (!m || text === '' || (m[1] !== undefined && !opts.weeks)) return undefined;
  const [w, d, h, min, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number, number];
  return (w * 7 + d) * 86_400 + h * 3600 + min * 60 + s;
}

/**
 * A what-if instant (`compliance --at`): `+DURATION` from `now` (`+3d`, `+1w2d`, `+12h`) or an
 * ISO-8601 date (UTC midnight) or instant with its zone (`2026-02-01`, `2026-02-01T12:00:00Z`). Epoch ms, or undefined when
 * it is neither. One reading for the CLI (early usage errors) and the store (the real clock).
 */
export function parseWhatIfInstant(text: string, now: Date): number | undefined {
  const t = text.trim();
  if (t.startsWith('+')) {
    const seconds = parseDurationSeconds(t.slice(1));
    return seconds === undefined ? undefined : now.getTime() + seconds * 1000;
  }
  // A time needs its zone: the CLI and a server may sit in different ones.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/i.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}
