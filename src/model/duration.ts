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
