// The rows of the fleet's tables as the repositories read them (snake_case, as stored): the one
// place their shape is written, so the service layer and every repository agree on it. The
// service turns them into model records (src/model/); nothing above the service sees a row.
import type { ApiRole } from '../../model/access.js';
import type { DeviceState } from '../../model/fleet.js';
import type { Platform } from '../../model/policy.generated.js';
import type { StoredColumns } from './compliance.js';

export type { CommandRow } from './commands.js';
export type { FiredRow } from './escalations.js';

/** devices: one row per device, pre-registered, enrolled, wiped or retired. */
export interface DeviceRow extends StoredColumns {
  id: string;
  name: string;
  serial: string | null;
  platform: Platform;
  ownership: 'corporate' | 'personal';
  owner: string | null;
  labels: string;
  state: DeviceState;
  profile: string | null;
  model: string | null;
  os_version: string | null;
  os_key: string | null;
  posture: string | null;
  enrolled_at: string | null;
  last_check_in: string | null;
  noncompliant_since: string | null;
  credential_hash: string | null;
  applied_config_version: string | null;
  released_until: string | null;
  /** Only in listings sorted by a computed key (device-query.ts). */
  sort_key?: string;
}

/** enrollment_tokens: the secret is kept as its hash only. */
export interface TokenRow {
  id: string;
  profile: string;
  secret_hash: string;
  created_at: string;
  expires_at: string;
  max_uses: number | null;
  uses: number;
  revoked: number;
  created_by: string;
}

/** api_tokens: the secret is kept as its hash only. */
export interface ApiTokenRow {
  id: string;
  name: string;
  role: ApiRole;
  secret_hash: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked: number;
}
