// Which backend a command talks to. Precedence: flags > EMMCTL_* environment > config file
// (current context) > the built-in `local` context (the embedded store in the user data dir).
import { homedir, platform } from 'node:os';
import { join } from 'node:path';
import type { BackendTarget } from '../backends/index.js';
import type { GlobalOptions } from './context.js';

export function defaultDataDir(env: Record<string, string | undefined>): string {
  if (env.EMMCTL_DATA_DIR) return env.EMMCTL_DATA_DIR;
  const home = homedir();
  switch (platform()) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'emmctl');
    case 'win32':
      return join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'emmctl', 'Data');
    default:
      return join(env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'emmctl');
  }
}

export async function resolveTarget(globals: GlobalOptions, env: Record<string, string | undefined>): Promise<BackendTarget> {
  // Contexts (conf) are resolved here once `emmctl context` lands; until then env and flags.
  if (env.EMMCTL_SERVER && !globals.dataDir) {
    return { kind: 'http', server: env.EMMCTL_SERVER, token: env.EMMCTL_TOKEN };
  }
  return { kind: 'embedded', dataDir: globals.dataDir ?? defaultDataDir(env) };
}
