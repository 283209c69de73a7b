// `enroll token create --profile P` takes P's tokenTtl and maxUses when the flags are not given,
// on the embedded store and through a real server alike; flags still win.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { runCli } from '../helpers/cli.js';
import { createToken, killAll, startServerProcess, type ServerProcess } from '../server/helpers.js';
import { seedStore, type SeededStore } from './devices.seed.js';

const PROFILES: ResourceDocument[] = [
  { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'laptops' }, spec: { platforms: ['windows'], ownership: 'corporate', tokenTtl: '12h', maxUses: 1000 } },
  { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'plain' }, spec: { platforms: ['android'], ownership: 'personal' } },
];
const HOUR = 3_600_000;

let fleet: SeededStore;
let server: ServerProcess;
let serverEnv: Record<string, string>;

beforeAll(async () => {
  fleet = await seedStore([]);
  const store = await FleetService.open(fleet.dataDir);
  try {
    await store.applyChanges(PROFILES.map((d) => ({ op: 'create' as const, kind: d.kind, name: d.metadata.name, document: d })), { name: 'local:seed', source: 'local' });
  } finally {
    await store.close();
  }
  const operator = await createToken(fleet.dataDir, 'operator');
  server = await startServerProcess(fleet.dataDir, ['--no-access-log']);
  serverEnv = { HOME: fleet.env.HOME!, EMMCTL_CONFIG_DIR: fleet.env.EMMCTL_CONFIG_DIR!, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: operator };
});
afterAll(async () => {
  if (server) await server.stop();
  killAll();
  fleet?.cleanup();
});

interface Created { expiresAt: string; createdAt: string; maxUses?: number }

for (const backend of ['embedded', 'server'] as const) {
  describe(`enroll token create defaults (${backend})`, () => {
    const create = async (...args: string[]): Promise<Created> => {
      const r = await runCli(['enroll', 'token', 'create', ...args, '-o', 'json'], { env: backend === 'server' ? serverEnv : fleet.env });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Created;
    };
    const ttl = (t: Created) => Date.parse(t.expiresAt) - Date.parse(t.createdAt);

    it("takes the profile's tokenTtl and maxUses when --expires and --max-uses are not given", async () => {
      const t = await create('--profile', 'laptops');
      expect(ttl(t)).toBe(12 * HOUR);
      expect(t.maxUses).toBe(1000);
    });

    it('falls back to 7 days and unlimited uses for a profile without defaults', async () => {
      const t = await create('--profile', 'plain');
      expect(ttl(t)).toBe(7 * 24 * HOUR);
      expect(t.maxUses).toBeUndefined();
    });

    it('lets the flags override the profile', async () => {
      const t = await create('--profile', 'laptops', '--expires', '3d', '--max-uses', '5');
      expect(ttl(t)).toBe(3 * 24 * HOUR);
      expect(t.maxUses).toBe(5);
    });
  });
}
