// What the Android runtime's story and fault tests share: the policy repo, the server flags that
// point a real `emmctl server` at the fake Google, and a wait for what the server does on its own
// ticks (a deadline for a hung server, never a timing threshold that decides a test).
import type { FakeAmapi } from './fake-amapi.js';

/** The Wi-Fi pre-shared key of the story's network: it must reach Google's policy body and nothing else. */
export const WIFI_PSK = 'correct-horse-battery-staple-77';

export const ANDROID_REPO = `apiVersion: emmctl/v1
kind: Group
metadata:
  name: android-fleet
spec:
  match:
    platforms: [android]
    ownership: corporate
---
apiVersion: emmctl/v1
kind: Policy
metadata:
  name: android-baseline
spec:
  assign: [android-fleet]
  priority: 100
  settings:
    passcode:
      required: true
      quality: numeric
      minLength: 6
    encryption: required
    camera: disabled
    wifi:
      - ssid: Corp-WiFi
        security: wpa2-personal
        password: \${env:WIFI_PSK}
---
apiVersion: emmctl/v1
kind: CompliancePolicy
metadata:
  name: android-compliance
spec:
  assign: [android-fleet]
  rules:
    minOsVersion: { android: "13" }
    encryption: required
    passcode: required
  actions:
    - { after: 0d, do: markNoncompliant }
    - { after: 0s, do: lock }
    - { after: 1h, do: notify }
---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata:
  name: android-corp
spec:
  platforms: [android]
  ownership: corporate
  group: android-fleet
  tokenTtl: 1d
`;

/** `emmctl server` flags for the Android channel on the fake, with a short tick and lookup delay so the tests need not wait long. */
export function androidServerArgs(fake: FakeAmapi, opts: { tick?: string; credentials?: string; endpoint?: string } = {}): string[] {
  return ['--no-access-log', '--tick', opts.tick ?? '0.5', '--android-lookup-delay', '2', '--android-enterprise', fake.enterprise, '--google-credentials', opts.credentials ?? fake.credentialsFile, '--amapi-endpoint', opts.endpoint ?? fake.url];
}

/** Google's token value inside the provisioning payload (what a device scans). */
export function tokenValue(qrCode: string): string {
  const payload = JSON.parse(qrCode) as Record<string, Record<string, unknown> | undefined>;
  const value = payload['android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE']?.['com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN'];
  if (typeof value !== 'string' || value === '') throw new Error(`no enrollment token in the QR payload: ${qrCode}`);
  return value;
}

/** Polls `probe` until it returns something other than undefined; fails naming `what` after the deadline. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 40_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Resolves after the server has made `n` more devices.list calls: that many passes of its sync went by. */
export async function passes(fake: FakeAmapi, n: number): Promise<void> {
  const count = () => fake.requests.filter((r) => r.call === 'enterprises.devices.list').length;
  const start = count();
  await waitFor(`${n} more device syncs`, async () => (count() >= start + n ? true : undefined));
}
