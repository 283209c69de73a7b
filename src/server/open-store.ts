// Opens the store the server serves. One place, so the server and the token commands agree on
// where the data lives: `{ dataDir }` is the embedded SQLite store, `{ databaseUrl }` a
// PostgreSQL database (migrated on open, under the migration lock, so replicas starting together
// never race). Either way the same service runs over the engine.
import { EmmctlError } from '../errors.js';
import type { ServerStore } from './store.js';

export type StoreLocation = { dataDir: string } | { databaseUrl: string };

export interface OpenStoreOptions {
  now?: () => Date;
  checkDocument?: (document: unknown) => string | undefined;
  notifyOutbox?: boolean;
  /** Operational lines from the engine (an idle database connection lost); never hold a password. */
  onLog?: (line: string) => void;
  /** PostgreSQL connections in the pool (default 10); ignored for the embedded store. */
  poolSize?: number;
}

export async function openStore(where: StoreLocation | string, options: OpenStoreOptions = {}): Promise<ServerStore> {
  const location = typeof where === 'string' ? { dataDir: where } : where;
  const { FleetService } = await import('../service/fleet-service.js');
  const service = { now: options.now, checkDocument: options.checkDocument, notifyOutbox: options.notifyOutbox };
  if ('databaseUrl' in location) {
    const [{ openPostgres }, { StoreUnavailableError }] = await Promise.all([import('../store/postgres/index.js'), import('../store/engine.js')]);
    try {
      const { engine } = await openPostgres(location.databaseUrl, { onLog: options.onLog, poolSize: options.poolSize });
      return new FleetService(engine, service);
    } catch (error) {
      // At start there is no request to answer 503 to: the command fails, saying what and where.
      if (error instanceof StoreUnavailableError) throw new EmmctlError(error.message, { hint: 'check that the database server is up and reachable from here, and the URL, user and password', cause: error });
      throw error;
    }
  }
  const { SqliteEngine } = await import('../store/sqlite/engine.js');
  // A server runs for long: its WAL checkpoints go to a worker thread, off the event loop.
  return new FleetService(SqliteEngine.open(location.dataDir, { checkpoint: 'background', onLog: options.onLog }), service);
}
