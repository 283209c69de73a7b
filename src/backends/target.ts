// Which driver to open and how: what the CLI resolves (src/cli/target.ts) and openBackend
// dispatches on. Its own module because the drivers use it too, and backends/index.ts imports the
// drivers: declared there, it made each driver and the dispatcher import each other.
export type BackendTarget =
  | { kind: 'embedded'; dataDir: string; actor?: string; /** When the dir holds no store (default create; see FleetServiceOptions.ifMissing). */ ifMissing?: 'create' | 'fail' | 'empty' }
  | { kind: 'http'; server: string; token?: string; timeoutMs?: number; /** One line per request (method, path, status, time; never secrets), for --debug. */ debug?: (line: string) => void }
  | IntuneTarget;

/** A Microsoft Intune tenant through Graph (src/backends/intune); `stateDir` holds the local command ledger and the plan-seal key. */
export interface IntuneTarget {
  kind: 'intune';
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  clientCertificate?: string;
  graphEndpoint?: string;
  loginEndpoint?: string;
  stateDir: string;
  actor?: string;
  debug?: (line: string) => void;
}
