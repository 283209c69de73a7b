// The Backend contract on the HTTP driver: a real `emmctl server` child process on a loopback
// port over a real SQLite store (see http-target.ts for the rest of the fixture).
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.js';
import { backendContract } from './backend-contract.js';
import { serveForContract } from './http-target.js';

backendContract('http', async () => {
  const dir = tempDir('emmctl-contract-http-');
  return serveForContract(join(dir.path, 'store'), () => dir.cleanup());
});
