// emmctl's device commands as Android Management API requests, and AMAPI's answers as emmctl
// command states. Pure: the command ledger that makes a resend safe lives with the service.
//
//   lock    → devices.issueCommand LOCK (every mode; with a separate work lock, the work profile)
//   reboot  → devices.issueCommand REBOOT (AMAPI reboots fully managed devices only)
//   wipe    → devices.delete: a factory reset on a company-owned device; on a personal device
//             the work profile is removed (AMAPI never factory-resets a personal device)
//   retire  → personal work profile: devices.delete (the work profile goes, the device stays);
//             company-owned work profile: issueCommand RELINQUISH_OWNERSHIP (work profile and
//             policies removed, the device becomes personal); fully managed: refused, since
//             there is no corporate data apart from the device and only a wipe removes it
// `effect` says what the device will actually undergo, so the service records that, not a guess.
// The command's expiry becomes the Command's `duration` (AMAPI's default is ten minutes).
import type { CommandStatus, CommandType } from '../../model/fleet.js';
import { DEVICE_LIMITS } from '../../model/device-limits.js';
import type { AndroidDeviceMode } from './compile.js';
import { operationError } from './errors.js';

export type CommandEffect = 'locked' | 'rebooted' | 'factory-reset' | 'work-profile-removed' | 'ownership-relinquished';

export type AmapiCommandRequest =
  | { method: 'issueCommand'; device: string; body: { type: 'LOCK' | 'REBOOT' | 'RELINQUISH_OWNERSHIP'; duration?: string } }
  | { method: 'delete'; device: string; wipeReasonMessage?: string };

export type CommandPlan =
  | { ok: true; request: AmapiCommandRequest; effect: CommandEffect }
  /** Not sent: `status` is what the emmctl command becomes (failed: AMAPI cannot do it; expired: too late). */
  | { ok: false; status: 'failed' | 'expired'; detail: string };

export interface CommandInput {
  type: CommandType;
  /** enterprises/E/devices/D. */
  device: string;
  mode: AndroidDeviceMode;
  reason?: string;
  expiresAt?: string;
  now: Date;
}

/** devices.delete's wipeReasonMessage holds at most this many characters (discovery document). */
export const MAX_WIPE_REASON = 200;
const DEVICE_NAME = /^enterprises\/[^/]+\/devices\/[^/]+$/;
const OPERATION_NAME = /^enterprises\/[^/]+\/devices\/[^/]+\/operations\/[^/]+$/;

export function commandRequest(input: CommandInput): CommandPlan {
  const { type, device, mode, now } = input;
  if (!DEVICE_NAME.test(device)) throw new Error(`not an AMAPI device name: ${JSON.stringify(device)}`);
  let duration: string | undefined;
  if (input.expiresAt !== undefined) {
    const left = Date.parse(input.expiresAt) - now.getTime();
    if (Number.isNaN(left)) throw new Error(`expiresAt is not a timestamp: ${JSON.stringify(input.expiresAt)}`);
    if (left <= 0) return { ok: false, status: 'expired', detail: 'the command expired before it was sent to Google' };
    duration = `${Math.ceil(left / 1000)}s`;
  }
  const issue = (t: 'LOCK' | 'REBOOT' | 'RELINQUISH_OWNERSHIP', effect: CommandEffect): CommandPlan => ({
    ok: true,
    request: { method: 'issueCommand', device, body: duration === undefined ? { type: t } : { type: t, duration } },
    effect,
  });
  const remove = (effect: CommandEffect): CommandPlan => {
    // The message is shown on a personal device before its work profile goes; a company-owned device ignores it.
    const message = mode.ownership === 'personal' && input.reason ? cut(input.reason, MAX_WIPE_REASON) : undefined;
    return { ok: true, request: message === undefined ? { method: 'delete', device } : { method: 'delete', device, wipeReasonMessage: message }, effect };
  };
  switch (type) {
    case 'lock':
      return issue('LOCK', 'locked');
    case 'reboot':
      if (mode.managementMode !== 'fully-managed') return { ok: false, status: 'failed', detail: 'AMAPI reboots only fully managed devices; this one has a work profile' };
      return issue('REBOOT', 'rebooted');
    case 'wipe':
      return remove(mode.ownership === 'corporate' ? 'factory-reset' : 'work-profile-removed');
    case 'retire':
      if (mode.ownership === 'personal') return remove('work-profile-removed');
      if (mode.managementMode === 'work-profile') return issue('RELINQUISH_OWNERSHIP', 'ownership-relinquished');
      return { ok: false, status: 'failed', detail: 'a fully managed device keeps no corporate data apart from the device itself: only a wipe (factory reset) removes it' };
  }
}

export type CommandOutcome =
  /** Google has it; the device has not carried it out yet. */
  | { status: 'sent'; operation: string }
  | { status: Exclude<CommandStatus, 'queued' | 'sent'>; operation: string; detail?: string };

/**
 * An issueCommand Operation (its answer, or operations.get later) as the emmctl command's state:
 * not done → sent, or expired once `expiresAt` has passed; done → acknowledged, or failed with
 * the error's google.rpc.Code and the Command's errorCode; CANCELLED → cancelled; a
 * DEADLINE_EXCEEDED error → expired. Throws on a body that is not an Operation of a device.
 */
export function commandOutcome(operation: unknown, opts: { now: Date; expiresAt?: string }): CommandOutcome {
  if (operation === null || typeof operation !== 'object' || Array.isArray(operation)) throw new Error('the answer is not an Operation');
  const op = operation as Record<string, unknown>;
  const name = op.name;
  if (typeof name !== 'string' || name.length > 512 || !OPERATION_NAME.test(name)) throw new Error('the Operation has no name of the form enterprises/E/devices/D/operations/O');
  if (op.done !== undefined && typeof op.done !== 'boolean') throw new Error('Operation.done must be true or false');
  if (op.done !== true) {
    const expired = opts.expiresAt !== undefined && opts.now.getTime() >= Date.parse(opts.expiresAt);
    return expired ? { status: 'expired', operation: name, detail: 'the device did not carry the command out before it expired' } : { status: 'sent', operation: name };
  }
  const error = operationError(op.error);
  if (!error) return { status: 'acknowledged', operation: name };
  const meta = op.metadata !== null && typeof op.metadata === 'object' ? (op.metadata as Record<string, unknown>) : {};
  const code = typeof meta.errorCode === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(meta.errorCode) && meta.errorCode !== 'COMMAND_ERROR_CODE_UNSPECIFIED' ? ` (${meta.errorCode})` : '';
  const detail = cut(`${error.status}: ${error.message}${code}`, DEVICE_LIMITS.detail);
  if (error.status === 'CANCELLED') return { status: 'cancelled', operation: name, detail };
  if (error.status === 'DEADLINE_EXCEEDED') return { status: 'expired', operation: name, detail };
  return { status: 'failed', operation: name, detail };
}

/** At most `max` code points, an ellipsis marking a cut. */
function cut(s: string, max: number): string {
  const points = [...s.slice(0, max * 2 + 2)];
  return points.length <= max && s.length <= max * 2 + 2 ? s : `${points.slice(0, max - 1).join('')}…`;
}
