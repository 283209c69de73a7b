// Google's own published schema of the Android Management API, as a body check for the tests.
// The discovery document (../shared/vendor-specs, beside the project, never copied into it) is
// read at test time and its `schemas` converted to JSON Schema, so a body emmctl builds or a fake
// server answers is held to what Google documents, not to what we believe it says:
//  - an object that declares `properties` takes no other member (`additionalProperties: false`),
//    so a misspelled field fails instead of being ignored as Google's server would ignore it;
//  - an object with `additionalProperties` is a map whose values are checked;
//  - `type: any` is anything;
//  - int64/uint64 travel as decimal strings (proto3 JSON), int32/uint32 as integers in range,
//    google-duration as "<seconds>s", google-datetime as RFC 3339 with a zone, byte as base64;
//  - enums are closed.
// The discovery format marks nothing as required (only descriptions say "Required"), so neither
// does the conversion: presence is for each test to assert.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ROOT } from '../helpers/cli.js';
import { didYouMean } from '../../src/model/suggest.js';

export const VENDOR_SPECS = resolve(ROOT, '..', 'shared', 'vendor-specs');
export const DISCOVERY_FILE = join(VENDOR_SPECS, 'android-management-v1.discovery.json');

/** Whether Google's discovery document is beside the project; suites skip their schema checks when not. */
export function specsAvailable(): boolean {
  return existsSync(DISCOVERY_FILE);
}

/** A discovery-format schema or property (the subset the AMAPI document uses). */
export interface DiscoverySchema {
  id?: string;
  type?: string;
  format?: string;
  $ref?: string;
  enum?: string[];
  items?: DiscoverySchema;
  properties?: Record<string, DiscoverySchema>;
  additionalProperties?: DiscoverySchema;
  description?: string;
  readOnly?: boolean;
  deprecated?: boolean;
}

export interface DiscoveryDocument {
  revision: string;
  schemas: Record<string, DiscoverySchema>;
  resources: Record<string, unknown>;
}

export type JsonSchema = Record<string, unknown>;

const SCHEMA_ID = 'https://androidmanagement.googleapis.com/$discovery/schemas';

// proto3 JSON: 64-bit integers are strings of decimal digits.
const INT64 = '^-?(0|[1-9][0-9]*)$';
const UINT64 = '^(0|[1-9][0-9]*)$';
// google.protobuf.Duration in JSON: seconds with up to nine fractional digits and an "s".
const DURATION = '^-?(0|[1-9][0-9]*)(\\.[0-9]{1,9})?s$';
// google.protobuf.Timestamp in JSON: RFC 3339, "Z" or an offset, up to nine fractional digits.
const DATETIME = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$';
// bytes in JSON: standard or URL-safe base64, padded or not.
const BYTES = '^[A-Za-z0-9+/_-]*={0,2}$';
const INT32 = { minimum: -2147483648, maximum: 2147483647 };
const UINT32 = { minimum: 0, maximum: 4294967295 };

/** One discovery property or schema as JSON Schema (draft-07, refs into `definitions`). */
export function convertSchema(s: DiscoverySchema, where: string): JsonSchema {
  if (s.$ref !== undefined) return { $ref: `#/definitions/${s.$ref}` };
  const out: JsonSchema = {};
  switch (s.type) {
    case 'any':
      return {};
    case 'string':
      out.type = 'string';
      if (s.format === 'int64') out.pattern = INT64;
      else if (s.format === 'uint64') out.pattern = UINT64;
      else if (s.format === 'google-duration') out.pattern = DURATION;
      else if (s.format === 'google-datetime') out.pattern = DATETIME;
      else if (s.format === 'byte') out.pattern = BYTES;
      else if (s.format !== undefined && s.format !== 'google-fieldmask' && s.format !== 'date') throw new Error(`${where}: string format ${s.format} is not converted`);
      if (s.enum) out.enum = [...s.enum];
      return out;
    case 'integer':
      out.type = 'integer';
      if (s.format === 'int32') Object.assign(out, INT32);
      else if (s.format === 'uint32') Object.assign(out, UINT32);
      else if (s.format !== undefined) throw new Error(`${where}: integer format ${s.format} is not converted`);
      return out;
    case 'number':
      return { type: 'number' };
    case 'boolean':
      return { type: 'boolean' };
    case 'array':
      if (!s.items) throw new Error(`${where}: array without items`);
      return { type: 'array', items: convertSchema(s.items, `${where}[]`) };
    case 'object':
    case undefined: {
      if (s.properties === undefined && s.additionalProperties === undefined) {
        if (s.type === undefined) throw new Error(`${where}: neither type nor $ref`);
        return { type: 'object' };
      }
      out.type = 'object';
      if (s.properties !== undefined) {
        out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, convertSchema(v, `${where}.${k}`)]));
        out.additionalProperties = s.additionalProperties ? convertSchema(s.additionalProperties, `${where}.*`) : false;
      } else {
        out.additionalProperties = convertSchema(s.additionalProperties!, `${where}.*`);
      }
      return out;
    }
    default:
      throw new Error(`${where}: type ${s.type} is not converted`);
  }
}

/** Every discovery schema as one JSON Schema document with the schemas under `definitions`. */
export function convertDiscovery(doc: DiscoveryDocument): JsonSchema {
  const definitions: Record<string, JsonSchema> = {};
  for (const [name, schema] of Object.entries(doc.schemas)) definitions[name] = convertSchema(schema, name);
  return { $id: SCHEMA_ID, definitions };
}

export interface SchemaProblem {
  /** Where in the body: `body.passwordPolicies[0].passwordScope`. */
  path: string;
  message: string;
}

interface Loaded {
  doc: DiscoveryDocument;
  ajv: Ajv;
  validators: Map<string, ValidateFunction>;
}
let loaded: Loaded | undefined;

/** The parsed discovery document (throws when the specs are absent: guard with specsAvailable). */
export function discovery(): DiscoveryDocument {
  return load().doc;
}

function load(): Loaded {
  if (loaded) return loaded;
  const doc = JSON.parse(readFileSync(DISCOVERY_FILE, 'utf8')) as DiscoveryDocument;
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
  ajv.addSchema(convertDiscovery(doc));
  loaded = { doc, ajv, validators: new Map() };
  return loaded;
}

/**
 * The problems of `body` against the discovery schema `schemaName` (Policy, Device,
 * EnrollmentToken, Operation, ...): empty when it conforms. Each names the path and says what is
 * wrong, with a "did you mean" for a misspelled field.
 */
export function checkAmapi(schemaName: string, body: unknown): SchemaProblem[] {
  const l = load();
  if (!(schemaName in l.doc.schemas)) throw new Error(`the discovery document has no schema ${schemaName}`);
  let validate = l.validators.get(schemaName);
  if (!validate) {
    validate = l.ajv.getSchema(`${SCHEMA_ID}#/definitions/${schemaName}`)!;
    l.validators.set(schemaName, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map(describe);
}

function describe(e: ErrorObject): SchemaProblem {
  const path = 'body' + e.instancePath.split('/').slice(1).map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`)).join('');
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = (e.params as { additionalProperty: string }).additionalProperty;
      // verbose: the (converted) schema of the object, whose declared fields are the candidates.
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const hint = didYouMean(field, known);
      return { path: `${path}.${field}`, message: `unknown field "${field}"${hint ? ` (did you mean "${hint}"?)` : ''}` };
    }
    case 'enum':
      return { path, message: `${JSON.stringify(e.data)} is not one of ${(e.params as { allowedValues: string[] }).allowedValues.join(', ')}` };
    case 'type':
      return { path, message: `must be ${e.params.type === 'integer' ? 'an integer' : `a${/^[aeiou]/.test(String(e.params.type)) ? 'n' : ''} ${e.params.type}`} (got ${typeName(e.data)})` };
    case 'pattern':
      return { path, message: `${JSON.stringify(e.data)} is not in the wire format (${patternName(String(e.params.pattern))})` };
    default:
      return { path, message: `${e.message ?? 'is invalid'} (got ${JSON.stringify(e.data)})` };
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && Number.isInteger(v)) return `the number ${v}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function patternName(pattern: string): string {
  if (pattern === INT64 || pattern === UINT64) return 'a 64-bit integer as a decimal string';
  if (pattern === DURATION) return 'a duration in seconds such as "3.5s"';
  if (pattern === DATETIME) return 'an RFC 3339 timestamp with zone';
  if (pattern === BYTES) return 'base64';
  return `pattern ${pattern}`;
}
