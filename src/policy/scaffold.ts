// The files `emmctl init` writes. Kept beside the loader so a test can validate them.
import { schemaText } from './schema-text.js';

/** The policy files' folder: what `validate`, `plan` and `apply` read when given no path. */
export const SCAFFOLD_POLICY_DIR = 'policies';
export const SCAFFOLD_WORKFLOW = '.github/workflows/validate-policies.yml';
/**
 * yaml-language-server checks only the document that carries the modeline, so every document
 * of a multi-document file starts with it. The schema sits at the repo root, beside policies/.
 */
const MODELINE = '# yaml-language-server: $schema=../emmctl.schema.json';

export interface ScaffoldFile {
  path: string;
  content: string;
}

/** `version`: the emmctl the workflow pins (the running one). */
export function scaffoldFiles(version: string): ScaffoldFile[] {
  return [
    { path: 'emmctl.schema.json', content: schemaText() },
    {
      path: `${SCAFFOLD_POLICY_DIR}/groups.yaml`,
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
${MODELINE}
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
      path: `${SCAFFOLD_POLICY_DIR}/policies.yaml`,
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
${MODELINE}
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
      path: `${SCAFFOLD_POLICY_DIR}/compliance.yaml`,
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
      path: `${SCAFFOLD_POLICY_DIR}/enrollment.yaml`,
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
${MODELINE}
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
      path: SCAFFOLD_WORKFLOW,
      content: `# Validates the policy files on every push and pull request; problems show up as
# annotations on the changed lines.
#
# GitHub runs workflows only from .github/workflows/ at the ROOT of the repository. If this
# folder is inside a larger repository, GitHub ignores this copy: move the file to
# <repository root>/.github/workflows/ and set working-directory below to this folder's path.
name: Validate policies
on:
  push:
  pull_request:
permissions:
  contents: read
jobs:
  validate:
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: .
    env:
      # The exact emmctl this repository was scaffolded with; CI refuses any other.
      EMMCTL_VERSION: ${version}
      # Where CI installs that emmctl from. emmctl is not published on the npm registry, so a
      # bare name (\`npx --yes emmctl\`) would run whatever someone registers under it. Commit
      # the package (\`npm pack\` in an emmctl checkout at ${version} makes emmctl-${version}.tgz)
      # or use a git URL pinned to a commit; if you install a published package instead, it
      # must be its published name at the exact version, e.g. emmctl@${version}.
      EMMCTL_PACKAGE: ./emmctl-${version}.tgz
    steps:
      - uses: actions/checkout@v6
      - uses: actions/setup-node@v6
        with:
          node-version: 24
      - run: npm install --global --no-audit --no-fund "$EMMCTL_PACKAGE"
      - run: test "$(emmctl --version)" = "$EMMCTL_VERSION"
      # Add --env-check once the secrets (e.g. CORP_WIFI_PSK) are set in the job's env.
      - run: emmctl validate ${SCAFFOLD_POLICY_DIR} -o github
`,
    },
  ];
}
