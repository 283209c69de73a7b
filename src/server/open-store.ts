// Opens the store the server serves. One place, so the server and the token commands agree.
import type { ServerStore } from './store.js';

export async function openStore(dataDir: string, options: { now?: () => Date } = {}): Promise<ServerStore> {
  void dataDir;
  void options;
  throw new Error('the SQLite store (src/store/fleet-store.ts) is not built yet');
}
