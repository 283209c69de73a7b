// Repositories write `?` placeholders (the portable subset, see ../engine.ts); PostgreSQL wants
// $1, $2, …. A `?` inside a string literal, a quoted identifier or a comment is text, not a
// placeholder, so the scan follows SQL's lexical rules for those.

export interface NumberedSql {
  text: string;
  /** How many parameters the statement takes. */
  count: number;
}

export function numberPlaceholders(sql: string): NumberedSql {
  let out = '';
  let count = 0;
  let i = 0;
  let from = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === '?') {
      out += sql.slice(from, i) + '$' + ++count;
      from = ++i;
    } else if (c === "'") {
      // E'…' strings take backslash escapes; standard strings only double the quote.
      const escapes = i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && (i < 2 || !/[A-Za-z0-9_]/.test(sql[i - 2]));
      i = skipQuoted(sql, i + 1, "'", escapes);
    } else if (c === '"') {
      i = skipQuoted(sql, i + 1, '"', false);
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      i = skipBlockComment(sql, i + 2);
    } else if (c === '$' && (i === 0 || !/[A-Za-z0-9_]/.test(sql[i - 1]))) {
      // Dollar quoting: $$…$$ or $tag$…$tag$ ($1 is a parameter, never a tag).
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        const end = sql.indexOf(m[0], i + m[0].length);
        i = end < 0 ? n : end + m[0].length;
      } else i++;
    } else i++;
  }
  return { text: out + sql.slice(from), count };
}

function skipQuoted(sql: string, i: number, quote: string, backslashEscapes: boolean): number {
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') i += 2;
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return i;
}

// PostgreSQL block comments nest.
function skipBlockComment(sql: string, i: number): number {
  let depth = 1;
  while (i < sql.length && depth > 0) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
    } else i++;
  }
  return i;
}
