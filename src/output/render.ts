// Record renderers for every listing command: table, wide, json, yaml, csv.
// All of them take an AsyncIterable and write as records arrive, so a 100,000-device listing
// pages through the backend with one page in memory. Only the table buffers, and only the first
// `sizingRows` rows, to size its columns.
//
// Why not cli-table3: it needs every row before it prints (no streaming), draws box borders
// that break `grep`/`awk`, and is a CommonJS dependency tree we would load on every listing.
// Column alignment is a few lines of code; owning it lets us stream and fit the terminal.
import type { Writable } from 'node:stream';
import { eastAsianWidth } from 'get-east-asian-width';
import stringWidth from 'string-width';
import { EmmctlError, ExitCode, ExitWith } from '../errors.js';
import { loadYaml } from '../policy/yaml-source.js';
import type { Colors } from './color.js';
import { recordText } from '../model/page-lines.js';
import { sanitize } from './sanitize.js';
import { relativeTime } from './time.js';

export type RecordFormat = 'table' | 'wide' | 'json' | 'yaml' | 'csv';

export type CellValue = string | number | boolean | null | undefined;

export interface Column<T> {
  header: string;
  value(record: T): CellValue;
  /** Shown only with `-o wide` (and always in csv). */
  wide?: true;
  /** The value is an ISO-8601 instant: relative (`3m ago`) on a terminal, ISO when piped. */
  time?: true;
  /** Never shortened to fit the terminal (ids people copy, short status words). */
  keep?: true;
  /** Free text (names, owners, reasons): shortened first when the row does not fit the terminal. */
  flex?: true;
  /** Left out of the table on a terminal too narrow to show free text readably (see layout()). */
  optional?: true;
  /** Colour for the (already fitted) cell text; applied only when colours are on. */
  color?: (text: string, c: Colors, record: T) => string;
}

export type OutStream = Writable & { isTTY?: boolean; columns?: number };

export interface RenderOptions<T> {
  format: RecordFormat;
  columns: Column<T>[];
  out: OutStream;
  colors: Colors;
  /** The record as printed by json/yaml (stable camelCase fields); defaults to the record. */
  toData?: (record: T) => unknown;
  /** The instant relative times are computed from. */
  now?: Date;
  /** Table rows buffered to size the columns before the rest stream with those widths. */
  sizingRows?: number;
  /** Terminal width override (tests); otherwise out.columns on a TTY. */
  width?: number;
  /** Sees every record as it is written (summaries, gates) without another async layer per record. */
  tap?: (record: T) => void;
}

const GAP = 2;
const ELLIPSIS = '…';

/** Writes records in the chosen format; returns how many were written. */
export async function renderRecords<T>(records: AsyncIterable<T> | Iterable<T>, opts: RenderOptions<T>): Promise<number> {
  const writer = new StreamWriter(opts.out);
  const written = { count: 0 };
  if (opts.tap) records = tapped(records, opts.tap);
  try {
    switch (opts.format) {
      case 'json':
        await writeJson(records, opts, writer, written);
        break;
      case 'yaml':
        await writeYaml(records, opts, writer, written);
        break;
      case 'csv':
        await writeCsv(records, opts, writer, written);
        break;
      default:
        await writeTable(records, opts, writer, written);
    }
    await writer.flush();
  } catch (error) {
    // The reader went away (`emmctl devices list | head`): stop quietly, as `ls | head` does,
    // and skip what the command would do after listing (a summary of a partial listing misleads).
    if (writer.closed) throw new ExitWith(ExitCode.OK);
    if (written.count === 0) throw error;
    // The source failed mid-stream (a page that never came): what was printed is true but not
    // all of it. Keep it, say so, exit non-zero; a JSON array stays unterminated so no parser
    // takes it for the whole listing.
    await writer.flush().catch(() => {});
    throw incompleteListing(error, written.count, opts.format);
  }
  return written.count;
}

function incompleteListing(error: unknown, count: number, format: RecordFormat): EmmctlError {
  const cause = error instanceof Error ? error.message : String(error);
  const data = format === 'json' ? '; the JSON array is left unterminated' : format === 'table' || format === 'wide' ? '' : ` (the ${format} above looks complete but is not)`;
  const hint = error instanceof EmmctlError && error.hint ? `${error.hint}; ` : '';
  return new EmmctlError(`the listing failed after ${count} record${count === 1 ? '' : 's'}, so the output is incomplete${data}: ${cause}`, {
    exitCode: error instanceof EmmctlError && error.exitCode !== ExitCode.OK ? error.exitCode : ExitCode.ERROR,
    hint: `${hint}nothing was changed; run the command again (with --limit or --filter for a shorter listing)`,
    cause: error,
  });
}

/** One record as pretty JSON or a YAML document (show commands). */
export async function renderDocument(data: unknown, format: 'json' | 'yaml', out: OutStream): Promise<void> {
  const writer = new StreamWriter(out);
  if (format === 'json') await writer.write(`${JSON.stringify(data, null, 2)}\n`);
  else {
    const { stringify } = await loadYaml();
    await writer.write(stringify(data, { lineWidth: 0 }));
  }
  await writer.flush();
}

/**
 * A show command's one record as data: the document for json/yaml, a one-row csv. False for
 * table/wide, which each show command lays out itself (formatKeyValues).
 */
export async function renderRecordAsData<T>(record: T, opts: RenderOptions<T>): Promise<boolean> {
  if (opts.format === 'json' || opts.format === 'yaml') await renderDocument(record, opts.format, opts.out);
  else if (opts.format === 'csv') await renderRecords([record], opts);
  else return false;
  return true;
}

/** `key: value` lines under optional section titles, aligned — the table form of a show command. */
export function formatKeyValues(rows: Array<[string, CellValue]>, colors: Colors, indent = ''): string {
  const shown = rows.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [sanitize(k), cellText(v)] as const);
  const width = Math.max(0, ...shown.map(([k]) => displayWidth(k)));
  return shown.map(([k, v]) => `${indent}${colors.dim(`${k}:${' '.repeat(width - displayWidth(k))}`)} ${v}\n`).join('');
}

/** Rows of cells aligned in columns (terminal cells, values sanitised), each line indented: previews and short lists. */
export function formatAligned(rows: CellValue[][], indent = '  '): string {
  const cells = rows.map((row) => row.map(cellText));
  const widths = columnWidths(cells);
  return cells.map((row) => `${indent}${formatRow(row, widths, false, (t) => t)}\n`).join('');
}

/** How many records a writer has written so far (read when the source fails mid-stream). */
interface Written {
  count: number;
}

async function writeJson<T>(records: AsyncIterable<T> | Iterable<T>, opts: RenderOptions<T>, w: StreamWriter, written: Written): Promise<void> {
  // One record per line: valid JSON for jq, greppable, and never the whole array in memory. A
  // record that came as a line of JSON.stringify's text (model/page-lines.ts) is printed as it came.
  for await (const record of records) {
    const text = opts.toData ? JSON.stringify(opts.toData(record)) : (recordText(record) ?? JSON.stringify(record));
    const flushing = w.add(`${written.count === 0 ? '[\n' : ',\n'}${text}`);
    if (flushing) await flushing;
    written.count++;
  }
  await w.write(written.count === 0 ? '[]\n' : '\n]\n');
}

async function writeYaml<T>(records: AsyncIterable<T> | Iterable<T>, opts: RenderOptions<T>, w: StreamWriter, written: Written): Promise<void> {
  const { stringify } = await loadYaml();
  // A YAML sequence written item by item (`- ...` blocks concatenate into one list), the same shape as the JSON array.
  for await (const record of records) {
    await w.write(stringify([opts.toData ? opts.toData(record) : record], { lineWidth: 0 }));
    written.count++;
  }
  if (written.count === 0) await w.write('[]\n');
}

/** RFC 4180: quote a field holding a comma, quote, CR or LF; double the quotes inside. */
export function csvField(value: CellValue): string {
  const text = value === undefined || value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function writeCsv<T>(records: AsyncIterable<T> | Iterable<T>, opts: RenderOptions<T>, w: StreamWriter, written: Written): Promise<void> {
  // Every column (wide ones too) with raw values and ISO times: csv is for spreadsheets and scripts.
  const columns = opts.columns;
  await w.write(`${columns.map((c) => csvField(c.header)).join(',')}\r\n`);
  for await (const record of records) {
    await w.write(`${columns.map((c) => csvField(c.value(record))).join(',')}\r\n`);
    written.count++;
  }
}

async function writeTable<T>(records: AsyncIterable<T> | Iterable<T>, opts: RenderOptions<T>, w: StreamWriter, written: Written): Promise<void> {
  const columns = opts.columns.filter((c) => opts.format === 'wide' || !c.wide);
  const tty = Boolean(opts.out.isTTY);
  const now = opts.now ?? new Date();
  const cells = (record: T): string[] =>
    columns.map((c) => {
      const v = c.value(record);
      return c.time && tty && typeof v === 'string' ? sanitize(relativeTime(v, now)) : cellText(v);
    });

  const sizing = opts.sizingRows ?? 300;
  const buffered: Array<{ record: T; cells: string[] }> = [];
  const iterator = (Symbol.asyncIterator in records ? (records as AsyncIterable<T>)[Symbol.asyncIterator]() : toAsync(records as Iterable<T>));
  let next: IteratorResult<T>;
  // A source that fails while rows are buffered: print those rows, then fail (renderRecords says
  // the output is incomplete), as when it fails later.
  let failure: { error: unknown } | undefined;
  try {
    next = await iterator.next();
    while (!next.done && buffered.length < sizing) {
      buffered.push({ record: next.value, cells: cells(next.value) });
      next = await iterator.next();
    }
  } catch (error) {
    if (buffered.length === 0) throw error;
    failure = { error };
    next = { done: true, value: undefined };
  }
  if (buffered.length === 0) return;

  const headers = columns.map((c) => c.header);
  const natural = columnWidths([headers, ...buffered.map((b) => b.cells)]);
  const terminalWidth = opts.width ?? (tty ? opts.out.columns : undefined);
  const { shown, widths } = terminalWidth ? layout(columns, natural, terminalWidth, opts.format === 'wide') : { shown: columns.map((_, i) => i), widths: natural };
  const fit = tty || opts.width !== undefined; // Off a terminal full values: a wider cell pushes the row instead of losing data.

  const pick = (all: string[]) => shown.map((i) => all[i]!);
  await w.write(`${formatRow(pick(headers), widths, fit, (t) => opts.colors.bold(t))}\n`);
  const line = (record: T, rowCells: string[]) =>
    formatRow(pick(rowCells), widths, fit, (t, k) => {
      const column = columns[shown[k]!]!;
      return column.color ? column.color(t, opts.colors, record) : t;
    });
  for (const b of buffered) {
    await w.write(`${line(b.record, b.cells)}\n`);
    written.count++;
  }
  buffered.length = 0;
  if (failure) throw failure.error;
  while (!next.done) {
    await w.write(`${line(next.value, cells(next.value))}\n`);
    written.count++;
    next = await iterator.next();
  }
}

/** Free text narrower than this is hardly readable: optional columns make room first. */
const READABLE_TEXT = 12;

/**
 * Which columns a terminal of `total` cells shows, and how wide. Ids (`keep`) are never cut;
 * free text (`flex`) shrinks first; when free text would still be cut below READABLE_TEXT cells,
 * `optional` columns are left out, rightmost first (not with -o wide, which asked for them all).
 */
function layout<T>(columns: Column<T>[], natural: number[], total: number, wide: boolean): { shown: number[]; widths: number[] } {
  const shown = columns.map((_, i) => i);
  for (;;) {
    const widths = fitWidths(
      shown.map((i) => natural[i]!),
      shown.map((i) => (columns[i]!.keep ? natural[i]! : displayWidth(columns[i]!.header))),
      total,
      shown.map((i) => Boolean(columns[i]!.flex)),
    );
    const cramped = shown.some((i, k) => columns[i]!.flex && widths[k]! < Math.min(natural[i]!, READABLE_TEXT));
    const drop = wide ? -1 : shown.findLastIndex((i) => columns[i]!.optional);
    if (!cramped || drop < 0) return { shown, widths };
    shown.splice(drop, 1);
  }
}

function cellText(v: CellValue): string {
  if (v === undefined || v === null) return '';
  // A cell is one line of inert text: newlines, tabs and escape sequences show as escapes.
  return sanitize(String(v));
}

export function columnWidths(rows: string[][]): number[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell))));
  return widths;
}

/**
 * Shrinks columns, one cell at a time, widest first, until the row fits `total` terminal cells:
 * first the `flexible` ones (free text: names, owners, reasons), then, if that is not enough, the
 * others. A column never goes below `minWidths[i]` (its header, or its full width for `keep`
 * columns such as ids) or 6 cells, so every column stays readable and an id is never cut.
 */
export function fitWidths(natural: number[], minWidths: number[], total: number, flexible: boolean[] = []): number[] {
  const widths = [...natural];
  const minimum = widths.map((w, i) => Math.min(w, Math.max(minWidths[i] ?? 0, 6)));
  let over = widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1) - total;
  for (const phase of [(i: number) => Boolean(flexible[i]), () => true]) {
    while (over > 0) {
      let widest = -1;
      for (let i = 0; i < widths.length; i++) if (phase(i) && widths[i]! > minimum[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
      if (widest < 0) break; // this phase cannot shrink further (the last one: let the terminal wrap rather than drop columns)
      widths[widest]!--;
      over--;
    }
  }
  return widths;
}

const graphemes = new Intl.Segmenter();

/** Cuts text to `width` terminal cells, marking the cut with an ellipsis; never splits a character (or an emoji sequence). */
export function truncate(text: string, width: number): string {
  if (PRINTABLE_ASCII.test(text)) return text.length <= width ? text : width <= 1 ? ELLIPSIS.slice(0, width) : `${text.slice(0, width - 1)}${ELLIPSIS}`;
  if (displayWidth(text) <= width) return text;
  if (width <= 1) return ELLIPSIS.slice(0, width);
  let out = '';
  let used = 0;
  if (SIMPLE.test(text)) {
    // One character per cluster here: code points by their East Asian Width, no segmenting.
    for (const ch of text) {
      const w = eastAsianWidth(ch.codePointAt(0)!);
      if (used + w > width - 1) break;
      out += ch;
      used += w;
    }
    return `${out}${ELLIPSIS}`;
  }
  for (const { segment } of graphemes.segment(text)) {
    const w = segment.length === 1 && PRINTABLE_ASCII.test(segment) ? 1 : stringWidth(segment);
    if (used + w > width - 1) break;
    out += segment;
    used += w;
  }
  return `${out}${ELLIPSIS}`;
}

function formatRow(cells: string[], widths: number[], fit: boolean, paint: (text: string, index: number) => string): string {
  let out = '';
  for (let i = 0; i < cells.length; i++) {
    const text = fit ? truncate(cells[i]!, widths[i]!) : cells[i]!;
    const last = i === cells.length - 1;
    const painted = text === '' ? text : paint(text, i);
    out += last ? painted : painted + ' '.repeat(Math.max(widths[i]! - displayWidth(text), 0) + GAP);
  }
  return out.trimEnd();
}

// Printable ASCII and the ellipsis of a cut cell: one cell per UTF-16 unit, no lookup needed.
const PRINTABLE_ASCII = /^[\x20-\x7e\u2026]*$/;

// Text whose every code point is a cluster of its own whose width is its East Asian Width (no
// marks, joiners, variation selectors, emoji, flags, Hangul jamo or fillers, format or control
// characters): Latin, Cyrillic, CJK ideographs, kana, Hangul syllables. Summed per code point it
// is ~50× faster than string-width's grapheme analysis and agrees with it on every code point
// (test/output/render.test.ts); anything else goes to string-width.
const SIMPLE = /^[^\p{M}\p{Cf}\p{Cc}\p{Cs}\p{Co}\p{Cn}\p{Extended_Pictographic}\p{Regional_Indicator}\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\ufe00-\ufe0f\u3164\uffa0]*$/u;

/**
 * Terminal cells, not characters: CJK and emoji take 2, combining marks 0 (the Unicode East Asian
 * Width and emoji data, via get-east-asian-width and string-width). Printable ASCII skips the lookup.
 */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  if (!SIMPLE.test(text)) return stringWidth(text);
  let n = 0;
  for (const ch of text) n += eastAsianWidth(ch.codePointAt(0)!);
  return n;
}

function tapped<T>(records: AsyncIterable<T> | Iterable<T>, tap: (record: T) => void): AsyncIterable<T> | Iterable<T> {
  if (Symbol.asyncIterator in records) {
    const source = records as AsyncIterable<T>;
    return {
      [Symbol.asyncIterator]() {
        const it = source[Symbol.asyncIterator]();
        return {
          async next() {
            const r = await it.next();
            if (!r.done) tap(r.value);
            return r;
          },
          return: it.return ? (v?: unknown) => it.return!(v) : undefined,
        } as AsyncIterator<T>;
      },
    };
  }
  return (function* () {
    for (const r of records as Iterable<T>) {
      tap(r);
      yield r;
    }
  })();
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/**
 * Batches small writes into ~64 KiB chunks and waits for 'drain' when the pipe is full,
 * so a fast producer never piles the whole listing up in the stream's buffer.
 */
export class StreamWriter {
  closed = false;
  private chunks: string[] = [];
  private size = 0;
  constructor(
    private readonly out: OutStream,
    private readonly limit = 1 << 16,
  ) {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') this.closed = true;
    };
    if (typeof out.on === 'function' && !out.listeners('error').length) out.on('error', onError);
  }

  async write(text: string): Promise<void> {
    const flushing = this.add(text);
    if (flushing) await flushing;
  }

  /** write() that gives a promise only when it flushes: a listing of 100,000 records awaits only those. */
  add(text: string): Promise<void> | undefined {
    if (this.closed) throw new Error('output closed');
    this.chunks.push(text);
    this.size += text.length;
    return this.size >= this.limit ? this.flush() : undefined;
  }

  async flush(): Promise<void> {
    if (this.size === 0 || this.closed) return;
    const data = this.chunks.join('');
    this.chunks = [];
    this.size = 0;
    if (!this.out.write(data)) await this.drained();
  }

  /** Waits for 'drain' (or the stream closing/failing), leaving no listener behind. */
  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        this.out.off('drain', onDrain);
        this.out.off('close', onDrain);
        this.out.off('error', done);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = () => done();
      this.out.on('drain', onDrain);
      this.out.on('close', onDrain);
      this.out.on('error', done);
    });
  }
}
