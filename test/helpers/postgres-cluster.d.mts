// Types of postgres-cluster.mjs.
export interface Cluster {
  /** postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres: a superuser, for creating databases. */
  adminUrl: string;
  port: number;
  password: string;
  /** The cluster's data directory (postmaster.pid names the server process). */
  dataDir: string;
  /** Milliseconds initdb and the first start took. */
  initMs: number;
  startMs: number;
  /** Stops the server and removes its data directory (idempotent). */
  stop(): Promise<void>;
  /** Stops the server, keeping the data (start() brings it back on the same port). */
  pause(): Promise<void>;
  start(): Promise<void>;
}

export interface ClusterOptions {
  /**
   * Server settings (`-c name=value`) over the test defaults (fsync, synchronous_commit and
   * full_page_writes off; max_connections 400). listen_addresses is always 127.0.0.1.
   */
  settings?: Record<string, string>;
}

export function startCluster(options?: ClusterOptions): Promise<Cluster>;
