// The Backend contract on the HTTP driver: a real `emmctl server` child process on a loopback
// port over a real SQLite store, an admin token from `emmctl server token create`, and devices
// that enroll and check in through the real agent API (the simulator's AgentClient).
import { join } from 'node:path';
import { AgentClient } from '../../src/agent/client.js';
import { openHttpBackend } from '../../src/backends/http/index.js';
import { tempDir } from '../helpers/cli.js';
import { createApiToken, startServerProcess } from '../helpers/server.js';
import { backendContract } from './backend-contract.js';

backendContract('http', async () => {
  const dir = tempDir('emmctl-contract-http-');
  const dataDir = join(dir.path, 'store');
  const token = await createApiToken(dataDir, 'admin', 'contract');
  // The contract checks behaviour, not throttling: the per-device limit would only slow it down.
  const server = await startServerProcess(dataDir, ['--no-access-log', '--device-rate-limit', 'off']);
  const backend = await openHttpBackend({ server: server.url, token, timeoutMs: 10_000 });
  const agent = new AgentClient({ server: server.url, timeoutMs: 10_000 });
  return {
    backend,
    agent: {
      enroll: (request) => agent.enroll(request),
      checkIn: (credential, request) => agent.checkIn(credential, request),
      reportResult: (credential, commandId, report) => agent.reportResult(credential, commandId, report),
    },
    cleanup: async () => {
      agent.close();
      await backend.close();
      await server.stop();
      dir.cleanup();
    },
  };
});
