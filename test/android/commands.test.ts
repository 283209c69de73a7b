// emmctl commands → AMAPI requests (by device mode), and AMAPI Operations → command states.
// Command bodies and Operations are held to Google's discovery schema when the specs are there.
import { describe, expect, it } from 'vitest';
import { commandOutcome, commandRequest, MAX_WIPE_REASON, type CommandPlan } from '../../src/channels/android/commands.js';
import type { AndroidDeviceMode } from '../../src/channels/android/compile.js';
import type { CommandType } from '../../src/model/fleet.js';
import { checkAmapi, specsAvailable } from './amapi-schema.js';
import { amapiOperation, ENTERPRISE } from './fixtures.js';

const DEVICE = `${ENTERPRISE}/devices/3a8f20c1b7d4e5f6`;
const NOW = new Date('2026-03-01T12:00:00Z');
const FM: AndroidDeviceMode = { ownership: 'corporate', managementMode: 'fully-managed' };
const COPE: AndroidDeviceMode = { ownership: 'corporate', managementMode: 'work-profile' };
const BYOD: AndroidDeviceMode = { ownership: 'personal', managementMode: 'work-profile' };

function plan(type: CommandType, mode: AndroidDeviceMode, extra: { reason?: string; expiresAt?: string } = {}): CommandPlan {
  const p = commandRequest({ type, device: DEVICE, mode, now: NOW, ...extra });
  if (p.ok && p.request.method === 'issueCommand' && specsAvailable()) expect(checkAmapi('Command', p.request.body)).toEqual([]);
  return p;
}

describe('commandRequest', () => {
  it('lock is issueCommand LOCK in every mode, valid until the command expires', () => {
    for (const mode of [FM, COPE, BYOD]) expect(plan('lock', mode)).toEqual({ ok: true, request: { method: 'issueCommand', device: DEVICE, body: { type: 'LOCK' } }, effect: 'locked' });
    expect(plan('lock', FM, { expiresAt: '2026-03-01T13:00:00.500Z' })).toMatchObject({ request: { body: { type: 'LOCK', duration: '3601s' } } });
  });

  it('reboot is REBOOT on a fully managed device and refused with a work profile', () => {
    expect(plan('reboot', FM)).toEqual({ ok: true, request: { method: 'issueCommand', device: DEVICE, body: { type: 'REBOOT' } }, effect: 'rebooted' });
    for (const mode of [COPE, BYOD]) expect(plan('reboot', mode)).toEqual({ ok: false, status: 'failed', detail: 'AMAPI reboots only fully managed devices; this one has a work profile' });
  });

  it('wipe is devices.delete: a factory reset when company-owned, the work profile when personal (with the reason shown to its owner)', () => {
    expect(plan('wipe', FM, { reason: 'stolen' })).toEqual({ ok: true, request: { method: 'delete', device: DEVICE }, effect: 'factory-reset' });
    expect(plan('wipe', COPE)).toEqual({ ok: true, request: { method: 'delete', device: DEVICE }, effect: 'factory-reset' });
    expect(plan('wipe', BYOD, { reason: 'left the company' })).toEqual({ ok: true, request: { method: 'delete', device: DEVICE, wipeReasonMessage: 'left the company' }, effect: 'work-profile-removed' });
    const long = plan('wipe', BYOD, { reason: 'é'.repeat(300) });
    expect(long.ok && long.request.method === 'delete' && [...long.request.wipeReasonMessage!]).toHaveLength(MAX_WIPE_REASON);
  });

  it('retire removes corporate data only: the personal work profile, or ownership of a company-owned work profile; refused when fully managed', () => {
    expect(plan('retire', BYOD)).toEqual({ ok: true, request: { method: 'delete', device: DEVICE }, effect: 'work-profile-removed' });
    expect(plan('retire', COPE)).toEqual({ ok: true, request: { method: 'issueCommand', device: DEVICE, body: { type: 'RELINQUISH_OWNERSHIP' } }, effect: 'ownership-relinquished' });
    expect(plan('retire', FM)).toEqual({ ok: false, status: 'failed', detail: expect.stringContaining('only a wipe (factory reset) removes it') });
  });

  it('sends nothing for a command that has already expired', () => {
    expect(plan('wipe', FM, { expiresAt: '2026-03-01T12:00:00Z' })).toEqual({ ok: false, status: 'expired', detail: 'the command expired before it was sent to Google' });
  });

  it('refuses what is not an AMAPI device name or a timestamp', () => {
    expect(() => commandRequest({ type: 'lock', device: 'dev_0123456789abcdef', mode: FM, now: NOW })).toThrow('not an AMAPI device name');
    expect(() => commandRequest({ type: 'lock', device: DEVICE, mode: FM, now: NOW, expiresAt: 'tomorrow' })).toThrow('expiresAt is not a timestamp');
  });
});

describe('commandOutcome', () => {
  const op = (over: Record<string, unknown>) => {
    const body = amapiOperation(over);
    if (specsAvailable()) expect(checkAmapi('Operation', body)).toEqual([]);
    return body;
  };
  const NAME = `${DEVICE}/operations/1700000000000`;

  it('done without error: acknowledged; not done: sent, then expired once the command\'s time is up', () => {
    expect(commandOutcome(op({}), { now: NOW })).toEqual({ status: 'acknowledged', operation: NAME });
    expect(commandOutcome(op({ done: false, response: undefined }), { now: NOW, expiresAt: '2026-03-01T12:10:00Z' })).toEqual({ status: 'sent', operation: NAME });
    expect(commandOutcome(op({ done: undefined, response: undefined }), { now: NOW })).toEqual({ status: 'sent', operation: NAME });
    expect(commandOutcome(op({ done: false, response: undefined }), { now: NOW, expiresAt: '2026-03-01T11:59:59Z' })).toEqual({ status: 'expired', operation: NAME, detail: 'the device did not carry the command out before it expired' });
  });

  it('done with an error: failed with its code, cancelled, or expired', () => {
    const failed = op({ response: undefined, error: { code: 9, message: 'The device does not support the command.' }, metadata: { '@type': 'type.googleapis.com/google.android.devicemanagement.v1.Command', type: 'REBOOT', errorCode: 'MANAGEMENT_MODE' } });
    expect(commandOutcome(failed, { now: NOW })).toEqual({ status: 'failed', operation: NAME, detail: 'FAILED_PRECONDITION: The device does not support the command. (MANAGEMENT_MODE)' });
    expect(commandOutcome(op({ response: undefined, error: { code: 1, message: 'Cancelled by the caller.' } }), { now: NOW })).toMatchObject({ status: 'cancelled' });
    expect(commandOutcome(op({ response: undefined, error: { code: 4, message: 'Deadline exceeded.' } }), { now: NOW })).toMatchObject({ status: 'expired', detail: 'DEADLINE_EXCEEDED: Deadline exceeded.' });
  });

  it('refuses an answer that is not an Operation of a device', () => {
    expect(() => commandOutcome([], { now: NOW })).toThrow('not an Operation');
    expect(() => commandOutcome({ done: true }, { now: NOW })).toThrow('no name');
    expect(() => commandOutcome({ name: 'operations/123', done: true }, { now: NOW })).toThrow('no name');
    expect(() => commandOutcome({ name: NAME, done: 'yes' }, { now: NOW })).toThrow('Operation.done must be true or false');
  });
});
