// Opens the driver for a target. Each driver is imported only when used, so commands that
// never touch a backend (validate, --help) never load SQLite or axios.
import type { Backend } from './backend.js';
import type { BackendTarget } from './target.js';

export type { BackendTarget };

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
    case 'intune': {
      const { openIntuneBackend } = await import('./intune/index.js');
      return openIntuneBackend(target);
    }
  }
}
