// The Backend contract on the intune driver, against the fake Graph. Intune is its own EMM: its
// devices enroll through Intune's agent, not emmctl's, and emmctl keeps no secret field there
// (Wi-Fi is not mapped), so those cases are skipped under a title that says so; versions are
// fingerprints of the Graph objects, not counters. The fixture's enrollment profile is corporate
// Android, the only kind Intune takes from emmctl.
import { backendContract, CONTRACT_DOCS } from '../contract/backend-contract.js';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import { intuneFixture } from './helpers.js';

const docs: ResourceDocument[] = CONTRACT_DOCS.map((d) =>
  d.kind === 'EnrollmentProfile' ? { ...d, spec: { ...d.spec, platforms: ['android'] } } : d,
);

backendContract(
  'intune',
  async () => {
    const fx = await intuneFixture();
    return {
      backend: fx.backend,
      agent: {
        enroll: () => Promise.reject(new Error('Intune devices enroll through Intune')),
        checkIn: () => Promise.reject(new Error('Intune devices check in with Intune')),
        reportResult: () => Promise.reject(new Error('Intune devices report to Intune')),
      },
      cleanup: () => fx.cleanup(),
    };
  },
  {
    countedVersions: false,
    agent: "devices enroll and check in through Intune's own agent (its device and command behaviour is in story.test.ts and faults.test.ts)",
    secrets: 'Intune holds no emmctl secret field (Wi-Fi profiles are not mapped: docs/intune.md)',
    docs,
  },
);
