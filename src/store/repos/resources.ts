// Policy resources (Group, Policy, CompliancePolicy, EnrollmentProfile) with optimistic versions.
// A write names the version it was planned against: an UPDATE/DELETE … WHERE version = ? or an
// INSERT on the (kind, name) key, so of several concurrent applies against one version exactly
// one wins and the others find 0 rows and get the stale-plan conflict.
import { BackendError } from '../../errors.js';
import type { AppliedChange, ResourceChange } from '../../model/requests.js';
import type { ResourceDocument, ResourceKind } from '../../model/policy.generated.js';
import { secretDigest, secretRefPaths } from '../../model/secrets.js';
import type { Sql } from '../engine.js';

const STALE = { hint: 'the backend changed since the plan was made: run plan again' };

/** Per secret path of a resource row: the value (for devices) and its digest (for admin reads). */
export type StoredSecrets = Record<string, { value: string; digest: string }>;

function storedSecrets(c: Extract<ResourceChange, { document: ResourceDocument }>): string {
  const out: StoredSecrets = {};
  for (const { path } of secretRefPaths(c.document)) {
    const value = c.secrets![path]!;
    out[path] = { value, digest: secretDigest(value) };
  }
  return JSON.stringify(out);
}

async function currentVersion(sql: Sql, c: ResourceChange): Promise<number | undefined> {
  return (await sql.get<{ version: number }>('SELECT version FROM resources WHERE kind = ? AND name = ?', [c.kind, c.name]))?.version;
}

/** Applies one checked change; a version that moved (or a create that finds the resource) is BackendError('conflict'). */
export async function writeResource(sql: Sql, c: ResourceChange, at: string): Promise<AppliedChange> {
  const ref = `${c.kind}/${c.name}`;
  if (c.op === 'create') {
    const inserted = await sql.run('INSERT INTO resources (kind, name, document, version, updated_at, secrets) VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (kind, name) DO NOTHING',
      [c.kind, c.name, JSON.stringify(c.document), at, storedSecrets(c)]);
    if (inserted.changes !== 1) throw new BackendError('conflict', `${ref} already exists (version ${await currentVersion(sql, c)}); cannot create it`, STALE);
    return { op: 'create', kind: c.kind, name: c.name, version: 1 };
  }
  const changed = c.op === 'update'
    ? await sql.run('UPDATE resources SET document = ?, secrets = ?, version = version + 1, updated_at = ? WHERE kind = ? AND name = ? AND version = ?',
      [JSON.stringify(c.document), storedSecrets(c), at, c.kind, c.name, c.expectedVersion])
    : await sql.run('DELETE FROM resources WHERE kind = ? AND name = ? AND version = ?', [c.kind, c.name, c.expectedVersion]);
  if (changed.changes !== 1) {
    const found = await currentVersion(sql, c);
    if (found === undefined) throw new BackendError('conflict', `${ref} does not exist (expected version ${c.expectedVersion}); cannot ${c.op} it`, STALE);
    throw new BackendError('conflict', `${ref} changed since the plan was made: expected version ${c.expectedVersion}, found version ${found}`, { hint: 'run plan again to see the current state' });
  }
  return { op: c.op, kind: c.kind, name: c.name, version: c.op === 'update' ? c.expectedVersion + 1 : null };
}

/** Counts applies, so evaluators cache the documents until the next one (any replica's). */
export async function bumpResourceGeneration(sql: Sql): Promise<void> {
  await sql.run("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'resource_generation'");
}


export interface ResourceRow {
  kind: ResourceKind;
  name: string;
  /** JSON of the document as applied (secret references in place). */
  document: string;
  version: number;
  updated_at: string;
  /** JSON of StoredSecrets. */
  secrets: string;
}

/** Every resource (of `kind`, when given), in (kind, name) order. */
export async function resourceRows(sql: Sql, kind?: ResourceKind): Promise<ResourceRow[]> {
  return kind
    ? sql.all<ResourceRow>('SELECT * FROM resources WHERE kind = ? ORDER BY kind, name', [kind])
    : sql.all<ResourceRow>('SELECT * FROM resources ORDER BY kind, name', []);
}

/**
 * The resource generation and, unless it is `known`, every resource in (kind, name) order, read
 * by one statement. One statement sees one snapshot on both engines, so the documents are the
 * ones that generation counted; two statements in a READ COMMITTED transaction (PostgreSQL's
 * write transactions) could pair an apply's documents with the generation before it, and the
 * evaluations stored under that label would be taken as current by a replica still at it.
 */
export async function resourceSnapshot(sql: Sql, known?: string): Promise<{ generation: string; rows?: ResourceRow[] }> {
  const found = await sql.all<{ generation: string } & { [K in keyof ResourceRow]: ResourceRow[K] | null }>(
    "SELECT m.value AS generation, r.kind, r.name, r.document, r.version, r.updated_at, r.secrets FROM meta m LEFT JOIN resources r ON m.value <> ? WHERE m.key = 'resource_generation' ORDER BY r.kind, r.name",
    [known ?? '']);
  const generation = found[0]!.generation;
  if (generation === known) return { generation };
  // No resources at all is one row of NULLs from the outer join.
  return { generation, rows: found.filter((r): r is { generation: string } & ResourceRow => r.kind !== null).map(({ generation: _, ...row }) => row) };
}

/** The names of the stored Groups. */
export async function groupNames(sql: Sql): Promise<string[]> {
  return (await sql.all<{ name: string }>("SELECT name FROM resources WHERE kind = 'Group'", [])).map((r) => r.name);
}

/** The resources that may name a group (every kind but Group), for the reference check. */
export async function referringResources(sql: Sql): Promise<Array<Pick<ResourceRow, 'kind' | 'name' | 'document'>>> {
  return sql.all("SELECT kind, name, document FROM resources WHERE kind != 'Group'", []);
}

/** The stored document of one resource, parsed; undefined when there is none. */
export async function resourceDocument<D extends ResourceDocument>(sql: Sql, kind: D['kind'], name: string): Promise<D | undefined> {
  const r = await sql.get<{ document: string }>('SELECT document FROM resources WHERE kind = ? AND name = ?', [kind, name]);
  return r ? (JSON.parse(r.document) as D) : undefined;
}
