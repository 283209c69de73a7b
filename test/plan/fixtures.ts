// Policy files and a sandbox (data dir + config dir in a temp dir) for the plan/apply/export
// end-to-end tests, which drive the built CLI as a child process.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir, type CliOptions, type CliResult } from '../helpers/cli.js';

export const GROUPS = `# yaml-language-server: $schema=../schema/emmctl.schema.json
apiVersion: emmctl/v1
kind: Group
metadata:
  name: corp-android
spec:
  match:
    platforms: [android]
    ownership: corporate
---
apiVersion: emmctl/v1
kind: Group
metadata: { name: all-managed }
spec:
  match: { platforms: [android, ios] }
`;

export const policies = (minLength = 6) => `apiVersion: emmctl/v1
kind: Policy
metadata: { name: android-baseline, description: Passcode and Wi-Fi for corporate Android }
spec:
  assign: [corp-android]
  settings:
    passcode: { required: true, minLength: ${minLength} }
    camera: disabled
    wifi:
      - ssid: corp
        security: wpa2-personal
        password: \${env:CORP_WIFI_PSK}
---
apiVersion: emmctl/v1
kind: CompliancePolicy
metadata: { name: baseline-compliance }
spec:
  assign: [all-managed]
  rules: { encryption: required, passcode: required, maxCheckInAgeDays: 14 }
  actions:
    - { after: 0d, do: markNoncompliant }
---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata: { name: corp }
spec: { platforms: [android], ownership: corporate, group: corp-android }
`;

export const SECRET = 'hunter2-wifi-psk-value';

export interface Sandbox {
  root: string;
  policyDir: string;
  env: Record<string, string>;
  cli(args: string[], opts?: CliOptions): Promise<CliResult>;
  write(name: string, text: string): string;
  cleanup(): void;
}

/** A temp dir with policies/ (groups + policies), a data dir and a config dir. */
export function sandbox(extraEnv: Record<string, string> = {}): Sandbox {
  const dir = tempDir('emmctl-plan-');
  const policyDir = join(dir.path, 'policies');
  mkdirSync(policyDir);
  const env = {
    EMMCTL_DATA_DIR: join(dir.path, 'data'),
    EMMCTL_CONFIG_DIR: join(dir.path, 'config'),
    EMMCTL_CACHE_DIR: join(dir.path, 'cache'),
    CORP_WIFI_PSK: SECRET,
    ...extraEnv,
  };
  const sb: Sandbox = {
    root: dir.path,
    policyDir,
    env,
    cli: (args, opts = {}) => runCli(args, { cwd: dir.path, ...opts, env: { ...env, ...(opts.env ?? {}) } }),
    write(name, text) {
      const path = join(dir.path, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup: dir.cleanup,
  };
  sb.write('policies/groups.yaml', GROUPS);
  sb.write('policies/policies.yaml', policies());
  return sb;
}

export interface RunningServer {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** `emmctl server` on 127.0.0.1:0 over `dataDir`, with an admin token made by `server token create`. */
export async function startServer(dataDir: string): Promise<RunningServer> {
  const { createApiToken, startServerProcess } = await import('../helpers/server.js');
  const token = await createApiToken(dataDir, 'admin', 'plan-tests');
  const server = await startServerProcess(dataDir, ['--no-access-log']);
  return { url: server.url, token, stop: async () => void (await server.stop()) };
}
