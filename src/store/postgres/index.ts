// The PostgreSQL engine's front door: open a pool on a database URL and bring its schema up to
// date (under the migration lock, so replicas starting together never race).
import { PostgresEngine, type PostgresEngineOptions } from './engine.js';
import { migratePostgres, type MigrationReport } from './migrations.js';

export { PostgresEngine, type PostgresEngineOptions } from './engine.js';
export { isDatabaseUrl, parseDatabaseUrl, redactUrl, type PostgresSettings } from './config.js';
export { migratePostgres, postgresSchemaVersion, PG_LATEST_VERSION, type MigrationReport } from './migrations.js';

export interface OpenPostgresOptions extends PostgresEngineOptions {
  /** false: use the schema as it is (`emmctl server migrate` applies it); default true. */
  migrate?: boolean;
}

export async function openPostgres(url: string, options: OpenPostgresOptions = {}): Promise<{ engine: PostgresEngine; migration?: MigrationReport }> {
  const engine = await PostgresEngine.open(url, options);
  try {
    const migration = options.migrate === false ? undefined : await migratePostgres(engine);
    return { engine, migration };
  } catch (e) {
    await engine.close();
    throw e;
  }
}
