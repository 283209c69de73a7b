// Versioned schema migrations, applied in order, each in its own transaction. Never edit a
// migration that has shipped: append a new one. A store written by a newer emmctl (a version
// above the last one here) is refused rather than guessed at.
import type Database from 'better-sqlite3';
import { versionSortKey } from '../compliance/index.js';
import { replacePaths, secretDigest, SECRET_REF_PATTERN, SENSITIVE_MASK, sensitiveLeaves } from '../model/secrets.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** Data changes SQL alone cannot express; runs after `sql`, in the same transaction. */
  run?: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('resource_generation', '0');

CREATE TABLE resources (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  document TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (kind, name)
);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  serial TEXT UNIQUE,
  platform TEXT NOT NULL,
  ownership TEXT NOT NULL,
  owner TEXT,
  labels TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL CHECK (state IN ('preregistered', 'enrolled', 'wiped', 'retired')),
  profile TEXT,
  model TEXT,
  os_version TEXT,
  -- zero-padded dotted version so os<14 compares numerically in SQL and sorts by index
  os_key TEXT,
  posture TEXT,
  enrolled_at TEXT,
  last_check_in TEXT,
  noncompliant_since TEXT,
  credential_hash TEXT UNIQUE,
  applied_config_version TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
-- keyset paging: one index per sort key, each ending in id (the tie-breaker of the cursor)
CREATE INDEX devices_by_name ON devices (name, id);
CREATE INDEX devices_by_platform ON devices (platform, id);
CREATE INDEX devices_by_owner ON devices (coalesce(owner, ''), id);
CREATE INDEX devices_by_os ON devices (coalesce(os_key, ''), id);
CREATE INDEX devices_by_check_in ON devices (coalesce(last_check_in, ''), id);
CREATE INDEX devices_by_enrolled ON devices (coalesce(enrolled_at, ''), id);
CREATE INDEX devices_by_state ON devices (state, id);
CREATE INDEX devices_by_profile ON devices (profile);

CREATE TABLE escalations (
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  policy TEXT NOT NULL,
  step INTEGER NOT NULL,
  episode_start TEXT NOT NULL,
  fired_at TEXT NOT NULL,
  PRIMARY KEY (device_id, policy, step, episode_start)
);

CREATE TABLE commands (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  type TEXT NOT NULL CHECK (type IN ('lock', 'reboot', 'wipe', 'retire')),
  status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'acknowledged', 'failed', 'expired', 'cancelled')),
  reason TEXT,
  requested_by TEXT NOT NULL,
  idempotency_key TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  detail TEXT,
  expires_at TEXT
);
CREATE INDEX commands_by_device ON commands (device_id, status);
CREATE INDEX commands_by_status ON commands (status, expires_at);

CREATE TABLE idempotency (
  key TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  result TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE enrollment_tokens (
  id TEXT PRIMARY KEY,
  profile TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  max_uses INTEGER,
  uses INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL
);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  secret_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  last_used_at TEXT,
  revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  source TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX audit_by_at ON audit (at);
CREATE INDEX audit_by_actor ON audit (actor, seq);
`,
  },
  {
    version: 2,
    name: 'os_key from the compliance engine version sort key',
    sql: '',
    run(db) {
      const update = db.prepare('UPDATE devices SET os_key = ? WHERE id = ?');
      for (const row of db.prepare('SELECT id, os_version FROM devices WHERE os_version IS NOT NULL').all() as Array<{ id: string; os_version: string }>) {
        update.run(versionSortKey(row.os_version), row.id);
      }
    },
  },
  {
    version: 3,
    name: 'store id; secret values kept beside the documents, never in them',
    // The id tells one store from another, whatever path or URL reaches it (saved plans are bound to it).
    sql: `
INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', 'st_' || lower(hex(randomblob(12))));
ALTER TABLE resources ADD COLUMN secrets TEXT NOT NULL DEFAULT '{}';
`,
    run(db) {
      // Older stores kept resolved secret values inside the documents, where every admin read saw
      // them. Move each into the secrets column; the document keeps "(sensitive)" (its reference
      // was not recorded), which plan shows as a change until the next apply records it.
      const update = db.prepare('UPDATE resources SET document = ?, secrets = ? WHERE kind = ? AND name = ?');
      for (const row of db.prepare('SELECT kind, name, document FROM resources').all() as Array<{ kind: string; name: string; document: string }>) {
        const doc = JSON.parse(row.document) as unknown;
        const leaves = sensitiveLeaves(doc).filter((l) => typeof l.value === 'string' && !SECRET_REF_PATTERN.test(l.value));
        if (leaves.length === 0) continue;
        const secrets: Record<string, { value: string; digest: string }> = {};
        for (const l of leaves) secrets[l.path] = { value: l.value as string, digest: secretDigest(l.value as string) };
        const masked = replacePaths(doc, Object.fromEntries(leaves.map((l) => [l.path, SENSITIVE_MASK])));
        update.run(JSON.stringify(masked), JSON.stringify(secrets), row.kind, row.name);
      }
    },
  },
  {
    version: 4,
    name: 'plan seal key',
    // Never leaves the store: saved plans are sealed with an HMAC under it (FleetStore.sealPlan).
    sql: "INSERT OR IGNORE INTO meta (key, value) VALUES ('plan_key', lower(hex(randomblob(32))));",
  },
  {
    version: 5,
    name: 'devices.released_until: an admin opened a re-enrollment window for an enrolled device',
    sql: '',
    run(db) {
      // Checked first so that replaying the migrations over a rewound store still works.
      const columns = db.prepare('PRAGMA table_info(devices)').all() as Array<{ name: string }>;
      if (!columns.some((c) => c.name === 'released_until')) db.exec('ALTER TABLE devices ADD COLUMN released_until TEXT');
    },
  },
];
