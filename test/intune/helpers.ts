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

/** A small policy repo every part of which Intune can take (corporate Android profile, a lock step, the tenant-wide check-in age). */
export const INTUNE_REPO = `apiVersion: emmctl/v1
kind: Group
metadata: { name: corp-android, description: Company Android phones }
spec:
  match: { platforms: [android], ownership: corporate }
---
apiVersion: emmctl/v1
kind: Group
metadata: { name: apple-byod }
spec:
  match: { platforms: [ios, ipados], ownership: personal, labels: { team: sales } }
---
apiVersion: emmctl/v1
kind: Policy
metadata: { name: android-baseline }
spec:
  assign: [corp-android]
  settings:
    passcode: { minLength: 8, quality: alphanumeric }
    screenLock: { maxTimeoutSeconds: 300 }
    camera: disabled
---
apiVersion: emmctl/v1
kind: Policy
metadata: { name: apple-byod }
spec:
  assign: [apple-byod]
  priority: 50
  settings:
    passcode: { required: true, minLength: 6 }
    screenCapture: disabled
---
apiVersion: emmctl/v1
kind: CompliancePolicy
metadata: { name: baseline }
spec:
  assign: [all]
  rules:
    minOsVersion: { android: "13", ios: "17.0", windows: "10.0.19045" }
    encryption: required
    compromised: blocked
    maxCheckInAgeDays: 14
  actions:
    - { after: 0d, do: markNoncompliant }
    - { after: 1d, do: notify }
    - { after: 3d, do: lock }
---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata: { name: corp-android }
spec: { platforms: [android], ownership: corporate }
`;
