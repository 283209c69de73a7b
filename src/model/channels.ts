// Device channels: ways to reach a device other than emmctl's own agent protocol (today the
// Android Management API; an Apple MDM server could be the next). The fleet rules stay one set in
// the service: a channel brings what its devices report (ChannelDeviceIntake) and carries out
// what the rules decide (configurations, commands). These are the shapes between the two.
import type { CommandStatus, DeviceCommand, DeviceState, Posture, RuleFailure } from './fleet.js';
import type { Ownership } from './policy.generated.js';
import type { EffectiveConfiguration } from './requests.js';

export type ChannelName = 'android';
export const CHANNEL_NAMES: readonly ChannelName[] = ['android'];

/** fm: company-owned fully managed; wpc: company-owned with a work profile; wpp: personally owned with a work profile. */
export type ChannelMode = 'fm' | 'wpc' | 'wpp';
export const CHANNEL_MODES: readonly ChannelMode[] = ['fm', 'wpc', 'wpp'];

/** What a channel says about one of its devices (a device listing, a status report, an enrollment notice). */
export interface ChannelDeviceIntake {
  channel: ChannelName;
  /** The channel's name for the device: enterprises/E/devices/D. */
  ref: string;
  /** The channel's enrollment token the device enrolled with (enrollmentTokenName). */
  tokenRef?: string;
  /** The emmctl enrollment token id, as the channel carried it back (additionalData). */
  tokenId?: string;
  serial: string;
  ownership: Ownership;
  mode: ChannelMode;
  name?: string;
  model?: string;
  osVersion: string;
  /** Undefined while the device has not reported everything posture needs: compliance is then unknown. */
  posture?: Posture;
  /** When the device reported it (lastStatusReportTime): an older report never overwrites a newer. */
  reportedAt?: string;
  /**
   * When the device enrolled at the channel (enrollmentTime): the token's expiry is judged at that
   * instant, since the channel enforced it then and the intake may come later.
   */
  enrolledAt?: string;
  /** From appliedPolicyName (parsePolicyId). */
  appliedConfigVersion?: string;
  /** The channel's own non-compliance details (posture.ts), shown as compliance failures. */
  failures: RuleFailure[];
  /** The device no longer exists at the channel (state DELETED, or 404): wiped or removed there. */
  gone?: boolean;
}

export interface ChannelIntakeResult {
  /** refused: the device may not be managed (the channel should remove it); stale: nothing newer than what is stored. */
  outcome: 'enrolled' | 'updated' | 'stale' | 'refused';
  deviceId?: string;
  reason?: string;
}

export interface ChannelConfiguration {
  deviceId: string;
  ref: string;
  mode: ChannelMode;
  state: DeviceState;
  /** The device form: secret values in place (for compiling the channel's policy only, never shown). */
  configuration: EffectiveConfiguration;
  /** The channel policy the device was last moved to. */
  policy?: string;
}

export interface ChannelCommand {
  command: DeviceCommand;
  ref: string;
  mode: ChannelMode;
}

/** A ledger row whose outcome is still to be followed at the channel. */
export interface ChannelOperation {
  commandId: string;
  deviceId: string;
  ref: string;
  /** The channel's operation name, when the send answered one. */
  operation: string | null;
  /** unknown: the answer to the send was lost; look it up before ever sending again. */
  state: 'sent' | 'unknown';
  request: unknown;
  sentAt: string;
  attempts: number;
  expiresAt?: string;
}

export type ChannelFinalStatus = Extract<CommandStatus, 'acknowledged' | 'failed' | 'expired' | 'cancelled'>;
