// Which driver to open and how: what the CLI resolves (src/cli/target.ts) and openBackend
// dispatches on. Its own module because the drivers use it too, and backends/index.ts imports the
// drivers: declared there, it made each driver and the dispatcher import each other.
export type BackendTarget =
  | { kind: 'embedded'; dataDir: string; actor?: string; /** When the dir holds no store (default create; see FleetStoreOptions.ifMissing). */ ifMissing?: 'create' | 'fail' | 'empty' }
  | { kind: 'http'; server: string; token?: string; timeoutMs?: number; /** One line per request (method, path, status, time; never secrets), for --debug. */ debug?: (line: string) => void };
