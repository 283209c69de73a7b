// Opens the store the server serves. One place, so the server and the token commands agree.
import type { ServerStore } from './store.js';

export async function openStore(dataDir: string, options: { now?: () => Date; checkDocument?: (document: unknown) => string | undefined; notifyOutbox?: boolean } = {}): Promise<ServerStore> {
  const { FleetStore } = await import('../store/fleet-store.js');
  return FleetStore.open(dataDir, { now: options.now, checkDocument: options.checkDocument, notifyOutbox: options.notifyOutbox });
}
