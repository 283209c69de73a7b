// The Backend contract on the embedded driver: a real SQLite file in a temp dir. The agent side
// is a second FleetService handle on the same file, as the server and the CLI would share it.
import { join } from 'node:path';
import { openEmbeddedBackend } from '../../src/backends/embedded/index.js';
import { BackendError } from '../../src/errors.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { tempDir } from '../helpers/cli.js';
import { backendContract } from './backend-contract.js';

backendContract('embedded', async () => {
  const dir = tempDir('emmctl-contract-');
  const dataDir = join(dir.path, 'store');
  const backend = await openEmbeddedBackend({ dataDir, actor: 'local:contract' });
  const agentStore = await FleetService.open(dataDir);
  const device = async (credential: string) => {
    const id = await agentStore.authenticateDevice(credential);
    if (!id) throw new BackendError('unauthorized', 'unknown or revoked device credential');
    return id;
  };
  return {
    backend,
    agent: {
      enroll: async (request) => await agentStore.enrollDevice(request, '127.0.0.1'),
      checkIn: async (credential, request) => await agentStore.checkIn(await device(credential), request),
      reportResult: async (credential, commandId, report) => await agentStore.reportCommandResult(await device(credential), commandId, report),
    },
    cleanup: async () => {
      await agentStore.close();
      dir.cleanup();
    },
  };
});
