// Shared set-up of the intune tests: the fake Graph + login (fake-graph.ts), the intune driver
// pointed at it in-process, and the CLI's environment for a context that names it.
import { join } from 'node:path';
import { IntuneBackend } from '../../src/backends/intune/index.js';
import { tempDir } from '../helpers/cli.js';
import { startFakeGraph, type FakeGraph, type FakeGraphOptions } from './fake-graph.js';

export interface IntuneFixture {
  fake: FakeGraph;
  backend: IntuneBackend;
  stateDir: string;
  cleanup(): Promise<void>;
}

export async function intuneFixture(options: FakeGraphOptions = {}): Promise<IntuneFixture> {
  const fake = await startFakeGraph(options);
  const dir = tempDir('emmctl-intune-');
  const stateDir = join(dir.path, 'state');
  const backend = new IntuneBackend({
    kind: 'intune',
    tenantId: fake.tenantId,
    clientId: fake.clientId,
    clientSecret: fake.secret,
    graphEndpoint: fake.graphUrl,
    loginEndpoint: fake.loginUrl,
    stateDir,
    actor: 'local:intune-test',
  });
  return {
    fake,
    backend,
    stateDir,
    cleanup: async () => {
      await backend.close();
      await fake.close();
      dir.cleanup();
    },
  };
}
