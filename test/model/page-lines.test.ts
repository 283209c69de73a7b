// The one-record-per-line page layout (src/model/page-lines.ts): what the server writes means
// exactly what JSON.stringify(page) means, and what the CLI reads from it is exactly what
// JSON.parse of the whole body gives, with each record's own text kept only where it is the
// record's JSON.stringify text. Anything else is handed back to JSON.parse whole.
import { describe, expect, it } from 'vitest';
import { linedPageJson, parseLinedPage, recordText } from '../../src/model/page-lines.js';

// Values a record may hold that JSON.stringify escapes or writes in a way of its own.
const RECORDS = [
  { deviceId: 'dev_1', name: 'phone "one"\n\t\u001b[31m', owner: 'ü@example.com', failures: [{ policy: 'p', rule: 'r', expected: '>= 17', actual: '\u0085\u009b' }], policies: ['p'] },
  { deviceId: 'dev_2', name: '{"items":[\n]}', n: -0, big: 1e21, small: 5e-7, nested: { a: [1, [2, {}]], b: null }, lone: '\ud800' },
  { deviceId: 'dev_3', name: ',\n', emoji: '📱', empty: [], zero: 0 },
];

describe('linedPageJson', () => {
  it('means what JSON.stringify(page) means, with one record per line and the cursor after them', () => {
    const page = { items: RECORDS, nextCursor: 'c:1' };
    const text = linedPageJson(page);
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(page)));
    const lines = text.split('\n');
    expect(lines[0]).toBe('{"items":[');
    expect(lines.slice(1, -1)).toEqual(RECORDS.map((r, i) => JSON.stringify(r) + (i < RECORDS.length - 1 ? ',' : '')));
    expect(lines.at(-1)).toBe('],"nextCursor":"c:1"}');
  });

  it('writes the last page without a cursor, and an empty page as JSON.stringify does', () => {
    expect(linedPageJson({ items: RECORDS.slice(0, 1) }).endsWith('\n]}')).toBe(true);
    expect(linedPageJson({ items: [] })).toBe('{"items":[]}');
    expect(linedPageJson({ items: [], nextCursor: 'x' })).toBe('{"items":[],"nextCursor":"x"}');
  });
});

describe('parseLinedPage', () => {
  it("gives JSON.parse's page, each record keeping its line, which is its JSON.stringify text", () => {
    const text = linedPageJson({ items: RECORDS, nextCursor: 'c:2' });
    const page = parseLinedPage(text)!;
    expect(page).toEqual(JSON.parse(text));
    const items = page.items as object[];
    for (const item of items) expect(recordText(item)).toBe(JSON.stringify(item));
  });

  it('hands anything but the layout back (undefined) for JSON.parse: compact bodies, records over several lines, a second items', () => {
    const page = { items: RECORDS, nextCursor: 'c' };
    expect(parseLinedPage(JSON.stringify(page))).toBeUndefined();
    expect(parseLinedPage(JSON.stringify(page, null, 1))).toBeUndefined();
    expect(parseLinedPage('{"items":[\n{"a":1,\n"b":2}\n]}')).toBeUndefined();
    expect(parseLinedPage('{"items":[\n{"a":1},{"b":2}\n]}')).toBeUndefined();
    expect(parseLinedPage('{"items":[\n{"a":1}\n],"items":[{"b":2}]}')).toBeUndefined();
    expect(parseLinedPage('{"items":[\n{"a":1}\n]')).toBeUndefined();
    expect(parseLinedPage('{"items":[\n{"a":1}\n]}x')).toBeUndefined();
    expect(parseLinedPage('{"items":[\n]}')).toBeUndefined();
    expect(parseLinedPage('[\n{"a":1}\n]')).toBeUndefined();
  });

  it('keeps no text for a line JSON.stringify would not have written (spaces around it) or a value that is not an object', () => {
    const page = parseLinedPage('{"items":[\n {"a":1} ,\n2,\n{"b":"x"}\n]}')!;
    expect(page.items).toEqual([{ a: 1 }, 2, { b: 'x' }]);
    const [a, , b] = page.items as [object, number, object];
    expect(recordText(a)).toBeUndefined();
    expect(recordText(b)).toBe('{"b":"x"}');
    expect(recordText({ b: 'x' })).toBeUndefined();
    expect(recordText('{"b":"x"}')).toBeUndefined();
  });
});
