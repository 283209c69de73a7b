// The store contract on the SQLite engine: a real database file in a temp dir; "two engines" are
// two connections on one file, as the server and a CLI command (or two processes) share a data dir.
import { SqliteEngine } from '../../../src/store/sqlite/engine.js';
import { dataDirs } from '../../helpers/cli.js';
import { describeChannelContract } from './channels-contract.js';
import { describeStoreContract, type StoreContractOptions } from './store-contract.js';

const freshDir = dataDirs('emmctl-contract-sqlite-');

const options: StoreContractOptions = {
  open: async () => SqliteEngine.open(freshDir('data')),
  openTwo: async () => {
    const dataDir = freshDir('data');
    return [SqliteEngine.open(dataDir), SqliteEngine.open(dataDir)];
  },
};

describeStoreContract('sqlite', options);
describeChannelContract('sqlite', options);

// The server's configuration: WAL checkpoints on a worker thread, whose RESTART checkpoints take
// the write lock now and then (src/store/sqlite/checkpointer.ts); the contract holds unchanged.
const background: StoreContractOptions = {
  open: async () => SqliteEngine.open(freshDir('data'), { checkpoint: 'background' }),
  openTwo: async () => {
    const dataDir = freshDir('data');
    return [SqliteEngine.open(dataDir, { checkpoint: 'background' }), SqliteEngine.open(dataDir, { checkpoint: 'background' })];
  },
};

describeStoreContract('sqlite, checkpoints on a worker thread', background);
describeChannelContract('sqlite, checkpoints on a worker thread', background);
