// The OData query options the fake Graph understands: $filter (a parser for the subset Graph
// documents, evaluated against records), $select and $expand. A collection declares which
// properties and functions its $filter supports, as Graph services do, and anything else is
// refused with the service's error instead of being silently ignored.

export type FilterNode =
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; operand: FilterNode }
  | { kind: 'cmp'; op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; property: string; value: Literal }
  | { kind: 'in'; property: string; values: Literal[] }
  | { kind: 'fn'; fn: 'startswith' | 'endswith' | 'contains'; property: string; value: string }
  | { kind: 'any'; property: string; op: 'eq' | 'ne'; value: Literal };

export type Literal = string | number | boolean | null;

export class FilterError extends Error {}

interface Token {
  t: 'ident' | 'string' | 'number' | 'punct' | 'bare';
  v: string;
  at: number;
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === "'") {
      let s = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new FilterError(`unterminated string literal at position ${i}`);
        if (src[j] === "'") {
          if (src[j + 1] === "'") {
            s += "'";
            j += 2;
            continue;
          }
          break;
        }
        s += src[j];
        j++;
      }
      out.push({ t: 'string', v: s, at: i });
      i = j + 1;
      continue;
    }
    if ('(),:/'.includes(c)) {
      out.push({ t: 'punct', v: c, at: i });
      i++;
      continue;
    }
    // Unquoted literals (numbers, DateTimeOffset, GUIDs) and identifiers.
    const m = /^[A-Za-z0-9_.:+-]+/.exec(src.slice(i));
    if (!m) throw new FilterError(`unexpected character '${c}' at position ${i}`);
    let word = m[0];
    // An identifier must not swallow ':' (lambda variable) — only literals with digits first keep it.
    if (/^[A-Za-z_]/.test(word) && word.includes(':')) word = word.slice(0, word.indexOf(':'));
    const t: Token['t'] = /^-?\d+(\.\d+)?$/.test(word) ? 'number' : /^[A-Za-z_][\w.]*$/.test(word) ? 'ident' : 'bare';
    out.push({ t, v: word, at: i });
    i += word.length;
  }
  return out;
}

/** Parses an OData $filter expression (the Graph subset: comparisons, and/or/not, in, startswith/endswith/contains, any). */
export function parseFilter(src: string): FilterNode {
  const toks = tokenize(src);
  let p = 0;
  const peek = (): Token | undefined => toks[p];
  const next = (): Token => {
    const t = toks[p++];
    if (!t) throw new FilterError('unexpected end of filter');
    return t;
  };
  const expect = (v: string): void => {
    const t = next();
    if (t.v !== v) throw new FilterError(`expected '${v}' at position ${t.at}, found '${t.v}'`);
  };
  const literal = (): Literal => {
    const t = next();
    if (t.t === 'string') return t.v;
    if (t.t === 'number') return Number(t.v);
    if (t.t === 'ident' && (t.v === 'true' || t.v === 'false')) return t.v === 'true';
    if (t.t === 'ident' && t.v === 'null') return null;
    if (t.t === 'bare' || t.t === 'ident') return t.v; // DateTimeOffset / GUID literals are unquoted
    throw new FilterError(`expected a literal at position ${t.at}, found '${t.v}'`);
  };
  const primary = (): FilterNode => {
    const t = next();
    if (t.v === '(') {
      const e = or();
      expect(')');
      return e;
    }
    if (t.t === 'ident' && t.v === 'not') return { kind: 'not', operand: primary() };
    if (t.t === 'ident' && ['startswith', 'endswith', 'contains'].includes(t.v.toLowerCase()) && peek()?.v === '(') {
      expect('(');
      const prop = next();
      if (prop.t !== 'ident') throw new FilterError(`expected a property name at position ${prop.at}`);
      expect(',');
      const v = next();
      if (v.t !== 'string') throw new FilterError(`expected a string literal at position ${v.at}`);
      expect(')');
      return { kind: 'fn', fn: t.v.toLowerCase() as 'startswith', property: prop.v, value: v.v };
    }
    if (t.t !== 'ident') throw new FilterError(`expected a property name at position ${t.at}, found '${t.v}'`);
    if (peek()?.v === '/') {
      next();
      const any = next();
      if (any.v !== 'any') throw new FilterError(`only the any() lambda is supported (position ${any.at})`);
      expect('(');
      const variable = next().v;
      expect(':');
      const v2 = next();
      if (v2.v !== variable) throw new FilterError(`expected lambda variable '${variable}' at position ${v2.at}`);
      const op = next().v;
      if (op !== 'eq' && op !== 'ne') throw new FilterError(`expected eq or ne in any() at position ${v2.at}`);
      const value = literal();
      expect(')');
      return { kind: 'any', property: t.v, op, value };
    }
    const op = next();
    if (op.v === 'in') {
      expect('(');
      const values: Literal[] = [literal()];
      while (peek()?.v === ',') {
        next();
        values.push(literal());
      }
      expect(')');
      return { kind: 'in', property: t.v, values };
    }
    if (!['eq', 'ne', 'gt', 'ge', 'lt', 'le'].includes(op.v)) throw new FilterError(`unknown operator '${op.v}' at position ${op.at}`);
    return { kind: 'cmp', op: op.v as 'eq', property: t.v, value: literal() };
  };
  const and = (): FilterNode => {
    let left = primary();
    while (peek()?.v === 'and') {
      next();
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  const or = (): FilterNode => {
    let left = and();
    while (peek()?.v === 'or') {
      next();
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  if (toks.length === 0) throw new FilterError('empty filter');
  const e = or();
  if (p < toks.length) throw new FilterError(`unexpected '${toks[p]!.v}' at position ${toks[p]!.at}`);
  return e;
}

/** What a collection's $filter supports: properties (with their kind) and functions. */
export interface FilterSupport {
  properties: Record<string, 'string' | 'boolean' | 'number' | 'datetime' | 'collection'>;
  functions: Array<'startswith' | 'endswith' | 'contains'>;
  in?: boolean;
}

/** The first unsupported part of a parsed filter, as a message, or undefined. */
export function unsupported(node: FilterNode, support: FilterSupport): { property?: string; message: string } | undefined {
  switch (node.kind) {
    case 'and':
    case 'or':
      return unsupported(node.left, support) ?? unsupported(node.right, support);
    case 'not':
      return unsupported(node.operand, support);
    case 'fn':
      if (!support.functions.includes(node.fn)) return { property: node.property, message: `the function ${node.fn}() is not supported here` };
      if (support.properties[node.property] !== 'string') return { property: node.property, message: `${node.fn}() on property '${node.property}' is not supported` };
      return undefined;
    case 'in':
      if (!support.in) return { property: node.property, message: `the 'in' operator is not supported here` };
      return support.properties[node.property] ? undefined : { property: node.property, message: `filtering on property '${node.property}' is not supported` };
    case 'any':
      return support.properties[node.property] === 'collection' ? undefined : { property: node.property, message: `any() on property '${node.property}' is not supported` };
    case 'cmp': {
      const kind = support.properties[node.property];
      if (!kind || kind === 'collection') return { property: node.property, message: `filtering on property '${node.property}' is not supported` };
      if (kind === 'string' && node.op !== 'eq' && node.op !== 'ne' && !(node.op === 'ge' || node.op === 'le')) {
        return { property: node.property, message: `operator '${node.op}' on property '${node.property}' is not supported` };
      }
      return undefined;
    }
  }
}

function cmpValues(a: unknown, b: Literal): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const da = Date.parse(a), db = Date.parse(b);
    if (/^\d{4}-\d{2}-\d{2}T/.test(a) && /^\d{4}-\d{2}-\d{2}T/.test(b) && !Number.isNaN(da) && !Number.isNaN(db)) return da - db;
    return a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return a === b ? 0 : NaN;
}

function equal(a: unknown, b: Literal): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return (a ?? null) === b;
}

/** Evaluates a parsed filter on a record (string comparisons ignore case, as Graph's do). */
export function matches(node: FilterNode, rec: Record<string, unknown>): boolean {
  switch (node.kind) {
    case 'and':
      return matches(node.left, rec) && matches(node.right, rec);
    case 'or':
      return matches(node.left, rec) || matches(node.right, rec);
    case 'not':
      return !matches(node.operand, rec);
    case 'in':
      return node.values.some((v) => equal(rec[node.property], v));
    case 'any': {
      const list = rec[node.property];
      if (!Array.isArray(list)) return false;
      return node.op === 'eq' ? list.some((x) => equal(x, node.value)) : list.some((x) => !equal(x, node.value));
    }
    case 'fn': {
      const v = rec[node.property];
      if (typeof v !== 'string') return false;
      const a = v.toLowerCase(), b = node.value.toLowerCase();
      return node.fn === 'startswith' ? a.startsWith(b) : node.fn === 'endswith' ? a.endsWith(b) : a.includes(b);
    }
    case 'cmp': {
      const v = rec[node.property];
      switch (node.op) {
        case 'eq': return equal(v, node.value);
        case 'ne': return !equal(v, node.value);
        case 'gt': return cmpValues(v, node.value) > 0;
        case 'ge': return cmpValues(v, node.value) >= 0;
        case 'lt': return cmpValues(v, node.value) < 0;
        case 'le': return cmpValues(v, node.value) <= 0;
      }
    }
  }
}

export interface ExpandItem {
  name: string;
  expand: ExpandItem[];
  select?: string[];
}

/** Parses `$expand=a,b($expand=c;$select=x,y)`. */
export function parseExpand(src: string): ExpandItem[] {
  let i = 0;
  const items = (): ExpandItem[] => {
    const out: ExpandItem[] = [];
    for (;;) {
      const m = /^\s*([A-Za-z_][\w]*)\s*/.exec(src.slice(i));
      if (!m) throw new FilterError(`invalid $expand at position ${i}`);
      i += m[0].length;
      const item: ExpandItem = { name: m[1]!, expand: [] };
      if (src[i] === '(') {
        i++;
        for (;;) {
          const opt = /^\s*\$(expand|select)\s*=\s*/.exec(src.slice(i));
          if (!opt) throw new FilterError(`invalid nested option in $expand at position ${i}`);
          i += opt[0].length;
          if (opt[1] === 'expand') item.expand = items();
          else {
            const sel = /^[\w,\s]+/.exec(src.slice(i));
            if (!sel) throw new FilterError(`invalid nested $select at position ${i}`);
            item.select = sel[0].split(',').map((s) => s.trim()).filter(Boolean);
            i += sel[0].length;
          }
          if (src[i] === ';') {
            i++;
            continue;
          }
          break;
        }
        if (src[i] !== ')') throw new FilterError(`expected ')' in $expand at position ${i}`);
        i++;
      }
      out.push(item);
      if (src[i] === ',') {
        i++;
        continue;
      }
      return out;
    }
  };
  const out = items();
  if (i < src.length && src[i] !== ')') throw new FilterError(`unexpected '${src[i]}' in $expand at position ${i}`);
  return out;
}
