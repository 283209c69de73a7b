// The one sanitiser behind every human-readable output (src/output/sanitize.ts).
import { describe, expect, it } from 'vitest';
import { sanitize, sanitizeMessage } from '../../src/output/sanitize.js';

describe('sanitize (one value in a line)', () => {
  it('shows C0, ESC, DEL, C1, bidi controls and separators as visible escapes, everything else as is', () => {
    expect(sanitize('evil\x1b[2J\x1b]0;pwned\x07')).toBe('evil\\e[2J\\e]0;pwned\\a');
    expect(sanitize('a\nb\r\tc\x00\x7f\x9b\x85')).toBe('a\\nb\\r\\tc\\x00\\x7f\\x9b\\x85');
    expect(sanitize('x\u202ey\u2066z\u2069\u200f\u061c\u2028\u2029')).toBe('x\\u202ey\\u2066z\\u2069\\u200f\\u061c\\u2028\\u2029');
    expect(sanitize('山田 📱 Zoe\u0308 café — ok')).toBe('山田 📱 Zoe\u0308 café — ok');
  });
});

describe('sanitizeMessage (a message emmctl wrote around such values)', () => {
  it('keeps its own line breaks and tabs; escapes everything else', () => {
    expect(sanitizeMessage('line one\n\tline two\r\x1b]0;t\x07')).toBe('line one\n\tline two\\r\\e]0;t\\a');
  });
  it('keeps colour codes only when asked (a colour terminal), and never screen, cursor, title or conceal codes', () => {
    const red = '\x1b[31mred\x1b[39m \x1b[1mbold\x1b[22m';
    expect(sanitizeMessage(red, { keepColor: true })).toBe(red);
    expect(sanitizeMessage(red)).toBe('\\e[31mred\\e[39m \\e[1mbold\\e[22m');
    expect(sanitizeMessage('\x1b[2J\x1b[8m\x1b[1;31m\x1b]0;x\x07', { keepColor: true })).toBe('\\e[2J\\e[8m\\e[1;31m\\e]0;x\\a');
  });
});
