// Opens the driver for a target. Each driver is imported only when used, so commands that
// never touch a backend (validate, --help) never load SQLite or axios.
import type { Backend } from './backend.js';

export type BackendTarget =
  | { kind: 'embedded'; dataDir: string; actor?: string; /** When the dir holds no store (default create; see FleetStoreOptions.ifMissing). */ ifMissing?: 'create' | 'fail' | 'empty' }
  | { kind: 'http'; server: string; token?: string; timeoutMs?: number; /** One line per request (method, path, status, time; never secrets), for --debug. */ debug?: (line: string) => void };

export async function openBackend(target: BackendTarget): Promise<Backend> {
  switch (target.kind) {
    case 'embedded': {
      const { openEmbeddedBackend } = await import('./embedded/index.js');
      return openEmbeddedBackend(target);
    }
    case 'http': {
      const { openHttpBackend } = await import('./http/index.js');
      return openHttpBackend(target);
    }
  }
}
