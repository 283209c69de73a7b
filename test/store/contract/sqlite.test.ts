// The store contract on the SQLite engine: a real database file in a temp dir; "two engines" are
// two connections on one file, as the server and a CLI command (or two processes) share a data dir.
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { SqliteEngine } from '../../../src/store/sqlite/engine.js';
import { tempDir } from '../../helpers/cli.js';
import { describeChannelContract } from './channels-contract.js';
import { describeStoreContract, type StoreContractOptions } from './store-contract.js';

const dirs: Array<{ cleanup(): void }> = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

function freshDir(): string {
  const dir = tempDir('emmctl-contract-sqlite-');
  dirs.push(dir);
  return join(dir.path, 'data');
}

const options: StoreContractOptions = {
  open: async () => SqliteEngine.open(freshDir()),
  openTwo: async () => {
    const dataDir = freshDir();
    return [SqliteEngine.open(dataDir), SqliteEngine.open(dataDir)];
  },
};

describeStoreContract('sqlite', options);
describeChannelContract('sqlite', options);

// The server's configuration: WAL checkpoints on a worker thread, whose RESTART checkpoints take
// the write lock now and then (src/store/sqlite/checkpointer.ts); the contract holds unchanged.
const background: StoreContractOptions = {
  open: async () => SqliteEngine.open(freshDir(), { checkpoint: 'background' }),
  openTwo: async () => {
    const dataDir = freshDir();
    return [SqliteEngine.open(dataDir, { checkpoint: 'background' }), SqliteEngine.open(dataDir, { checkpoint: 'background' })];
  },
};

describeStoreContract('sqlite, checkpoints on a worker thread', background);
describeChannelContract('sqlite, checkpoints on a worker thread', background);
