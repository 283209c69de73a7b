// Versioned schema migrations, applied in order, each in its own transaction. Never edit a
// migration that has shipped: append a new one. A store written by a newer emmctl (a version
// above the last one here) is refused rather than guessed at.
import type Database from 'better-sqlite3';
import { parseDuration, versionSortKey } from '../../compliance/index.js';
import { replacePaths, secretDigest, SECRET_REF_PATTERN, SENSITIVE_MASK, sensitiveLeaves } from '../../model/secrets.js';

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
    // Never leaves the store: saved plans are sealed with an HMAC under it (FleetService.sealPlan).
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
  {
    version: 6,
    name: 'escalation steps keyed by what they are (policy, after, do), not list position; notification outbox',
    sql: `
CREATE TABLE escalation_steps (
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  episode_start TEXT NOT NULL,
  policy TEXT NOT NULL,
  after_seconds INTEGER NOT NULL,
  action TEXT NOT NULL,
  -- the offset as the policy wrote it when the step fired, for display
  after TEXT NOT NULL,
  fired_at TEXT NOT NULL,
  PRIMARY KEY (device_id, episode_start, policy, after_seconds, action)
);

-- events for the server's notification channels, written in the transaction that fired the step
CREATE TABLE notify_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  device_id TEXT NOT NULL,
  event TEXT NOT NULL,
  created_at TEXT NOT NULL
);
`,
    run: migrateEscalationKeys,
  },
  {
    version: 7,
    name: 'one pending command per device and type as a unique key; lease rows for singleton jobs',
    // The rule "a pending lock/wipe/retire is not queued twice" held only because one process ran
    // one transaction at a time; with several writers it must be a key. A store that somehow holds
    // duplicates keeps the oldest and cancels the others, so the index can be built.
    sql: `
UPDATE commands SET status = 'cancelled', detail = 'duplicate of an older pending command of this type', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  WHERE status IN ('queued', 'sent')
    AND EXISTS (SELECT 1 FROM commands o WHERE o.device_id = commands.device_id AND o.type = commands.type AND o.status IN ('queued', 'sent') AND o.seq < commands.seq);
CREATE UNIQUE INDEX IF NOT EXISTS commands_one_pending ON commands (device_id, type) WHERE status IN ('queued', 'sent');

-- a job that must run on one replica at a time holds the row's lease: taken with a conditional
-- UPDATE when it has expired, renewed by its holder; the epoch grows with every new holder
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  expires_at TEXT NOT NULL
);
`,
  },
  {
    version: 8,
    name: 'stored compliance: each device\'s evaluation, what it was evaluated against and the interval it holds in',
    // The evaluation listings read instead of evaluating every device (src/store/repos/compliance.ts); NULL: not evaluated yet.
    sql: '',
    run(db) {
      // Checked first so that replaying the migrations over a rewound store still works.
      const columns = new Set((db.prepare('PRAGMA table_info(devices)').all() as Array<{ name: string }>).map((c) => c.name));
      for (const c of ['compliance', 'compliance_status', 'compliance_gen', 'compliance_from', 'compliance_until']) {
        if (!columns.has(c)) db.exec(`ALTER TABLE devices ADD COLUMN ${c} TEXT`);
      }
      db.exec('CREATE INDEX IF NOT EXISTS devices_by_compliance ON devices (compliance_status, id)');
    },
  },
  {
    version: 9,
    name: 'reconcile passes shared by the replicas: one row per pass, one per page of devices handed out',
    // src/store/repos/reconcile.ts: a page is claimed by inserting its row (the key is the
    // compare-and-set), leased to its holder until done; an expired lease is taken over.
    sql: `
CREATE TABLE IF NOT EXISTS reconcile_passes (
  pass INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  started_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reconcile_pages (
  pass INTEGER NOT NULL,
  after_id TEXT NOT NULL,
  last_id TEXT NOT NULL,
  final INTEGER NOT NULL,
  holder TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  done_at TEXT,
  done_by TEXT,
  evaluated INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (pass, after_id)
);
`,
  },
  {
    version: 10,
    name: 'device channels: devices, enrollment tokens, published policies and the command ledger of the Android Management API',
    sql: `
-- devices reached through a device channel (Android Management API) instead of emmctl's agent:
-- the channel's name for the device (unique per channel: the key that decides two replicas'
-- intake of one new device), its management mode, the channel policy it was last moved to, and
-- the time of the last report taken (an older report never overwrites a newer one)
CREATE TABLE IF NOT EXISTS channel_devices (
  device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  channel TEXT NOT NULL,
  ref TEXT NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('fm', 'wpc', 'wpp')),
  token_ref TEXT,
  policy TEXT,
  policy_at TEXT,
  reported_at TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (channel, ref)
);
CREATE INDEX IF NOT EXISTS channel_devices_by_policy ON channel_devices (channel, policy);

-- the channel's enrollment token made for an emmctl token, until it is deleted at the channel
CREATE TABLE IF NOT EXISTS channel_tokens (
  token_id TEXT PRIMARY KEY REFERENCES enrollment_tokens (id) ON DELETE CASCADE,
  channel TEXT NOT NULL,
  ref TEXT NOT NULL UNIQUE,
  policy TEXT NOT NULL,
  created_at TEXT NOT NULL,
  deleted_at TEXT
);

-- policies published at the channel, by name, with the digest of the body sent
CREATE TABLE IF NOT EXISTS channel_policies (
  channel TEXT NOT NULL,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  published_at TEXT NOT NULL,
  PRIMARY KEY (channel, name)
);

-- the command ledger: a command sent through a channel whose request is not idempotent gets its
-- row before it is sent (the key decides the one sender), and keeps the operation it became
CREATE TABLE IF NOT EXISTS channel_operations (
  command_id TEXT PRIMARY KEY REFERENCES commands (id) ON DELETE CASCADE,
  channel TEXT NOT NULL,
  ref TEXT NOT NULL,
  request TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'unknown', 'done')),
  operation TEXT,
  attempts INTEGER NOT NULL,
  sent_at TEXT NOT NULL,
  checked_at TEXT
);
CREATE INDEX IF NOT EXISTS channel_operations_by_state ON channel_operations (channel, state, checked_at);
`,
  },
];

/**
 * Old rows say "step N of policy P fired". N is read against the stored policy, cross-checked
 * with the audit record written when it fired (which names the action): when the step at N
 * still has that action, it is the one; when the list changed since, the step of that action
 * whose offset had elapsed when it fired (the latest such) is taken. A row that matches no
 * current step is dropped: that step no longer exists, so it cannot fire again anyway.
 * The table keeps its name, so code that clears a device's escalations needs no change.
 */
function migrateEscalationKeys(db: Database.Database): void {
  const policies = new Map<string, Array<{ after: string; do: string }>>();
  for (const r of db.prepare("SELECT name, document FROM resources WHERE kind = 'CompliancePolicy'").all() as Array<{ name: string; document: string }>) {
    try {
      const actions = (JSON.parse(r.document) as { spec?: { actions?: Array<{ after: string; do: string }> } }).spec?.actions;
      policies.set(r.name, Array.isArray(actions) ? actions : []);
    } catch {
      policies.set(r.name, []);
    }
  }
  const ms = (after: unknown): number | undefined => {
    try {
      return typeof after === 'string' ? parseDuration(after) : undefined;
    } catch {
      return undefined;
    }
  };
  const audited = db.prepare('SELECT action, detail FROM audit WHERE actor = ? AND target = ? AND at = ?');
  const insert = db.prepare('INSERT OR IGNORE INTO escalation_steps (device_id, episode_start, policy, after_seconds, action, after, fired_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (const old of db.prepare('SELECT device_id, policy, step, episode_start, fired_at FROM escalations').all() as Array<{ device_id: string; policy: string; step: number; episode_start: string; fired_at: string }>) {
    const actions = policies.get(old.policy) ?? [];
    let action: string | undefined;
    for (const a of audited.all(`compliance:${old.policy}`, `device/${old.device_id}`, old.fired_at) as Array<{ action: string; detail: string | null }>) {
      let step: unknown;
      try {
        step = a.detail ? (JSON.parse(a.detail) as { step?: unknown }).step : undefined;
      } catch {
        step = undefined;
      }
      if (step === old.step) action = a.action.slice(a.action.indexOf('.') + 1);
    }
    let chosen: { after: string; do: string; ms: number } | undefined;
    const atIndex = actions[old.step];
    const atIndexMs = ms(atIndex?.after);
    if (atIndex && atIndexMs !== undefined && (action === undefined || atIndex.do === action)) {
      chosen = { after: atIndex.after, do: atIndex.do, ms: atIndexMs };
    } else if (action !== undefined) {
      const elapsed = Date.parse(old.fired_at) - Date.parse(old.episode_start);
      for (const a of actions) {
        const m = ms(a.after);
        if (a.do === action && m !== undefined && m <= elapsed && (!chosen || m > chosen.ms)) chosen = { after: a.after, do: a.do, ms: m };
      }
    }
    if (chosen) insert.run(old.device_id, old.episode_start, old.policy, chosen.ms / 1000, chosen.do, chosen.after, old.fired_at);
  }
  db.exec('DROP TABLE escalations; ALTER TABLE escalation_steps RENAME TO escalations;');
}
