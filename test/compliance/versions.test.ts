import { describe, expect, it } from 'vitest';
import { compareVersions, parseDuration, versionSortKey } from '../../src/compliance/index.js';

const sign = (n: number) => Math.sign(n);

describe('compareVersions', () => {
  it.each([
    ['13', '13', 0],
    ['13', '13.0', 0],
    ['13.0.0', '13', 0],
    ['13', '13.0.1', -1],
    ['13.0.1', '13', 1],
    ['12', '13', -1],
    ['9', '10', -1], // numeric, not text: "9" > "10" as strings
    ['17.4.1', '17.4', 1],
    ['17.4.1', '17.10', -1],
    ['10.0.19045', '10.0.22631', -1],
    ['10.0.19045.3803', '10.0.19045', 1],
    ['013', '13', 0],
    ['14.2 beta', '14.2', 0],
    ['14.2 beta', '14.1', 1],
    ['17.4.1 (21E236)', '17.4.1', 0],
    ['v13', '13', 0],
    ['garbage', '1', -1],
    ['', '0', 0],
    ['123456789012345678901', '123456789012345678900', 1], // beyond Number precision
  ])('%s vs %s → %i', (a, b, want) => {
    expect(sign(compareVersions(a, b))).toBe(want);
    expect(sign(compareVersions(b, a))).toBe(-want || 0);
  });
});

describe('versionSortKey', () => {
  const versions = ['', 'x', '0', '1', '9', '10', '13', '13.0', '13.0.1', '13.1', '13.10', '14 beta', '17.4', '17.4.1', '10.0.19045', '10.0.22631', '10.0.19045.3803', '2.999999'];

  it('orders every pair exactly like compareVersions', () => {
    for (const a of versions) {
      for (const b of versions) {
        const ka = versionSortKey(a);
        const kb = versionSortKey(b);
        const byKey = ka < kb ? -1 : ka > kb ? 1 : 0;
        expect({ a, b, order: byKey }).toEqual({ a, b, order: sign(compareVersions(a, b)) });
      }
    }
  });

  it('pads parts to ten digits and drops trailing zero parts', () => {
    expect(versionSortKey('17.4.1')).toBe('0000000017.0000000004.0000000001');
    expect(versionSortKey('13.0.0')).toBe('0000000013');
    expect(versionSortKey('0')).toBe('');
  });

  it('clamps parts longer than ten digits', () => {
    expect(versionSortKey('1.123456789012')).toBe('0000000001.9999999999');
  });
});

describe('parseDuration', () => {
  it.each([
    ['0d', 0],
    ['3d', 3 * 86_400_000],
    ['12h', 12 * 3_600_000],
    ['1d12h', 36 * 3_600_000],
    ['90m', 90 * 60_000],
    ['30s', 30_000],
    ['1d2h3m4s', ((26 * 60 + 3) * 60 + 4) * 1000],
  ])('%s = %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '3', '3x', '12h1d', '-1d', ' 3d', '3d ', '1.5d', 'd', '2w'])('rejects %j naming the expected form', (text) => {
    expect(() => parseDuration(text)).toThrow(new RegExp(`invalid duration "${text.replace(/[.]/g, '\\.')}".*like 3d, 12h`));
  });
});
