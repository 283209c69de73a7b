// The files `emmctl init` writes. Kept beside the loader so a test can validate them.
import { schemaText } from './schema-text.js';

const MODELINE = '# yaml-language-server: $schema=./emmctl.schema.json';

export interface ScaffoldFile {
  path: string;
  content: string;
}

export function scaffoldFiles(): ScaffoldFile[] {
  return [
    { path: 'emmctl.schema.json', content: schemaText() },
    {
      path: 'groups.yaml',
      content: `${MODELINE}
# Groups select devices. Every condition under match must hold; a list matches any of its values.
# The built-in group "all" matches every device and needs no declaration.
apiVersion: emmctl/v1
kind: Group
metadata:
  name: corporate-phones
  description: Company-owned Android and iOS phones
spec:
  match:
    platforms: [android, ios]
    ownership: corporate
---
apiVersion: emmctl/v1
kind: Group
metadata:
  name: byod
  description: Personally owned devices (work profile / user enrollment)
spec:
  match:
    ownership: personal
`,
    },
    {
      path: 'policies.yaml',
      content: `${MODELINE}
# Policies push configuration to the devices of their groups. When two policies set the same
# field, the higher priority wins; at equal priority the stricter value wins.
apiVersion: emmctl/v1
kind: Policy
metadata:
  name: corporate-phone-baseline
spec:
  assign: [corporate-phones]
  priority: 100
  settings:
    passcode:
      required: true
      minLength: 6
      quality: numeric-complex
      maxFailedAttempts: 10
    screenLock:
      maxTimeoutSeconds: 300
    encryption: required
    usbFileTransfer: disabled
    wifi:
      - ssid: Example-Corp
        security: wpa2-personal
        # Secrets never sit in files: read from the environment at plan/apply time.
        password: \${env:CORP_WIFI_PSK}
        autoConnect: true
---
apiVersion: emmctl/v1
kind: Policy
metadata:
  name: byod-work-profile
spec:
  assign: [byod]
  settings:
    passcode:
      required: true
      minLength: 4
    screenCapture: disabled
`,
    },
    {
      path: 'compliance.yaml',
      content: `${MODELINE}
# A device that fails a rule is marked non-compliant at once, locked after 3 days and retired
# (corporate data removed) after 30 days, unless it becomes compliant again in between.
apiVersion: emmctl/v1
kind: CompliancePolicy
metadata:
  name: baseline-compliance
  description: Minimum bar for every managed device
spec:
  assign: [all]
  rules:
    minOsVersion: { android: "13", ios: "17.0", windows: "10.0.19045" }
    encryption: required
    passcode: required
    compromised: blocked
    maxCheckInAgeDays: 14
  actions:
    - { after: 0d, do: markNoncompliant }
    - { after: 3d, do: lock }
    - { after: 30d, do: retire }
`,
    },
    {
      path: 'enrollment.yaml',
      content: `${MODELINE}
# Enrollment profiles: tokens made from them (emmctl enroll token create --profile NAME)
# enroll devices with this platform, ownership and labels.
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata:
  name: corporate-phones
spec:
  platforms: [android, ios]
  ownership: corporate
  labels: { fleet: corporate-phones }
  group: corporate-phones
  tokenTtl: 7d
  maxUses: 100
---
apiVersion: emmctl/v1
kind: EnrollmentProfile
metadata:
  name: byod
spec:
  platforms: [android, ios]
  ownership: personal
  tokenTtl: 30d
`,
    },
    {
      path: '.github/workflows/validate-policies.yml',
      content: `# Validates the policy files on every push and pull request; problems show up as
# annotations on the changed lines. Assumes this folder is the repository root.
name: Validate policies
on:
  push:
  pull_request:
jobs:
  validate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      # Add --env-check once the secrets (e.g. CORP_WIFI_PSK) are set in the job's env.
      - run: npx --yes emmctl validate . -o github
`,
    },
  ];
}
