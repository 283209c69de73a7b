// A listing page on the wire with one record per line: `{"items":[\n` REC `,\n` REC … `\n]` and
// the rest of the page (nextCursor) after it. Still one JSON document to any client; for the CLI
// it means a record's text can be printed as it came (`-o json`) instead of parsed and written
// again, about a third of the CLI's work on a 100,000-device listing. JSON.stringify never puts a
// raw newline inside a value, so the lines are the records. The server writes it, the HTTP
// backend reads it; both halves are here so the layout is written once.

interface Paged {
  items: readonly unknown[];
  nextCursor?: string;
}

const HEAD = '{"items":[\n';
const SEP = ',\n';

/** The page as JSON, one record per line (JSON.stringify of each), equal in meaning to JSON.stringify(page). */
export function linedPageJson(page: Paged): string {
  const { items, ...rest } = page;
  const tail = JSON.stringify(rest);
  const after = tail === '{}' ? '}' : `,${tail.slice(1)}`;
  if (items.length === 0) return `{"items":[]${after}`;
  let text = HEAD;
  for (let i = 0; i < items.length; i++) text += (i === 0 ? '' : SEP) + JSON.stringify(items[i]);
  return `${text}\n]${after}`;
}

/** The text each record of a lined page was parsed from (see recordText). */
const texts = new WeakMap<object, string>();

/**
 * A body in linedPageJson's layout, parsed line by line, each record object remembering its line
 * (recordText); undefined for anything else (parse it whole then): the items of the result are
 * exactly what JSON.parse of the whole text gives, or it is undefined.
 */
export function parseLinedPage(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith(HEAD)) return undefined;
  const close = text.lastIndexOf('\n]');
  if (close < HEAD.length) return undefined;
  const tail = text.slice(close + 2);
  // A second "items" after the lines would be the one JSON.parse keeps.
  if (tail.includes('"items"')) return undefined;
  try {
    const page = JSON.parse(`{"items":[]${tail}`) as unknown;
    if (page === null || typeof page !== 'object' || Array.isArray(page)) return undefined;
    const lines = text.slice(HEAD.length, close).split(SEP);
    const items: unknown[] = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const item = JSON.parse(line) as unknown;
      // Kept only as JSON.stringify writes an object: no space around it.
      if (item !== null && typeof item === 'object' && line.charCodeAt(0) === 0x7b && line.charCodeAt(line.length - 1) === 0x7d) texts.set(item, line);
      items[i] = item;
    }
    (page as Record<string, unknown>).items = items;
    return page as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * The line a record of a lined page came as (from an emmctl server: JSON.stringify of the
 * record, so the same text); undefined for any other value. The record must not be changed
 * after it was parsed.
 */
export function recordText(record: unknown): string | undefined {
  return record !== null && typeof record === 'object' ? texts.get(record) : undefined;
}
