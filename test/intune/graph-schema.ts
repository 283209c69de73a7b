// Checks request bodies against Microsoft Graph's own published metadata, so the fake Graph
// refuses what real Graph would refuse and a test cannot pass on a body Graph never accepts.
//
// v1.0: the CSDL document (graph-v1.0-metadata.xml) gives every type with its BaseType,
// Abstract/OpenType flags, property types and Nullable, navigation properties (ContainsTarget),
// enums (IsFlags) and bound actions with their parameters — checked completely.
// beta: Microsoft publishes only type *mappings* for beta (graph-beta-entity-types.json: each entity
// type's own property and navigation names, no types, no BaseType; graph-beta-enum-types.json:
// enum members). So a beta body is checked by property name along the BaseType chain, and by value
// wherever v1.0 declares the same property on the same type (with the enum members taken from
// beta, which often has more). The chain of a beta-only type comes from BETA_ONLY_BASES below,
// because the mapping file carries none; a beta-only type missing there is reported, not guessed.
// Beta complex types are not in the mapping file either: their names are checked only where v1.0
// has the same complex type, and then only the properties v1.0 knows are checked by value.
//
// The files are read from ../shared/vendor-specs (beside the repository, never copied into it).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { editDistance } from '../../src/model/suggest.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * ../shared/vendor-specs beside the repository. In a git worktree (`.git` is a file naming the
 * main repository's git dir) "beside the repository" means beside the main checkout, so a worktree
 * reads the same specs as the checkout it came from.
 */
function findSpecsDir(): string {
  const own = resolve(REPO_ROOT, '..', 'shared', 'vendor-specs');
  if (existsSync(own)) return own;
  try {
    const m = /^gitdir:\s*(.+?)\s*$/m.exec(readFileSync(join(REPO_ROOT, '.git'), 'utf8'));
    const worktrees = m ? m[1]!.lastIndexOf(`${sep}.git${sep}worktrees${sep}`) : -1;
    if (m && worktrees > 0) {
      const mainRoot = m[1]!.slice(0, worktrees);
      const beside = resolve(mainRoot, '..', 'shared', 'vendor-specs');
      if (existsSync(beside)) return beside;
    }
  } catch {
    // Not a worktree (.git is a directory, or absent in an unpacked tarball).
  }
  return own;
}

export const SPECS_DIR = findSpecsDir();
const V1_FILE = join(SPECS_DIR, 'graph-v1.0-metadata.xml');
const BETA_ENTITY_FILE = join(SPECS_DIR, 'graph-beta-entity-types.json');
const BETA_ENUM_FILE = join(SPECS_DIR, 'graph-beta-enum-types.json');

export type GraphVersion = 'v1.0' | 'beta';

export interface SchemaProblem {
  /** Where in the body, e.g. `scheduledActionsForRule[0].scheduledActionConfigurations[0].actionType`; '' for the body itself. */
  path: string;
  expected: string;
  got: string;
}

export interface CheckOptions {
  /** create (POST of a new entity: deep insert of contained navigation properties allowed) or update (PATCH: none). */
  operation?: 'create' | 'update';
}

/** Beta entity types absent from v1.0, with the base type Graph's beta CSDL gives them (the mapping file has no BaseType). */
export const BETA_ONLY_BASES: Readonly<Record<string, string>> = {
  'microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration': 'microsoft.graph.deviceConfiguration',
  'microsoft.graph.androidDeviceOwnerCompliancePolicy': 'microsoft.graph.deviceCompliancePolicy',
  'microsoft.graph.androidDeviceOwnerEnrollmentProfile': 'microsoft.graph.entity',
  'microsoft.graph.aospDeviceOwnerDeviceConfiguration': 'microsoft.graph.deviceConfiguration',
  'microsoft.graph.aospDeviceOwnerCompliancePolicy': 'microsoft.graph.deviceCompliancePolicy',
};

interface PropDef {
  name: string;
  /** Full type name: `Edm.String`, `microsoft.graph.x`; collections unwrapped into `collection`. */
  type: string;
  collection: boolean;
  nullable: boolean;
}

interface NavDef {
  name: string;
  type: string;
  collection: boolean;
  containsTarget: boolean;
}

interface StructuredType {
  kind: 'entity' | 'complex';
  fullName: string;
  baseType?: string;
  abstract: boolean;
  open: boolean;
  props: Map<string, PropDef>;
  navs: Map<string, NavDef>;
}

interface EnumDef {
  fullName: string;
  flags: boolean;
  members: Set<string>;
}

interface ActionDef {
  name: string;
  bindingType: string;
  bindingCollection: boolean;
  params: PropDef[];
}

interface V1Model {
  types: Map<string, StructuredType>;
  enums: Map<string, EnumDef>;
  /** key `${bindingType}/${name}` (collection-bound actions get `Collection(...)`). */
  actions: Map<string, ActionDef>;
  parseMs: number;
}

interface BetaModel {
  entities: Map<string, { props: Set<string>; navs: Set<string> }>;
  enums: Map<string, Set<string>>;
  parseMs: number;
}

export function specsAvailable(): boolean {
  return existsSync(V1_FILE) && existsSync(BETA_ENTITY_FILE) && existsSync(BETA_ENUM_FILE);
}

// ---------------------------------------------------------------------------------------------
// The CSDL reader. The document is regular, machine-written XML: elements with quoted attributes,
// no CDATA, no DTD. A tag scanner with an attribute-aware pattern (an attribute value may hold '>')
// and an element stack is all that is needed; text content (annotation strings) is skipped.

const TAG = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
const ATTR = /([A-Za-z_][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#\d+);/g, (_m, e: string) => {
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
      default: return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

function attrsOf(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of raw.matchAll(ATTR)) out[m[1]!] = decodeEntities(m[2] ?? m[3] ?? '');
  return out;
}

function splitCollection(t: string): { type: string; collection: boolean } {
  const m = /^Collection\((.+)\)$/.exec(t);
  return m ? { type: m[1]!, collection: true } : { type: t, collection: false };
}

export function parseCsdl(xml: string): Omit<V1Model, 'parseMs'> {
  const types = new Map<string, StructuredType>();
  const enums = new Map<string, EnumDef>();
  const actions = new Map<string, ActionDef>();
  const rawActions: Array<{ ns: string; name: string; bound: boolean; params: Array<Record<string, string>> }> = [];
  // Aliases are resolved after the whole document is read: a type may name a schema that comes later.
  const aliases = new Map<string, string>();
  const stack: string[] = [];
  let ns = '';
  let currentType: StructuredType | undefined;
  let currentEnum: EnumDef | undefined;
  let currentAction: (typeof rawActions)[number] | undefined;
  const rawTypes: Array<{ t: StructuredType; ns: string }> = [];

  for (const m of xml.matchAll(TAG)) {
    const name = m[2];
    if (name === undefined) continue; // comment or processing instruction
    const closing = m[1] === '/';
    const selfClosing = m[4] === '/';
    if (closing) {
      const open = stack.pop();
      if (open === 'EntityType' || open === 'ComplexType') currentType = undefined;
      else if (open === 'EnumType') currentEnum = undefined;
      else if (open === 'Action') currentAction = undefined;
      continue;
    }
    const a = attrsOf(m[3] ?? '');
    const parent = stack[stack.length - 1];
    switch (name) {
      case 'Schema':
        ns = a.Namespace ?? '';
        aliases.set(ns, ns);
        if (a.Alias) aliases.set(a.Alias, ns);
        break;
      case 'EntityType':
      case 'ComplexType': {
        const t: StructuredType = {
          kind: name === 'EntityType' ? 'entity' : 'complex',
          fullName: `${ns}.${a.Name}`,
          baseType: a.BaseType,
          abstract: a.Abstract === 'true',
          open: a.OpenType === 'true',
          props: new Map(),
          navs: new Map(),
        };
        rawTypes.push({ t, ns });
        currentType = t;
        break;
      }
      case 'EnumType':
        currentEnum = { fullName: `${ns}.${a.Name}`, flags: a.IsFlags === 'true', members: new Set() };
        enums.set(currentEnum.fullName, currentEnum);
        break;
      case 'Member':
        if (currentEnum && parent === 'EnumType' && a.Name) currentEnum.members.add(a.Name);
        break;
      case 'Property':
        if (currentType && (parent === 'EntityType' || parent === 'ComplexType') && a.Name && a.Type) {
          const { type, collection } = splitCollection(a.Type);
          currentType.props.set(a.Name, { name: a.Name, type, collection, nullable: a.Nullable !== 'false' });
        }
        break;
      case 'NavigationProperty':
        if (currentType && (parent === 'EntityType' || parent === 'ComplexType') && a.Name && a.Type) {
          const { type, collection } = splitCollection(a.Type);
          currentType.navs.set(a.Name, { name: a.Name, type, collection, containsTarget: a.ContainsTarget === 'true' });
        }
        break;
      case 'Action':
        currentAction = { ns, name: a.Name ?? '', bound: a.IsBound === 'true', params: [] };
        rawActions.push(currentAction);
        break;
      case 'Parameter':
        if (currentAction && parent === 'Action') currentAction.params.push(a);
        break;
    }
    if (!selfClosing) stack.push(name);
  }

  const resolveName = (n: string): string => {
    if (n.startsWith('Edm.')) return n;
    const dot = n.lastIndexOf('.');
    const prefix = n.slice(0, dot);
    return `${aliases.get(prefix) ?? prefix}.${n.slice(dot + 1)}`;
  };
  for (const { t } of rawTypes) {
    if (t.baseType) t.baseType = resolveName(t.baseType);
    for (const p of t.props.values()) p.type = resolveName(p.type);
    for (const n of t.navs.values()) n.type = resolveName(n.type);
    types.set(t.fullName, t);
  }
  for (const ra of rawActions) {
    if (!ra.bound || ra.params.length === 0) continue;
    const [binding, ...rest] = ra.params;
    const b = splitCollection(binding!.Type ?? '');
    const bindingType = resolveName(b.type);
    const params: PropDef[] = rest.map((p) => {
      const s = splitCollection(p.Type ?? 'Edm.Untyped');
      return { name: p.Name ?? '', type: resolveName(s.type), collection: s.collection, nullable: p.Nullable !== 'false' };
    });
    actions.set(actionKey(bindingType, b.collection, ra.name), { name: ra.name, bindingType, bindingCollection: b.collection, params });
  }
  return { types, enums, actions };
}

function actionKey(bindingType: string, collection: boolean, name: string): string {
  return `${collection ? `Collection(${bindingType})` : bindingType}/${name}`;
}

let v1Cache: V1Model | undefined;
let betaCache: BetaModel | undefined;

/** The parsed v1.0 model, read once per process. */
export function v1Model(): V1Model {
  if (!v1Cache) {
    const started = performance.now();
    const parsed = parseCsdl(readFileSync(V1_FILE, 'utf8'));
    v1Cache = { ...parsed, parseMs: performance.now() - started };
  }
  return v1Cache;
}

/** The beta mapping files, read once per process. */
export function betaModel(): BetaModel {
  if (!betaCache) {
    const started = performance.now();
    const entities = new Map<string, { props: Set<string>; navs: Set<string> }>();
    const rawEntities = JSON.parse(readFileSync(BETA_ENTITY_FILE, 'utf8')) as Record<string, Record<string, { properties?: string[]; navigationProperties?: string[] }>>;
    for (const [ns, byName] of Object.entries(rawEntities)) {
      for (const [name, def] of Object.entries(byName)) {
        entities.set(`${ns}.${name}`, { props: new Set(def.properties ?? []), navs: new Set(def.navigationProperties ?? []) });
      }
    }
    const enums = new Map<string, Set<string>>();
    const rawEnums = JSON.parse(readFileSync(BETA_ENUM_FILE, 'utf8')) as Record<string, Record<string, string[]>>;
    for (const [ns, byName] of Object.entries(rawEnums)) {
      for (const [name, members] of Object.entries(byName)) enums.set(`${ns}.${name}`, new Set(members));
    }
    betaCache = { entities, enums, parseMs: performance.now() - started };
  }
  return betaCache;
}

/** Milliseconds spent parsing each model (after it has been loaded), for the report. */
export function parseTimes(): { v1: number | undefined; beta: number | undefined } {
  return { v1: v1Cache?.parseMs, beta: betaCache?.parseMs };
}

// ---------------------------------------------------------------------------------------------
// Type questions both versions ask.

function normalizeType(odataType: string): string {
  return odataType.startsWith('#') ? odataType.slice(1) : odataType;
}

/** The BaseType chain of a type, itself first (v1.0, or beta with BETA_ONLY_BASES for beta-only types). */
function chain(version: GraphVersion, fullName: string): string[] {
  const out: string[] = [];
  const v1 = v1Model();
  let cur: string | undefined = fullName;
  while (cur && !out.includes(cur)) {
    out.push(cur);
    const t = v1.types.get(cur);
    if (t) cur = t.baseType;
    else if (version === 'beta') cur = BETA_ONLY_BASES[cur];
    else cur = undefined;
  }
  return out;
}

/** Whether `type` is `base` or derives from it, in the given version. */
export function derivesFrom(version: GraphVersion, type: string, base: string): boolean {
  return chain(version, normalizeType(type)).includes(normalizeType(base));
}

/** Whether Graph `version` has this structured type at all. */
export function hasType(version: GraphVersion, odataType: string): boolean {
  const name = normalizeType(odataType);
  if (version === 'v1.0') return v1Model().types.has(name);
  if (betaModel().entities.has(name)) return true;
  // Complex types are not in the beta mapping: beta has every v1.0 complex type.
  return v1Model().types.get(name)?.kind === 'complex';
}

export function isAbstract(version: GraphVersion, odataType: string): boolean {
  const t = v1Model().types.get(normalizeType(odataType));
  if (t) return t.abstract;
  return false;
}

/** Every property name of an entity type (with inherited ones) in the version — for `$select` checks. */
export function propertyNames(version: GraphVersion, odataType: string): Set<string> | undefined {
  const name = normalizeType(odataType);
  if (!hasType(version, name)) return undefined;
  const out = new Set<string>();
  for (const t of chain(version, name)) {
    if (version === 'beta' && betaModel().entities.has(t)) {
      const e = betaModel().entities.get(t)!;
      for (const p of e.props) out.add(p);
      if (t === 'microsoft.graph.entity') out.add('id');
    } else {
      const v = v1Model().types.get(t);
      if (v) for (const p of v.props.keys()) out.add(p);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Values.

const INT_RANGES: Record<string, [number, number]> = {
  'Edm.Byte': [0, 255],
  'Edm.SByte': [-128, 127],
  'Edm.Int16': [-32768, 32767],
  'Edm.Int32': [-2147483648, 2147483647],
  'Edm.Int64': [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const DATE_TIME_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,12})?)?(Z|[+-]\d{2}:\d{2})$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,12})?)?$/;
const DURATION = /^-?P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
// A directory extension property: the only dynamic property a directory OpenType accepts.
const DIRECTORY_EXTENSION = /^extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+$/;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 200 ? `${v.slice(0, 197)}...` : v)}`;
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  return typeof v;
}

function realDate(y: string, m: string, d: string): boolean {
  const yy = Number(y), mm = Number(m), dd = Number(d);
  if (mm < 1 || mm > 12 || dd < 1) return false;
  return dd <= new Date(Date.UTC(yy, mm, 0)).getUTCDate();
}

/** A problem for a primitive value of an Edm type, or undefined when it is valid. */
function primitiveProblem(type: string, v: unknown): string | undefined {
  switch (type) {
    case 'Edm.String':
      return typeof v === 'string' ? undefined : 'Edm.String';
    case 'Edm.Boolean':
      return typeof v === 'boolean' ? undefined : 'Edm.Boolean';
    case 'Edm.Byte': case 'Edm.SByte': case 'Edm.Int16': case 'Edm.Int32': case 'Edm.Int64': {
      const [lo, hi] = INT_RANGES[type]!;
      // OData JSON lets Int64 travel as a string (IEEE754Compatible); Graph accepts both.
      const n = type === 'Edm.Int64' && typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      return typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= hi ? undefined : `${type} (integer ${lo}..${hi})`;
    }
    case 'Edm.Double': case 'Edm.Single': case 'Edm.Decimal':
      if (typeof v === 'number' && Number.isFinite(v)) return undefined;
      if (type !== 'Edm.Decimal' && (v === 'NaN' || v === 'INF' || v === '-INF')) return undefined;
      return `${type} (number)`;
    case 'Edm.DateTimeOffset': {
      const m = typeof v === 'string' ? DATE_TIME_OFFSET.exec(v) : null;
      if (!m || !realDate(m[1]!, m[2]!, m[3]!) || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59) {
        return 'Edm.DateTimeOffset (ISO 8601 with zone, e.g. 2026-01-31T12:00:00Z)';
      }
      return undefined;
    }
    case 'Edm.Date': {
      const m = typeof v === 'string' ? DATE.exec(v) : null;
      return m && realDate(m[1]!, m[2]!, m[3]!) ? undefined : 'Edm.Date (YYYY-MM-DD)';
    }
    case 'Edm.TimeOfDay':
      return typeof v === 'string' && TIME_OF_DAY.test(v) ? undefined : 'Edm.TimeOfDay (hh:mm:ss)';
    case 'Edm.Duration':
      return typeof v === 'string' && DURATION.test(v) ? undefined : 'Edm.Duration (ISO 8601, e.g. PT1H30M)';
    case 'Edm.Guid':
      return typeof v === 'string' && GUID.test(v) ? undefined : 'Edm.Guid';
    case 'Edm.Binary':
      return typeof v === 'string' && (BASE64.test(v) || BASE64URL.test(v)) ? undefined : 'Edm.Binary (base64)';
    case 'Edm.Stream':
      return typeof v === 'string' ? undefined : 'Edm.Stream (string)';
    default:
      // Edm.Untyped, Edm.PrimitiveType, geography: anything JSON.
      return undefined;
  }
}

class Checker {
  readonly problems: SchemaProblem[] = [];
  constructor(readonly version: GraphVersion, readonly operation: 'create' | 'update') {}

  add(path: string, expected: string, got: string): void {
    this.problems.push({ path, expected, got });
  }

  enumMembers(fullName: string): { members: Set<string>; flags: boolean } | undefined {
    const v1 = v1Model().enums.get(fullName);
    if (this.version === 'beta') {
      const beta = betaModel().enums.get(fullName);
      if (beta) return { members: beta, flags: v1?.flags ?? false };
    }
    return v1 ? { members: v1.members, flags: v1.flags } : undefined;
  }

  /** A value declared as `type` (structured, enum or Edm), single or collection. */
  value(path: string, def: { type: string; collection: boolean; nullable: boolean }, v: unknown): void {
    if (v === null) {
      if (!def.nullable && !def.collection) this.add(path, `${def.type} (not nullable)`, 'null');
      if (def.collection) this.add(path, `Collection(${def.type})`, 'null');
      return;
    }
    if (def.collection) {
      if (!Array.isArray(v)) return this.add(path, `Collection(${def.type})`, describe(v));
      v.forEach((item, i) => {
        if (item === null) {
          if (!def.nullable) this.add(`${path}[${i}]`, `${def.type} (not nullable)`, 'null');
          return;
        }
        this.single(`${path}[${i}]`, def.type, item);
      });
      return;
    }
    this.single(path, def.type, v);
  }

  single(path: string, type: string, v: unknown): void {
    if (type.startsWith('Edm.')) {
      const p = primitiveProblem(type, v);
      if (p) this.add(path, p, describe(v));
      return;
    }
    const e = this.enumMembers(type);
    if (e) {
      if (typeof v !== 'string') return this.add(path, `${type} member`, describe(v));
      const parts = e.flags ? v.split(',').map((s) => s.trim()) : [v];
      for (const part of parts) {
        if (!e.members.has(part)) this.add(path, `${type} member (one of ${[...e.members].sort().join(', ')})`, describe(part));
      }
      return;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return this.add(path, `object of type ${type}`, describe(v));
    this.object(path, type, v as Record<string, unknown>);
  }

  /** A structured value declared as `declared`; its own `@odata.type` may name a derived type. */
  object(path: string, declared: string, body: Record<string, unknown>): void {
    let type = declared;
    const annotated = body['@odata.type'];
    if (annotated !== undefined) {
      if (typeof annotated !== 'string') {
        this.add(join2(path, '@odata.type'), 'string "#namespace.type"', describe(annotated));
        return;
      }
      const named = normalizeType(annotated);
      if (!hasType(this.version, named)) {
        this.add(join2(path, '@odata.type'), `a type Graph ${this.version} defines (derived from ${declared})`, describe(annotated));
        return;
      }
      if (this.version === 'beta' && !v1Model().types.has(named) && !BETA_ONLY_BASES[named]) {
        // Neither v1.0 nor the declared table knows its chain: checking own properties only would refuse inherited ones.
        this.add(join2(path, '@odata.type'), 'a beta type with a known BaseType (add it to BETA_ONLY_BASES)', describe(annotated));
        return;
      }
      if (!derivesFrom(this.version, named, declared)) {
        this.add(join2(path, '@odata.type'), `${declared} or a type derived from it`, describe(annotated));
        return;
      }
      type = named;
    }
    if (!hasType(this.version, type)) {
      this.add(path, `a type Graph ${this.version} defines`, type);
      return;
    }
    if (isAbstract(this.version, type)) {
      this.add(join2(path, '@odata.type'), `a concrete type derived from abstract ${type}`, annotated === undefined ? 'none' : describe(annotated));
      return;
    }
    if (this.version === 'beta' && !v1Model().types.has(type) && !BETA_ONLY_BASES[type]) {
      this.add(join2(path, '@odata.type'), 'a beta type with a known BaseType (add it to BETA_ONLY_BASES)', type);
      return;
    }
    const lookup = this.members(type);
    for (const [key, v] of Object.entries(body)) {
      const at = key.indexOf('@');
      if (at === 0) {
        // Instance annotations on the object itself.
        if (!/^@(odata|microsoft\.graph)\./.test(key)) this.add(join2(path, key), 'an @odata.* instance annotation', key);
        continue;
      }
      if (at > 0) {
        this.annotation(path, key.slice(0, at), key.slice(at + 1), v, lookup);
        continue;
      }
      const prop = lookup.prop(key);
      if (prop) {
        if (prop !== 'unchecked') this.value(join2(path, key), prop, v);
        continue;
      }
      const nav = lookup.nav(key);
      if (nav) {
        if (this.operation === 'create' && deepInsertAllowed(nav)) {
          if (nav !== 'unchecked') this.value(join2(path, key), { type: nav.type, collection: nav.collection, nullable: false }, v);
        } else {
          this.add(join2(path, key), `no navigation property in a ${this.operation} body (use ${key}@odata.bind)`, describe(v));
        }
        continue;
      }
      if (lookup.open && DIRECTORY_EXTENSION.test(key)) continue;
      if (lookup.namesUnknown) continue;
      const suggestion = closest(key, lookup.allNames());
      this.add(join2(path, key), `a property of ${type}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`, `unknown property "${key}"`);
    }
  }

  annotation(path: string, prop: string, term: string, v: unknown, lookup: Members): void {
    const at = join2(path, `${prop}@${term}`);
    if (term === 'odata.bind') {
      const nav = lookup.nav(prop);
      if (!nav) {
        this.add(at, `@odata.bind on a navigation property of this type`, `"${prop}" is not one`);
        return;
      }
      const many = nav === 'unchecked' ? Array.isArray(v) : nav.collection;
      const urls = many ? v : [v];
      if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string' || u.length === 0)) {
        this.add(at, many ? 'array of entity URLs' : 'an entity URL', describe(v));
      }
      return;
    }
    if (term === 'odata.type') {
      if (!lookup.prop(prop)) this.add(at, 'a property of this type', `"${prop}" is not one`);
      else if (typeof v !== 'string') this.add(at, 'string', describe(v));
      return;
    }
    if (!lookup.prop(prop) && !lookup.nav(prop)) this.add(at, 'an annotation on a property of this type', `"${prop}" is not one`);
  }

  members(type: string): Members {
    const types = chain(this.version, type);
    const v1 = v1Model();
    const open = types.some((t) => v1.types.get(t)?.open);
    if (this.version === 'v1.0') {
      return {
        open,
        namesUnknown: false,
        prop: (n) => firstDefined(types, (t) => v1.types.get(t)?.props.get(n)),
        nav: (n) => firstDefined(types, (t) => v1.types.get(t)?.navs.get(n)),
        allNames: () => types.flatMap((t) => [...(v1.types.get(t)?.props.keys() ?? []), ...(v1.types.get(t)?.navs.keys() ?? [])]),
      };
    }
    const beta = betaModel();
    const isComplex = v1.types.get(type)?.kind === 'complex';
    return {
      open,
      // A beta complex type's names are not published: only the properties v1.0 knows are checked.
      namesUnknown: isComplex,
      prop: (n) => {
        const v1Def = firstDefined(types, (t) => v1.types.get(t)?.props.get(n));
        if (isComplex) return v1Def;
        const inBeta = types.some((t) => beta.entities.get(t)?.props.has(n) || (t === 'microsoft.graph.entity' && n === 'id'));
        if (!inBeta) return undefined;
        return v1Def ?? 'unchecked';
      },
      nav: (n) => {
        const v1Def = firstDefined(types, (t) => v1.types.get(t)?.navs.get(n));
        if (isComplex) return v1Def;
        const inBeta = types.some((t) => beta.entities.get(t)?.navs.has(n));
        if (!inBeta) return undefined;
        return v1Def ?? 'unchecked';
      },
      allNames: () => types.flatMap((t) => [...(beta.entities.get(t)?.props ?? []), ...(beta.entities.get(t)?.navs ?? [])]),
    };
  }
}

interface Members {
  open: boolean;
  namesUnknown: boolean;
  prop(name: string): PropDef | 'unchecked' | undefined;
  nav(name: string): NavDef | 'unchecked' | undefined;
  allNames(): string[];
}

function firstDefined<T>(list: string[], f: (t: string) => T | undefined): T | undefined {
  for (const t of list) {
    const r = f(t);
    if (r !== undefined) return r;
  }
  return undefined;
}

/** Deep insert: Graph accepts contained navigation properties in a create body (Intune's scheduledActionsForRule). */
function deepInsertAllowed(nav: NavDef | 'unchecked'): boolean {
  return nav === 'unchecked' || nav.containsTarget;
}

function join2(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** The nearest name by edit distance (at most a third of the name's length away). */
function closest(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(name.length / 3)) + 1;
  const lower = name.toLowerCase();
  for (const n of names) {
    const d = editDistance(lower, n.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return best;
}

/**
 * The problems of a request body whose type is `odataType` (the body's own `@odata.type` may name
 * a type derived from it). Empty when Graph `version`'s metadata accepts the body.
 */
export function checkBody(version: GraphVersion, odataType: string, body: unknown, options: CheckOptions = {}): SchemaProblem[] {
  const c = new Checker(version, options.operation ?? 'create');
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    c.add('', `object of type ${normalizeType(odataType)}`, describe(body));
    return c.problems;
  }
  c.object('', normalizeType(odataType), body as Record<string, unknown>);
  return c.problems;
}

/**
 * The problems of the body of bound action `action` on `bindingType` (`collection` when bound to
 * the entity set, e.g. importedWindowsAutopilotDeviceIdentities/import). undefined when the
 * version's metadata has no such action (beta actions are not published in the mapping files:
 * a beta action is checked against its v1.0 definition when there is one).
 */
export function checkActionBody(version: GraphVersion, bindingType: string, action: string, body: unknown, collection = false): SchemaProblem[] | undefined {
  const v1 = v1Model();
  let def: ActionDef | undefined;
  for (const t of chain(version, normalizeType(bindingType))) {
    def = v1.actions.get(actionKey(t, collection, action));
    if (def) break;
  }
  if (!def) return undefined;
  const c = new Checker(version, 'create');
  if (body === undefined || body === null) body = {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    c.add('', `object with the parameters of ${action}`, describe(body));
    return c.problems;
  }
  const params = new Map(def.params.map((p) => [p.name, p]));
  for (const [key, v] of Object.entries(body as Record<string, unknown>)) {
    const p = params.get(key);
    if (!p) {
      const suggestion = closest(key, [...params.keys()]);
      c.add(key, `a parameter of ${action} (${[...params.keys()].join(', ') || 'none'})${suggestion ? `; did you mean "${suggestion}"?` : ''}`, `unknown parameter "${key}"`);
      continue;
    }
    c.value(key, p, v);
  }
  return c.problems;
}

/** Whether the version's metadata defines bound action `action` on `bindingType` (or an ancestor). */
export function hasAction(version: GraphVersion, bindingType: string, action: string, collection = false): boolean {
  const v1 = v1Model();
  return chain(version, normalizeType(bindingType)).some((t) => v1.actions.has(actionKey(t, collection, action)));
}
