// Schema validation: the build-time compiled validator (or ajv at run time when unbundled),
// and the translation of ajv's errors into messages a person can act on, at the right key.
import type { ErrorObject } from 'ajv';
import schemaJson from '../../schema/emmctl.schema.json' with { type: 'json' };
import { didYouMean } from '../model/suggest.js';
import { pathString, type DocPath, type Problem, type SourcePosition } from './types.js';

export type SchemaValidator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

export const schema = schemaJson as unknown as JsonSchema;

interface JsonSchema {
  [k: string]: unknown;
  properties?: Record<string, JsonSchema>;
  $defs?: Record<string, JsonSchema>;
  description?: string;
  $ref?: string;
}

let validator: Promise<SchemaValidator> | undefined;

export function schemaValidator(): Promise<SchemaValidator> {
  validator ??= (async () => {
    try {
      const m = (await import('emmctl:schema-validator')) as unknown as { default: SchemaValidator };
      return m.default;
    } catch {
      // Unbundled (unit tests): compile with the same options the build uses.
      const { default: Ajv2020 } = (await import('ajv/dist/2020.js')) as unknown as { default: new (o: object) => { compile(s: object): SchemaValidator } };
      return new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schemaJson);
    }
  })();
  return validator;
}

type Locate = (path: DocPath, target?: 'key' | 'value') => SourcePosition;

/** ajv errors → problems at the offending key or value, deduplicated, noise dropped. */
export function schemaProblems(errors: readonly ErrorObject[], value: unknown, locate: Locate): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  // A document whose `kind` is wrong gets one error for it, not one per then-branch.
  for (const e of errors) {
    const t = translate(e, value);
    if (!t) continue;
    const at = locate(t.path, t.target);
    const key = `${at.line}:${at.column}:${t.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ...at, path: pathString(t.path), message: t.message, rule: `schema/${t.rule ?? e.keyword.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, severity: 'error' });
  }
  return out;
}

function parsePointer(p: string): Array<string | number> {
  if (!p) return [];
  return p.slice(1).split('/').map((s) => {
    const k = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(k) ? Number(k) : k;
  });
}

function valueAt(root: unknown, path: DocPath): unknown {
  let v = root;
  for (const seg of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[seg] : undefined;
  return v;
}

const defs = schema.$defs ?? {};

function deref(node: JsonSchema | undefined): { node: JsonSchema | undefined; ref?: string } {
  let ref: string | undefined;
  let n = node;
  for (let i = 0; n?.$ref && i < 10; i++) {
    ref = n.$ref.split('/').pop()!;
    n = defs[ref];
  }
  return { node: n, ref };
}

// The kind-specific schema of `spec`, read from the schema's own if/then dispatch on kind.
const SPEC_BY_KIND: Record<string, JsonSchema> = {};
for (const branch of (schema.allOf ?? []) as Array<{ if?: { properties?: { kind?: { const?: string } } }; then?: JsonSchema }>) {
  const kind = branch.if?.properties?.kind?.const;
  const spec = deref(branch.then).node?.properties?.spec;
  if (kind && spec) SPEC_BY_KIND[kind] = spec;
}

/**
 * The schema that applies at `path` of `doc` (and the name of the $def it came from). ajv's own
 * schemaPath is relative to the last $ref, so it cannot say which definition failed.
 */
export function schemaAtPath(doc: unknown, path: DocPath): { node: JsonSchema | undefined; ref?: string } {
  let cur = deref(schema as JsonSchema);
  for (const [i, seg] of path.entries()) {
    const n = cur.node;
    if (!n) return cur;
    let next: JsonSchema | undefined;
    if (i === 0 && seg === 'spec') {
      const kind = (doc as { kind?: unknown } | null)?.kind;
      next = typeof kind === 'string' ? SPEC_BY_KIND[kind] : undefined;
    }
    next ??= typeof seg === 'number' ? (n.items as JsonSchema | undefined) : n.properties?.[seg] ?? (typeof n.additionalProperties === 'object' ? (n.additionalProperties as JsonSchema) : undefined);
    cur = deref(next);
    if (next && !next.$ref) cur.ref = undefined;
    if (next?.description && cur.node && !cur.node.description) cur = { ...cur, node: { ...cur.node, description: next.description } };
  }
  return cur;
}

const show = (v: unknown) => (typeof v === 'string' ? `"${v}"` : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : String(v));
const typeName = (t: string) => ({ object: 'a mapping', array: 'a list', string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false', null: 'null' })[t] ?? t;
const actualType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v === 'string' ? `the string ${show(v)}` : typeof v === 'number' ? `the number ${v}` : `${typeof v} ${String(v)}`);

const PATTERN_HINTS: Record<string, (v: string) => string> = {
  Name: (v) => `invalid name "${v}": use 1 to 63 lower-case letters, digits and "-", starting and ending with a letter or digit`,
  GroupRef: (v) => `invalid group name "${v}": use 1 to 63 lower-case letters, digits and "-", starting and ending with a letter or digit`,
  Duration: (v) => `invalid duration "${v}": write days, hours, minutes, seconds in that order, like 0d, 3d, 12h, 1d12h, 90m`,
  OsVersion: (v) => `invalid version "${v}": use dotted numbers like 13, 17.4.1 or 10.0.19045`,
  AppId: (v) => `invalid app id "${v}": use a package name or bundle id like com.microsoft.teams`,
  SecretRef: () => 'secrets may not be written in policy files: use a reference like ${env:WIFI_PSK}, read from the environment at plan/apply time',
};

interface Translated {
  path: DocPath;
  target: 'key' | 'value';
  message: string;
  rule?: string;
}

function translate(e: ErrorObject, root: unknown): Translated | undefined {
  const path = parsePointer(e.instancePath);
  const at = () => schemaAtPath(root, path);
  const value = valueAt(root, path);
  const p = e.params as Record<string, unknown>;
  const where = path.length ? ` in ${pathString(path)}` : '';
  // The subschema errors of propertyNames repeat what its own error says about the key.
  if ((e as { propertyName?: string }).propertyName !== undefined && e.keyword !== 'propertyNames') return undefined;
  switch (e.keyword) {
    case 'if':
    case 'allOf':
      return undefined;
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      const allowed = Object.keys(at().node?.properties ?? {});
      const guess = didYouMean(name, allowed);
      return {
        path: [...path, name],
        target: 'key',
        rule: 'unknown-field',
        message: `unknown field "${name}"${where}${guess ? ` (did you mean "${guess}"?)` : allowed.length ? `; allowed: ${allowed.join(', ')}` : ''}`,
      };
    }
    case 'required':
      return { path, target: 'key', rule: 'missing-field', message: `missing required field "${String(p.missingProperty)}"${path.length ? where : ' in the document'}` };
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      const guess = typeof value === 'string' ? didYouMean(value, allowed) : undefined;
      const last = path[path.length - 1];
      const what = typeof last === 'number' ? `value ${show(value)} in ${String(path[path.length - 2])}` : `${last ?? 'value'} ${show(value)}`;
      return { path, target: 'value', message: `invalid ${what}: must be one of ${allowed.join(', ')}${guess ? ` (did you mean "${guess}"?)` : ''}` };
    }
    case 'const':
      return { path, target: 'value', message: `${pathString(path) || 'value'} must be ${show(p.allowedValue)} (got ${show(value)})` };
    case 'type':
      return { path, target: 'value', message: `${pathString(path) || 'document'} must be ${String(p.type).split(',').map(typeName).join(' or ')}, not ${actualType(value)}` };
    case 'pattern': {
      const { node, ref } = at();
      const hint = ref ? PATTERN_HINTS[ref] : undefined;
      if (hint) return { path, target: 'value', message: hint(String(value)), rule: 'pattern' };
      // List items carry no description of their own: the list's says what they must be.
      const desc = node?.description ?? (typeof path[path.length - 1] === 'number' ? schemaAtPath(root, path.slice(0, -1)).node?.description : undefined);
      return { path, target: 'value', message: `invalid value ${show(value)}${where}${desc ? `: ${desc}` : `: must match ${String(p.pattern)}`}` };
    }
    case 'propertyNames':
      return { path: [...path, String(p.propertyName)], target: 'key', message: `invalid label key "${String(p.propertyName)}": use letters, digits, ".", "_", "/" and "-", at most 63 characters, starting and ending with a letter or digit` };
    case 'minimum':
    case 'exclusiveMinimum':
      return { path, target: 'value', message: `${pathString(path)} must be at least ${String(p.limit)} (got ${show(value)})` };
    case 'maximum':
    case 'exclusiveMaximum':
      return { path, target: 'value', message: `${pathString(path)} must be at most ${String(p.limit)} (got ${show(value)})` };
    case 'minLength':
      return { path, target: 'value', message: `${pathString(path)} must be at least ${String(p.limit)} character${p.limit === 1 ? '' : 's'} long` };
    case 'maxLength':
      return { path, target: 'value', message: `${pathString(path)} must be at most ${String(p.limit)} characters long` };
    case 'minItems':
      return { path, target: 'value', message: `${pathString(path)} must list at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}` };
    case 'maxItems':
      return { path, target: 'value', message: `${pathString(path)} may list at most ${String(p.limit)} items` };
    case 'uniqueItems': {
      const j = Number(p.j);
      const i = Number(p.i);
      const item = Array.isArray(value) ? value[i] : undefined;
      return { path: [...path, Math.max(i, j)], target: 'value', message: `duplicate item ${show(item)} in ${pathString(path)}` };
    }
    case 'minProperties':
      return { path, target: 'value', message: `${pathString(path) || 'document'} must not be empty` };
    case 'maxProperties':
      // GroupSpec says "match or devices, not both" as maxProperties 1 (a `not: {required}` fails ajv's strictRequired).
      if (at().ref === 'GroupSpec') return { path, target: 'key', message: 'a Group has either "match" or "devices", not both', rule: 'group-match-or-devices' };
      return { path, target: 'value', message: `${pathString(path) || 'document'} may have at most ${String(p.limit)} field${p.limit === 1 ? '' : 's'}` };
    case 'not':
      return { path, target: 'value', message: `${pathString(path)} is not allowed here` };
    default:
      return { path, target: 'value', message: `${pathString(path) || 'document'} ${e.message ?? 'is invalid'}` };
  }
}
