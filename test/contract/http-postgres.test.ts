// The Backend contract on the HTTP driver with the server on PostgreSQL: a real `emmctl server`
// child process serving a fresh database (the password in PGPASSWORD, never a flag), an admin
// token from `emmctl server token create --database`, and devices through the real agent API.
import { AgentClient } from '../../src/agent/client.js';
import { openHttpBackend } from '../../src/backends/http/index.js';
import { cliDatabase, freshDatabase } from '../helpers/postgres.js';
import { createApiToken, startServerProcess } from '../helpers/server.js';
import { backendContract } from './backend-contract.js';

backendContract('http on postgres', async () => {
  const db = await freshDatabase();
  const store = cliDatabase(db);
  const token = await createApiToken(store, 'admin', 'contract');
  // The contract checks behaviour, not throttling: the per-device limit would only slow it down.
  const server = await startServerProcess(store, ['--no-access-log', '--device-rate-limit', 'off']);
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
      await db.drop();
    },
  };
});
