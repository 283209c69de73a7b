// What both HTTP contract files run against: a real `emmctl server` child process on the given
// store (a data dir, or a database as test/helpers/postgres.ts names it for the CLI), an admin
// token made on that store with `emmctl server token create`, and devices through the real agent
// API (the simulator's AgentClient). `release` frees the store once the server has stopped.
import { AgentClient } from '../../src/agent/client.js';
import { openHttpBackend } from '../../src/backends/http/index.js';
import { createApiToken, startServerProcess } from '../helpers/server.js';
import type { ContractFixture } from './backend-contract.js';

export async function serveForContract(store: Parameters<typeof startServerProcess>[0], release: () => unknown): Promise<ContractFixture> {
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
      await release();
    },
  };
}
