// Small checks for request bodies and query strings: each failure is a 400 naming the field.
import { badRequest } from './router.js';

type Body = Record<string, unknown>;

export function optionalString(body: Body, key: string, where = 'body'): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${where}.${key} must be a string`);
  return v;
}

export function requiredString(body: Body, key: string, where = 'body'): string {
  const v = optionalString(body, key, where);
  if (v === undefined || v === '') throw badRequest(`${where}.${key} is required (a non-empty string)`);
  return v;
}

export function optionalInt(body: Body, key: string, min: number, max = Number.MAX_SAFE_INTEGER, where = 'body'): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw badRequest(`${where}.${key} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
  }
  return v;
}

export function optionalBoolean(body: Body, key: string, where = 'body'): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${where}.${key} must be true or false`);
  return v;
}

export function requiredArray(body: Body, key: string, where = 'body'): unknown[] {
  const v = body[key];
  if (!Array.isArray(v)) throw badRequest(`${where}.${key} is required (an array)`);
  return v;
}

export function isObject(v: unknown): v is Body {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw badRequest(`${what} must be one of ${allowed.join(', ')} (got "${value}")`);
  return value as T;
}

/** Rejects query parameters a route does not know, so a typo (`filters=`) is not silently ignored. */
export function checkQuery(query: URLSearchParams, allowed: readonly string[]): void {
  for (const key of query.keys()) {
    if (!allowed.includes(key)) {
      throw badRequest(`unknown query parameter "${key}"${allowed.length ? `; this route takes ${allowed.join(', ')}` : ''}`);
    }
  }
}

export function single(query: URLSearchParams, key: string): string | undefined {
  const all = query.getAll(key);
  if (all.length > 1) throw badRequest(`query parameter "${key}" given ${all.length} times`);
  return all[0];
}

export const MAX_PAGE_SIZE = 1000;

export function queryLimit(query: URLSearchParams): number | undefined {
  const text = single(query, 'limit');
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_PAGE_SIZE) throw badRequest(`limit must be an integer from 1 to ${MAX_PAGE_SIZE} (got "${text}")`);
  return n;
}

