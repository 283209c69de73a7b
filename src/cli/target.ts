// Which backend a command talks to. Precedence: flags > EMMCTL_* environment > config file
// (current context) > the built-in `local` context (the embedded store in the user data dir).
//   1. --data-dir DIR                      embedded store in DIR
//   2. --context NAME                      that context (EMMCTL_TOKEN / EMMCTL_DATA_DIR still fill in)
//   3. EMMCTL_SERVER (+ EMMCTL_TOKEN)      that server
//   4. EMMCTL_DATA_DIR                     embedded store in that dir
//   5. EMMCTL_CONTEXT, else the config's current context, else `local`
// The config file is read only when steps 1–4 do not decide, so CI runs that set EMMCTL_* never
// need a config dir.
import { homedir, platform } from 'node:os';
import { join } from 'node:path';
import type { BackendTarget } from '../backends/index.js';

/** The global flags that choose the target (part of GlobalOptions in context.ts, which loads this module). */
export interface TargetFlags {
  context?: string;
  dataDir?: string;
}

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

/** The target plus how it was chosen, for `context current` and error messages. */
export interface ResolvedTarget {
  target: BackendTarget;
  /** The context name, or the flag / variable that decided. */
  source: string;
}

export async function resolveTargetWithSource(globals: TargetFlags, env: Record<string, string | undefined>): Promise<ResolvedTarget> {
  if (globals.dataDir) return { target: { kind: 'embedded', dataDir: globals.dataDir }, source: '--data-dir' };
  if (globals.context) return { target: await contextTarget(globals.context, env), source: globals.context };
  if (env.EMMCTL_SERVER) {
    const { validateServerUrl } = await import('../config/index.js');
    return { target: { kind: 'http', server: validateServerUrl(env.EMMCTL_SERVER), token: env.EMMCTL_TOKEN || undefined }, source: 'EMMCTL_SERVER' };
  }
  if (env.EMMCTL_DATA_DIR) return { target: { kind: 'embedded', dataDir: env.EMMCTL_DATA_DIR }, source: 'EMMCTL_DATA_DIR' };
  const { openConfig } = await import('../config/index.js');
  const name = env.EMMCTL_CONTEXT || (await openConfig(env)).currentName();
  return { target: await contextTarget(name, env), source: name };
}

export async function resolveTarget(globals: TargetFlags, env: Record<string, string | undefined>): Promise<BackendTarget> {
  return (await resolveTargetWithSource(globals, env)).target;
}

async function contextTarget(name: string, env: Record<string, string | undefined>): Promise<BackendTarget> {
  const { openConfig, unknownContext, LOCAL_CONTEXT } = await import('../config/index.js');
  if (name === LOCAL_CONTEXT) return { kind: 'embedded', dataDir: defaultDataDir(env) };
  const context = (await openConfig(env)).get(name);
  if (!context) throw unknownContext(name);
  if (context.server) return { kind: 'http', server: context.server, token: env.EMMCTL_TOKEN || context.token };
  if (context.intune) {
    const i = context.intune;
    return {
      kind: 'intune',
      tenantId: i.tenantId,
      clientId: i.clientId,
      // The environment wins, as EMMCTL_TOKEN does for servers: CI keeps the secret out of the config file.
      clientSecret: env.EMMCTL_INTUNE_CLIENT_SECRET || i.clientSecret,
      ...(i.clientCertificate ? { clientCertificate: i.clientCertificate } : {}),
      ...(i.graphEndpoint ? { graphEndpoint: i.graphEndpoint } : {}),
      ...(i.loginEndpoint ? { loginEndpoint: i.loginEndpoint } : {}),
      stateDir: join(defaultDataDir(env), 'intune', i.tenantId),
    };
  }
  return { kind: 'embedded', dataDir: env.EMMCTL_DATA_DIR || context.dataDir || defaultDataDir(env) };
}
