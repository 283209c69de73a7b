// The renderers on in-memory streams: formats, quoting, streaming with backpressure, width fitting.
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { colors } from '../../src/output/color.js';
import { parseCsv } from '../../src/output/csv.js';
import { csvField, displayWidth, fitWidths, renderRecords, truncate, type Column } from '../../src/output/render.js';
import { parseDuration, parseSince, relativeTime } from '../../src/output/time.js';

interface Row {
  id: string;
  name: string;
  seen?: string;
  note?: string;
}

const COLUMNS: Column<Row>[] = [
  { header: 'ID', value: (r) => r.id },
  { header: 'NAME', value: (r) => r.name, color: (t, c) => c.red(t) },
  { header: 'LAST SEEN', value: (r) => r.seen, time: true },
  { header: 'NOTE', value: (r) => r.note, wide: true },
];

const NOW = new Date('2026-01-01T12:00:00.000Z');

function sink(opts: { tty?: boolean; columns?: number } = {}) {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  stream.isTTY = opts.tty;
  stream.columns = opts.columns;
  return { stream, text: () => text };
}

async function render(rows: Row[], format: 'table' | 'wide' | 'json' | 'yaml' | 'csv', opts: { tty?: boolean; columns?: number; color?: boolean } = {}) {
  const out = sink(opts);
  const count = await renderRecords(rows, { format, columns: COLUMNS, out: out.stream, colors: colors(Boolean(opts.color)), now: NOW });
  return { text: out.text(), count };
}

const ROWS: Row[] = [
  { id: 'dev_1', name: 'Ana phone', seen: '2026-01-01T11:57:00.000Z', note: 'a' },
  { id: 'dev_22', name: 'Bo', seen: '2025-12-30T12:00:00.000Z' },
];

describe('table', () => {
  it('aligns columns with a header, full values and ISO times off a terminal, no wide columns', async () => {
    const { text, count } = await render(ROWS, 'table');
    expect(count).toBe(2);
    expect(text).toBe(
      'ID      NAME       LAST SEEN\n' +
      'dev_1   Ana phone  2026-01-01T11:57:00.000Z\n' +
      'dev_22  Bo         2025-12-30T12:00:00.000Z\n',
    );
  });

  it('wide adds the wide columns', async () => {
    const { text } = await render(ROWS, 'wide');
    expect(text.split('\n')[0]).toBe('ID      NAME       LAST SEEN                 NOTE');
    expect(text.split('\n')[1]).toMatch(/ a$/);
  });

  it('on a terminal shows relative times and colours, and fits the width with an ellipsis', async () => {
    const long: Row[] = [{ id: 'dev_1', name: 'A very long device name that will not fit', seen: '2026-01-01T11:57:00.000Z' }];
    const { text } = await render(long, 'table', { tty: true, columns: 30, color: true });
    const lines = text.trimEnd().split('\n');
    expect(lines[1]).toContain('3m ago');
    expect(lines[1]).toContain('\u001b[31m'); // red NAME cell
    const plain = lines.map((l) => l.replace(/\u001b\[[0-9;]*m/g, ''));
    for (const l of plain) expect([...l].length).toBeLessThanOrEqual(30);
    expect(plain[1]).toContain('…');
  });

  it('never shortens `keep` columns (ids people copy); the others give way', async () => {
    const out = sink({ tty: true, columns: 30 });
    const cols: Column<Row>[] = [{ header: 'ID', value: (r) => r.id, keep: true }, { header: 'NAME', value: (r) => r.name }];
    await renderRecords([{ id: 'dev_0123456789abcdef', name: 'A very long device name' }], { format: 'table', columns: cols, out: out.stream, colors: colors(false) });
    expect(out.text().split('\n')[1]).toBe('dev_0123456789abcdef  A very …');
  });

  it('prints nothing for no records and returns 0 (the caller says so on stderr)', async () => {
    expect(await render([], 'table')).toEqual({ text: '', count: 0 });
  });

  it('keeps each cell on one line', async () => {
    const { text } = await render([{ id: 'x', name: 'two\nlines\tand tab' }], 'table');
    expect(text.split('\n')).toHaveLength(3);
    expect(text).toContain('two\\nlines\\tand tab');
  });

  it('streams rows after the sizing buffer with the widths from the buffer', async () => {
    const out = sink();
    async function* rows() {
      for (let i = 0; i < 10; i++) yield { id: `d${i}`, name: i === 9 ? 'much-longer-name' : 'n' };
    }
    await renderRecords(rows(), { format: 'table', columns: COLUMNS.slice(0, 2), out: out.stream, colors: colors(false), sizingRows: 3 });
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[1]).toBe('d0  n');
    expect(lines[10]).toBe('d9  much-longer-name'); // full value off a terminal, never cut
  });
});

describe('fitWidths / truncate', () => {
  it('shrinks the widest column first and keeps headers readable', () => {
    expect(fitWidths([5, 40, 10], [2, 4, 9], 40)).toEqual([5, 21, 10]);
    expect(fitWidths([5, 10], [2, 4], 100)).toEqual([5, 10]);
    // Cannot fit: stops at the minimums instead of dropping columns.
    expect(fitWidths([10, 10], [10, 10], 5)).toEqual([10, 10]);
  });
  it('truncates with an ellipsis', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });
  it('shrinks free text (flexible columns) before any other column', () => {
    // 20 + 30 + 10 + gaps 4 = 64 cells into 50: only the flexible middle column gives.
    expect(fitWidths([20, 30, 10], [2, 4, 6], 50, [false, true, false])).toEqual([20, 16, 10]);
    // Free text at its minimum: then the others.
    expect(fitWidths([20, 30, 10], [2, 4, 6], 30, [false, true, false])).toEqual([10, 6, 10]);
  });
  it('the per-code-point fast path agrees with string-width on every code point', async () => {
    const { default: stringWidth } = await import('string-width');
    const differ: string[] = [];
    for (let cp = 0x20; cp <= 0x3ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      if (displayWidth(ch) !== stringWidth(ch)) differ.push(cp.toString(16));
    }
    expect(differ).toEqual([]);
    expect(displayWidth('山田太郎のiPhone')).toBe(stringWidth('山田太郎のiPhone'));
    expect(displayWidth('Zoe\u0308 👨‍👩‍👧 🇯🇵')).toBe(stringWidth('Zoe\u0308 👨‍👩‍👧 🇯🇵'));
  }, 60_000);
  it('measures and cuts in terminal cells: CJK and emoji 2, combining marks 0, never half a character', () => {
    expect(truncate('山田太郎のiPhone', 7)).toBe('山田太…');
    expect(truncate('山田太郎のiPhone', 6)).toBe('山田…');
    expect(truncate('📱📱📱', 4)).toBe('📱…');
    expect(truncate('Zoe\u0308 tablet', 6)).toBe('Zoe\u0308 t…');
    expect(truncate('👨‍👩‍👧 family', 4)).toBe('👨‍👩‍👧 …');
  });
});

describe('json', () => {
  it('writes an array of the records (or toData) as valid JSON', async () => {
    const { text } = await render(ROWS, 'json');
    expect(JSON.parse(text)).toEqual(ROWS);
    expect((await render([], 'json')).text).toBe('[]\n');
  });

  it('streams: the first records are written before the source is exhausted', async () => {
    const out = new PassThrough();
    let received = '';
    out.on('data', (d) => (received += d));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let seenBeforeEnd = '';
    async function* rows() {
      for (let i = 0; i < 5000; i++) yield { id: `dev_${i}`, name: 'x'.repeat(20) };
      await new Promise((r) => setTimeout(r, 10));
      seenBeforeEnd = received;
      await gate;
      yield { id: 'last', name: 'y' };
    }
    const done = renderRecords(rows(), { format: 'json', columns: COLUMNS, out, colors: colors(false) });
    await new Promise((r) => setTimeout(r, 50));
    release();
    await done;
    expect(seenBeforeEnd.startsWith('[\n{"id":"dev_0"')).toBe(true);
    expect(JSON.parse(received)).toHaveLength(5001);
  });

  it('waits for drain when the pipe is full instead of buffering everything', async () => {
    const out = new PassThrough({ highWaterMark: 1024 });
    let produced = 0;
    async function* rows() {
      for (let i = 0; i < 100_000; i++) {
        produced++;
        yield { id: `dev_${i}`, name: 'name' };
      }
    }
    const done = renderRecords(rows(), { format: 'json', columns: COLUMNS, out, colors: colors(false) });
    await new Promise((r) => setTimeout(r, 50));
    // Nobody reads: production stalls after a few chunks.
    expect(produced).toBeLessThan(20_000);
    let bytes = 0;
    out.on('data', (d: Buffer) => (bytes += d.length));
    await done;
    expect(produced).toBe(100_000);
    expect(bytes).toBeGreaterThan(100_000 * 20);
    // Every wait for 'drain' cleans up after itself (no MaxListenersExceededWarning on big listings).
    expect(out.listenerCount('drain')).toBe(0);
    expect(out.listenerCount('close')).toBe(0);
    expect(out.listenerCount('error')).toBeLessThanOrEqual(1);
  });
});

describe('yaml', () => {
  it('writes one YAML sequence with the same shape as the JSON', async () => {
    const { parse } = await import('yaml');
    const { text } = await render(ROWS, 'yaml');
    expect(parse(text)).toEqual(ROWS);
    expect(parse((await render([], 'yaml')).text)).toEqual([]);
  });
});

describe('csv', () => {
  it('quotes per RFC 4180 and round-trips through the parser', async () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(undefined)).toBe('');
    const tricky: Row[] = [{ id: 'd1', name: 'O"Brien, Ana', seen: '2026-01-01T00:00:00.000Z', note: 'line1\r\nline2' }];
    const { text } = await render(tricky, 'csv');
    expect(text.startsWith('ID,NAME,LAST SEEN,NOTE\r\n')).toBe(true);
    const rows = parseCsv(text);
    expect(rows.map((r) => r.fields)).toEqual([
      ['ID', 'NAME', 'LAST SEEN', 'NOTE'],
      ['d1', 'O"Brien, Ana', '2026-01-01T00:00:00.000Z', 'line1\r\nline2'],
    ]);
  });

  it('prints the header even with no records', async () => {
    expect((await render([], 'csv')).text).toBe('ID,NAME,LAST SEEN,NOTE\r\n');
  });
});

describe('parseCsv', () => {
  it('tracks the line each record starts on, across quoted newlines and blank lines', () => {
    const rows = parseCsv('a,b\n"x\ny",2\n\nlast,3\n');
    expect(rows.map((r) => [r.line, r.fields])).toEqual([
      [1, ['a', 'b']],
      [2, ['x\ny', '2']],
      [5, ['last', '3']],
    ]);
  });
  it('rejects stray quotes and unclosed fields with the line', () => {
    expect(() => parseCsv('a,b\nx"y,2\n')).toThrow(/quote inside an unquoted field/);
    expect(() => parseCsv('a\n"open\n')).toThrowError(expect.objectContaining({ line: 2 }));
    expect(() => parseCsv('"a"b\n')).toThrow(/after a closing quote/);
  });
});

describe('time', () => {
  it('relative times', () => {
    expect(relativeTime('2026-01-01T11:59:50.000Z', NOW)).toBe('just now');
    expect(relativeTime('2026-01-01T11:57:00.000Z', NOW)).toBe('3m ago');
    expect(relativeTime('2026-01-01T07:00:00.000Z', NOW)).toBe('5h ago');
    expect(relativeTime('2025-12-20T12:00:00.000Z', NOW)).toBe('12d ago');
    expect(relativeTime('2026-01-01T14:00:00.000Z', NOW)).toBe('in 2h');
    expect(relativeTime(undefined, NOW)).toBe('');
  });
  it('durations and --since', () => {
    expect(parseDuration('7d', '--expires')).toBe(604_800);
    expect(parseDuration('30m', '--timeout')).toBe(1800);
    expect(() => parseDuration('7 days', '--expires')).toThrow(/--expires "7 days": expected a duration/);
    expect(() => parseDuration('99999999d', '--expires')).toThrow(/--expires "99999999d": longer than 100 years/);
    expect(() => parseDuration('0d', '--expires')).toThrow(/longer than zero/);
    expect(parseSince('24h', NOW)).toBe('2025-12-31T12:00:00.000Z');
    expect(parseSince('2025-06-01', NOW)).toBe('2025-06-01T00:00:00.000Z');
    expect(() => parseSince('yesterday', NOW)).toThrow(/--since "yesterday"/);
  });
});
