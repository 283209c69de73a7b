// The fleet's runtime records: devices, their posture, commands, tokens, audit.
// Shared by every layer (backends, server, agent, compliance, cli) so they agree on one shape;
// the JSON the CLI prints with `-o json` is these records, so field names are stable camelCase.
import type { SecretField } from './secrets.js';
import type { Ownership, Platform, ResourceDocument, ResourceKind } from './policy.generated.js';

export type DeviceState = 'preregistered' | 'enrolled' | 'wiped' | 'retired';
export const DEVICE_STATES: readonly DeviceState[] = ['preregistered', 'enrolled', 'wiped', 'retired'];
export const PLATFORMS: readonly Platform[] = ['android', 'ios', 'ipados', 'macos', 'windows'];
export const OWNERSHIPS: readonly Ownership[] = ['corporate', 'personal'];

/** What a device reports about itself at check-in. */
export interface Posture {
  osVersion: string;
  /** Security patch level, YYYY-MM-DD (Android; other platforms may omit). */
  patchLevel?: string;
  model?: string;
  serial?: string;
  encrypted: boolean;
  passcodeSet: boolean;
  /** Rooted / jailbroken. */
  compromised: boolean;
  installedApps: string[];
  /** Version hash of the effective configuration the agent last applied. */
  appliedConfigVersion?: string;
  /**
   * Devices reached through a device channel (src/model/channels.ts): the settings the channel
   * says the device did not apply, judged as failures beside the compliance rules'. Never taken
   * from an agent's check-in (parsePosture builds the posture from known fields only).
   */
  channelFailures?: RuleFailure[];
}

export type ComplianceStatus = 'compliant' | 'noncompliant' | 'in-grace' | 'unknown';
export const COMPLIANCE_STATUSES: readonly ComplianceStatus[] = ['compliant', 'noncompliant', 'in-grace', 'unknown'];

export interface RuleFailure {
  /** The compliance policy that holds the rule. */
  policy: string;
  /** Rule name as in the schema: minOsVersion, encryption, passcode, compromised, maxCheckInAgeDays, minPatchLevel, requiredApps, blockedApps. */
  rule: string;
  expected: string;
  actual: string;
  /**
   * Set on a failure a device channel reported (posture.channelFailures): it names an emmctl
   * Policy, not a CompliancePolicy, so it never starts a CompliancePolicy's grace period or
   * escalation steps, even one that happens to have the same name.
   */
  channel?: string;
}

export interface Device {
  id: string;
  name: string;
  serial?: string;
  platform: Platform;
  ownership: Ownership;
  owner?: string;
  labels: Record<string, string>;
  state: DeviceState;
  /** Enrollment profile the device enrolled with, if any. */
  profile?: string;
  model?: string;
  osVersion?: string;
  enrolledAt?: string;
  lastCheckIn?: string;
  posture?: Posture;
  /** An admin released this enrolled device for re-enrollment until then (`emmctl devices release`); past means the window closed. */
  releasedUntil?: string;
}

export interface DeviceCompliance {
  deviceId: string;
  name: string;
  owner?: string;
  platform: Platform;
  osVersion?: string;
  state: DeviceState;
  status: ComplianceStatus;
  /** Why the status is unknown although policies apply (one of them cannot be evaluated). */
  reason?: string;
  failures: RuleFailure[];
  /** Compliance policies that apply to the device. */
  policies: string[];
  lastCheckIn?: string;
  /** Start of the current non-compliance episode (first failing evaluation). */
  noncompliantSince?: string;
  /** Failing devices only: the escalation steps of this episode that fired, oldest first. */
  stepsFired?: FiredStep[];
  /** Failing devices only: steps due at the evaluated instant and not fired yet (the next reconcile fires them). */
  stepsDue?: EscalationStep[];
  /** Failing devices only, when a step is still to come: its action, when it is due, and its policy. */
  nextAction?: string;
  nextActionAt?: string;
  nextActionPolicy?: string;
  /** Set on a what-if evaluation (`compliance --at`): the instant evaluated. */
  evaluatedAt?: string;
}

/** An escalation step as the policy writes it: `{after, do}` of one compliance policy. */
export interface EscalationStep {
  policy: string;
  after: string;
  do: string;
  /** When it is due (episode start + after). */
  dueAt: string;
}

export interface FiredStep {
  policy: string;
  after: string;
  do: string;
  firedAt: string;
}

export type CommandType = 'lock' | 'reboot' | 'wipe' | 'retire';
export const COMMAND_TYPES: readonly CommandType[] = ['lock', 'reboot', 'wipe', 'retire'];
export type CommandStatus = 'queued' | 'sent' | 'acknowledged' | 'failed' | 'expired' | 'cancelled';
export const COMMAND_STATUSES: readonly CommandStatus[] = ['queued', 'sent', 'acknowledged', 'failed', 'expired', 'cancelled'];
export const FINAL_COMMAND_STATUSES: readonly CommandStatus[] = ['acknowledged', 'failed', 'expired', 'cancelled'];

export interface DeviceCommand {
  id: string;
  deviceId: string;
  type: CommandType;
  status: CommandStatus;
  reason?: string;
  /** Who asked: a token name, `local:<user>`, or `compliance:<policy>` for escalations. */
  requestedBy: string;
  createdAt: string;
  updatedAt: string;
  /** Result detail reported by the device (failure reason). */
  detail?: string;
  expiresAt?: string;
}

export interface EnrollmentToken {
  id: string;
  profile: string;
  createdAt: string;
  expiresAt: string;
  maxUses?: number;
  uses: number;
  revoked: boolean;
  createdBy: string;
}

export interface AuditRecord {
  id: string;
  at: string;
  actor: string;
  /** Where from: `local`, or the client address for the server. */
  source: string;
  /** Verb, e.g. `apply`, `command.wipe`, `token.create`, `enroll`. */
  action: string;
  /** What it acted on, e.g. `Policy/android-baseline`, `device/dev_123`. */
  target: string;
  detail?: Record<string, unknown>;
}

/** A policy-as-code resource as stored by a backend. */
export interface StoredResource {
  kind: ResourceKind;
  name: string;
  document: ResourceDocument;
  /** Increases by one on every change; used for stale-plan checks. */
  version: number;
  updatedAt: string;
  /** The document's secret fields: reference and digest, never the value (src/model/secrets.ts). */
  secrets?: SecretField[];
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; absent on the last page. */
  nextCursor?: string;
}

/**
 * The shape of a device id (newId('dev')). A Group's static `devices` list holds ids and serials
 * in one list, so a serial of this shape could pose as another device's id: such entries match
 * ids only, and no serial of this shape is accepted.
 */
export const DEVICE_ID_SHAPE = /^dev_[0-9a-f]{16}$/i;

/** Label keys, as the policy schema's Labels (schema/emmctl.schema.json) declares them. */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/;

/** What is wrong with a serial (undefined: nothing); the length bound is checked apart. */
export function serialProblem(serial: string): string | undefined {
  if (DEVICE_ID_SHAPE.test(serial)) return 'has the shape of a device id (dev_ and 16 hex digits)';
  // C0, DEL, C1 and lone surrogates: serials reach terminals, CSV files and static group lists.
  if (/[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u.test(serial)) return 'contains a control character or a lone surrogate';
  return undefined;
}

/** What is wrong with a label key (undefined: nothing). */
export function labelKeyProblem(key: string): string | undefined {
  return LABEL_KEY_PATTERN.test(key) ? undefined : `label key "${key}" must be letters, digits, ".", "_", "/" or "-", starting and ending with a letter or digit, at most 63 characters`;
}
