// OS version comparison shared by the compliance rules (minOsVersion) and the store's `os<14`
// filters, so "older than 14" means the same thing in a rule, a filter and an SQL query.
//
// A version is compared by its leading dotted-numeric prefix only: "14.2 beta" → 14.2,
// "17.4.1 (21E236)" → 17.4.1, "v13" → 13. Missing parts count as 0, so "13" == "13.0" == "13.0.0"
// and "13" < "13.0.1". Text with no numeric prefix compares as "0" (lowest): a device reporting
// garbage never passes a minimum-version rule by accident. Pre-release suffixes are ignored
// rather than ranked below the release, because device OSes report builds ("10.0.19045.3803"),
// not semver, and a beta of 14.2 is at least as patched as 14.1.

const PREFIX = /^\s*[vV]?(\d+(?:\.\d+)*)/;

/** The numeric parts of a version's dotted prefix, without leading zeros, trailing zero parts dropped. */
export function versionParts(v: string): string[] {
  const m = PREFIX.exec(v);
  if (!m) return [];
  const parts = m[1]!.split('.').map((p) => p.replace(/^0+(?=\d)/, ''));
  while (parts.length > 0 && parts[parts.length - 1] === '0') parts.pop();
  return parts;
}

// Digit strings without leading zeros: the longer one is larger, equal lengths compare as text.
// Works for parts of any size (no Number overflow on long build numbers).
function compareParts(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative, zero or positive as `a` is older than, equal to or newer than `b`. */
export function compareVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  const n = Math.max(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const d = compareParts(pa[i] ?? '0', pb[i] ?? '0');
    if (d !== 0) return d;
  }
  return 0;
}

/** Width of one part in versionSortKey; a part with more digits is clamped to all nines. */
export const SORT_KEY_PART_WIDTH = 10;
const MAX_PART = '9'.repeat(SORT_KEY_PART_WIDTH);

/**
 * A string whose plain (binary) ordering matches compareVersions, for ORDER BY and `<` in SQL:
 * each part zero-padded to 10 digits, joined by ".", trailing zero parts dropped so that
 * "13" and "13.0" get the same key. "." sorts below every digit, so a key that is a prefix of
 * another ("13" vs "13.0.1") sorts first, as it should. Parts above 9,999,999,999 are clamped
 * (no real OS reports one); a version with no numeric prefix gets "" (lowest, like "0").
 */
export function versionSortKey(v: string): string {
  return versionParts(v)
    .map((p) => (p.length > SORT_KEY_PART_WIDTH ? MAX_PART : p.padStart(SORT_KEY_PART_WIDTH, '0')))
    .join('.');
}
