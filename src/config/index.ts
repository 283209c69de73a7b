// Named contexts (which backend, where, with which credentials), kept with conf in the
// per-user config dir or EMMCTL_CONFIG_DIR. The file holds API tokens in clear text, like gh and
// kubectl without a keychain, so it and its directory are kept owner-only.
import { existsSync, lstatSync, statSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { EmmctlError, UsageError } from '../errors.js';
import { makeDirs } from '../make-dirs.js';
import { chmodNoFollow } from '../no-follow.js';

export const LOCAL_CONTEXT = 'local';
const NAME_PATTERN = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

export interface StoredContext {
  /** http backend: the emmctl server URL. */
  server?: string;
  token?: string;
  /** embedded backend in a directory other than the default. */
  dataDir?: string;
  /** intune backend: the tenant and app registration (src/backends/intune). The secret is kept like a token. */
  intune?: IntuneContext;
}

export interface IntuneContext {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /** Path to a PEM file holding the certificate and its private key (read when a token is needed, never copied). */
  clientCertificate?: string;
  graphEndpoint?: string;
  loginEndpoint?: string;
}

interface ConfigData {
  currentContext?: string;
  contexts: Record<string, StoredContext>;
}

/** A context as listed: never the token itself. */
export interface ContextRecord {
  name: string;
  backend: 'embedded' | 'http' | 'intune';
  server?: string;
  tenantId?: string;
  dataDir?: string;
  token: 'set' | 'none';
  current: boolean;
}

export interface ConfigStore {
  readonly path: string;
  currentName(): string;
  get(name: string): StoredContext | undefined;
  list(): ContextRecord[];
  add(name: string, context: StoredContext): void;
  use(name: string): void;
  remove(name: string): void;
}

export function validateContextName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(`invalid context name "${name}"`, 'use lower-case letters, digits, ".", "_" and "-" (at most 63 characters)');
  }
}

export function validateServerUrl(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`invalid server URL "${server}"`, 'give a full URL, e.g. https://emm.example.com or http://127.0.0.1:8787');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`invalid server URL "${server}": must be http:// or https://`);
  if (url.username || url.password) throw new UsageError('the server URL must not carry credentials', 'pass the token with --token-stdin');
  return url.toString().replace(/\/$/, '');
}

function lockDown(path: string): void {
  // conf creates the directory with the umask's mode and may write the file through a temp file:
  // set the modes ourselves after every write rather than trusting either. A config dir that is
  // a link (the user's choice) is used but never chmodded: that would narrow its target.
  try {
    chmodNoFollow(dirname(path), 0o700);
    chmodNoFollow(path, 0o600);
  } catch (error) {
    throw new EmmctlError(`cannot restrict permissions of ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A config dir or file that predates emmctl's writes (made by hand, restored from a backup) may be
 * readable by others while it holds tokens: on every open, narrow ours to owner-only. Not ours:
 * left alone (chmod would fail). A failure here must not stop a read, the next write reports it.
 */
function tightenOwn(path: string, mode: number): void {
  try {
    chmodNoFollow(path, mode, { onlyOwnLoose: true });
  } catch {
    // Missing (nothing written yet) or not changeable: see above.
  }
}

/** Where conf would put it by default (env-paths' config dir for "emmctl"), or EMMCTL_CONFIG_DIR. */
export function configDir(env: Record<string, string | undefined>): string {
  if (env.EMMCTL_CONFIG_DIR) return env.EMMCTL_CONFIG_DIR;
  const home = homedir();
  switch (platform()) {
    case 'darwin':
      return join(home, 'Library', 'Preferences', 'emmctl');
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'emmctl', 'Config');
    default:
      return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'emmctl');
  }
}

export async function openConfig(env: Record<string, string | undefined>): Promise<ConfigStore> {
  const { default: Conf } = await import('conf');
  const { writeFileAtomic } = await import('../atomic-file.js');
  type ConfInstance = InstanceType<typeof Conf<ConfigData>>;
  // conf's own writer resolves a symlinked config.json and writes its target, through a temp
  // file opened without O_EXCL: a planted link would carry the tokens elsewhere. Its two file
  // hooks are swapped for ours (exclusive random temp, rename over the link, owner-only).
  // Its mkdir is Node's recursive one, which never returns on a path under /proc (make-dirs.ts).
  const Base = Conf as unknown as new (options: object) => object;
  // Reading never creates anything: conf makes the folder when a read finds no file, so that
  // hook does nothing and the folder is made just before the first write.
  const dir = configDir(env);
  class OwnerOnlyConf extends Base {
    _ensureDirectory(): void {}
    _write(value: unknown): void {
      const self = this as unknown as { path: string; _serialize(v: unknown): string };
      try {
        makeDirs(dirname(self.path), 0o700);
      } catch (error) {
        throw new EmmctlError(`cannot create the emmctl config dir ${dir}: ${(error as Error).message}`, {
          cause: error,
          hint: 'set EMMCTL_CONFIG_DIR to a writable folder',
        });
      }
      writeFileAtomic(self.path, self._serialize(value), { mode: 0o600 });
    }
  }
  refuseLinkedConfigFile(join(dir, 'config.json'));
  let conf: ConfInstance;
  try {
    conf = new OwnerOnlyConf({
      projectName: 'emmctl',
      projectSuffix: '',
      configName: 'config',
      cwd: dir,
      configFileMode: 0o600,
      // No `defaults`: conf writes them into the file on construction, i.e. on every read.
      // Context names may contain dots; they are keys, not paths.
      accessPropertiesByDotNotation: false,
    }) as unknown as ConfInstance;
  } catch (error) {
    throw new EmmctlError(`cannot read the emmctl config: ${(error as Error).message}`, {
      cause: error,
      hint: 'fix or remove the config file (see EMMCTL_CONFIG_DIR), then run `emmctl context list`',
    });
  }
  const path = conf.path;
  tightenOwn(dirname(path), 0o700);
  tightenOwn(path, 0o600);
  const contexts = (): Record<string, StoredContext> => ({ ...(conf.get('contexts') ?? {}) });
  const save = (mutate: (data: ConfigData) => void) => {
    const data: ConfigData = { currentContext: conf.get('currentContext'), contexts: contexts() };
    mutate(data);
    conf.set('contexts', data.contexts);
    if (data.currentContext === undefined) conf.delete('currentContext');
    else conf.set('currentContext', data.currentContext);
    lockDown(path);
  };
  const exists = (name: string) => name === LOCAL_CONTEXT || Object.hasOwn(contexts(), name);

  const store: ConfigStore = {
    path,
    currentName() {
      const name = conf.get('currentContext');
      return name && exists(name) ? name : LOCAL_CONTEXT;
    },
    get(name) {
      if (name === LOCAL_CONTEXT) return {};
      return Object.hasOwn(contexts(), name) ? contexts()[name] : undefined;
    },
    list() {
      const current = store.currentName();
      const all = contexts();
      const records: ContextRecord[] = [
        { name: LOCAL_CONTEXT, backend: 'embedded', token: 'none', current: current === LOCAL_CONTEXT },
      ];
      for (const name of Object.keys(all).sort()) {
        const c = all[name]!;
        records.push({
          name,
          backend: c.intune ? 'intune' : c.server ? 'http' : 'embedded',
          ...(c.server ? { server: c.server } : {}),
          ...(c.intune ? { server: c.intune.graphEndpoint ?? 'https://graph.microsoft.com', tenantId: c.intune.tenantId } : {}),
          ...(c.dataDir ? { dataDir: c.dataDir } : {}),
          token: c.token || c.intune?.clientSecret || c.intune?.clientCertificate ? 'set' : 'none',
          current: current === name,
        });
      }
      return records;
    },
    add(name, context) {
      validateContextName(name);
      if (name === LOCAL_CONTEXT) throw new UsageError('"local" is the built-in embedded context and cannot be redefined', 'choose another name');
      save((data) => {
        data.contexts[name] = context;
      });
    },
    use(name) {
      if (!exists(name)) throw unknownContext(name);
      save((data) => {
        data.currentContext = name;
      });
    },
    remove(name) {
      if (name === LOCAL_CONTEXT) throw new UsageError('the built-in "local" context cannot be removed');
      if (!exists(name)) throw unknownContext(name);
      save((data) => {
        delete data.contexts[name];
        if (data.currentContext === name) data.currentContext = undefined;
      });
    },
  };
  return store;
}

/**
 * The tokens file must be the file itself: read through a link, the target's content would be
 * taken for contexts (and a write would replace the link, surprising whoever made it).
 */
function refuseLinkedConfigFile(path: string): void {
  let link = false;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch {
    return; // missing: nothing configured yet
  }
  if (link) {
    throw new EmmctlError(`the emmctl config file ${path} is a symbolic link; emmctl neither reads nor changes a config file through a link`, {
      hint: 'replace the link with the file itself (a linked config folder is fine)',
    });
  }
}

export function unknownContext(name: string): UsageError {
  return new UsageError(`no context named "${name}"`, 'run `emmctl context list` to see the contexts, or `emmctl context add NAME --server URL`');
}

/** The file's permission bits, or undefined when it does not exist yet. */
export function fileMode(path: string): number | undefined {
  return existsSync(path) ? statSync(path).mode & 0o777 : undefined;
}
