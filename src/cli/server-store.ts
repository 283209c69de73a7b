// Which store `emmctl server` and its server-side subcommands use: a PostgreSQL database
// (--database URL, else EMMCTL_DATABASE_URL) or the embedded SQLite store (--data-dir, else
// EMMCTL_DATA_DIR, else the user data dir). A flag beats a variable; two flags naming different
// stores, or both variables set with no flag to decide, are usage errors rather than a guess.
import { UsageError } from '../errors.js';
import { defaultDataDir } from './target.js';

export type ServerStoreChoice =
  | { engine: 'postgres'; url: string; source: '--database' | 'EMMCTL_DATABASE_URL' }
  | { engine: 'sqlite'; dataDir: string };

export async function chooseServerStore(flags: { database?: string; dataDir?: string }, env: Record<string, string | undefined>): Promise<ServerStoreChoice> {
  const { isDatabaseUrl, redactUrl } = await import('../store/postgres/config.js');
  if (flags.database !== undefined && flags.dataDir !== undefined) {
    throw new UsageError('--database and --data-dir name two different stores', 'give one: --database URL for PostgreSQL, or --data-dir DIR for the embedded store');
  }
  let url: string | undefined;
  let source: '--database' | 'EMMCTL_DATABASE_URL' = '--database';
  if (flags.database !== undefined) url = flags.database;
  else if (flags.dataDir === undefined && env.EMMCTL_DATABASE_URL) {
    if (env.EMMCTL_DATA_DIR) throw new UsageError('EMMCTL_DATABASE_URL and EMMCTL_DATA_DIR are both set: which store is meant?', 'unset one, or pass --database URL or --data-dir DIR');
    url = env.EMMCTL_DATABASE_URL;
    source = 'EMMCTL_DATABASE_URL';
  }
  if (url === undefined) return { engine: 'sqlite', dataDir: flags.dataDir ?? defaultDataDir(env) };
  if (!isDatabaseUrl(url)) throw new UsageError(`${source} ${redactUrl(url)} is not a PostgreSQL URL`, 'for example postgres://emmctl@db.example.com:5432/emmctl?sslmode=verify-full');
  // A flag's value is visible to every user of the machine (ps, /proc, shell history).
  if (source === '--database' && hasPassword(url)) {
    throw new UsageError(`--database ${redactUrl(url)}: a password does not go in a flag, where other users of this machine can read it`, 'give it in EMMCTL_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass (or the whole URL in EMMCTL_DATABASE_URL)');
  }
  return { engine: 'postgres', url, source };
}

/**
 * The PostgreSQL database `server token create|list|revoke` act on, or undefined for the usual
 * target (--data-dir, --context, EMMCTL_SERVER, EMMCTL_DATA_DIR, the current context).
 * --database decides; EMMCTL_DATABASE_URL only when no other target is named, as on a server
 * host where `emmctl server` itself reads it.
 */
export async function chooseTokenStore(flags: { database?: string; dataDir?: string; context?: string }, env: Record<string, string | undefined>): Promise<Extract<ServerStoreChoice, { engine: 'postgres' }> | undefined> {
  if (flags.database !== undefined && flags.context !== undefined) {
    throw new UsageError('--database and --context name two different targets', 'give --database URL for the database itself, or --context NAME for a server');
  }
  const named = flags.database !== undefined || (env.EMMCTL_DATABASE_URL && flags.dataDir === undefined && flags.context === undefined && !env.EMMCTL_SERVER);
  if (!named) return undefined;
  const choice = await chooseServerStore({ database: flags.database, dataDir: flags.dataDir }, env);
  return choice.engine === 'postgres' ? choice : undefined;
}

export function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    // Unparseable: refuse anything shaped like user:secret@ all the same.
    return /^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:[^@]*@/i.test(url);
  }
}
