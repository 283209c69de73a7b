// Light checks that a response has the shape the caller is about to rely on. Not a full schema
// check: enough that a wrong server, a proxy's error page or a version mismatch surfaces as a
// clear 'protocol' error instead of `cannot read properties of undefined` three layers up.

/** Returns a description of what is wrong, or undefined when the value fits. */
export type ShapeCheck = (value: unknown) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const anyValue: ShapeCheck = () => undefined;

export function object(...requiredKeys: string[]): ShapeCheck {
  return (v) => {
    if (!isObject(v)) return `expected a JSON object, got ${describe(v)}`;
    const missing = requiredKeys.filter((k) => !(k in v));
    return missing.length ? `the response lacks ${missing.join(', ')}` : undefined;
  };
}

/** `{ items: [...] , nextCursor?: string }`; each item checked with `item`. */
export function page(item: ShapeCheck = object()): ShapeCheck {
  return (v) => {
    if (!isObject(v)) return `expected a JSON object with items[], got ${describe(v)}`;
    if (!Array.isArray(v.items)) return 'the response lacks items[]';
    if (v.nextCursor !== undefined && v.nextCursor !== null && typeof v.nextCursor !== 'string') return 'nextCursor is not a string';
    for (let i = 0; i < v.items.length; i++) {
      const problem = item(v.items[i]);
      if (problem) return `items[${i}]: ${problem}`;
    }
    return undefined;
  };
}

/** `{ [key]: [...] }`. */
export function listIn(key: string, item: ShapeCheck = object()): ShapeCheck {
  return (v) => {
    if (!isObject(v) || !Array.isArray(v[key])) return `expected a JSON object with ${key}[], got ${describe(v)}`;
    const list = v[key] as unknown[];
    for (let i = 0; i < list.length; i++) {
      const problem = item(list[i]);
      if (problem) return `${key}[${i}]: ${problem}`;
    }
    return undefined;
  };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : typeof v;
}
