// Opens the store the server serves. One place, so the server and the token commands agree on
// where the data lives. Today that is `{ dataDir }` (the SQLite engine); the PostgreSQL engine
// comes in here as `{ databaseUrl }`, choosing its SqlEngine and handing it to the same service.
import type { ServerStore } from './store.js';

export type StoreLocation = { dataDir: string };

export interface OpenStoreOptions {
  now?: () => Date;
  checkDocument?: (document: unknown) => string | undefined;
  notifyOutbox?: boolean;
}

export async function openStore(where: StoreLocation | string, options: OpenStoreOptions = {}): Promise<ServerStore> {
  const location = typeof where === 'string' ? { dataDir: where } : where;
  const [{ FleetStore }, { SqliteEngine }] = await Promise.all([import('../store/fleet-store.js'), import('../store/sqlite/engine.js')]);
  const engine = SqliteEngine.open(location.dataDir);
  return new FleetStore(engine, { now: options.now, checkDocument: options.checkDocument, notifyOutbox: options.notifyOutbox });
}
