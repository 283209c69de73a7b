// Pub/Sub push messages of AMAPI notifications: the documented push envelope, base64 JSON data,
// and the Device or Operation inside read by the same readers as a sync.
import { describe, expect, it } from 'vitest';
import { commandOutcome } from '../../src/channels/android/commands.js';
import { MAX_NOTIFICATION_DATA, readPush } from '../../src/channels/android/notifications.js';
import { readDevice } from '../../src/channels/android/posture.js';
import { BackendError } from '../../src/errors.js';
import { checkAmapi, specsAvailable } from './amapi-schema.js';
import { amapiDevice, amapiOperation } from './fixtures.js';

const SUB = 'projects/emm-project/subscriptions/amapi-push';

function push(type: string, payload: unknown, over: Record<string, unknown> = {}): Record<string, unknown> {
  const data = payload === undefined ? undefined : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)).toString('base64');
  return {
    message: { attributes: { notificationType: type }, ...(data === undefined ? {} : { data }), messageId: '2070443601311540', message_id: '2070443601311540', publishTime: '2026-03-01T11:40:03.123Z', publish_time: '2026-03-01T11:40:03.123Z' },
    subscription: SUB,
    ...over,
  };
}

function refused(body: unknown, code = 'invalid'): string {
  try {
    readPush(body, SUB);
  } catch (e) {
    expect(e).toBeInstanceOf(BackendError);
    expect((e as BackendError).code).toBe(code);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('readPush', () => {
  it('reads a STATUS_REPORT: its data is a Device the posture reader takes', () => {
    const device = amapiDevice();
    if (specsAvailable()) expect(checkAmapi('Device', device)).toEqual([]);
    const n = readPush(push('STATUS_REPORT', device), SUB);
    expect(n).toEqual({ type: 'STATUS_REPORT', messageId: '2070443601311540', publishTime: '2026-03-01T11:40:03.123Z', subscription: SUB, payload: device });
    expect(readDevice(n.payload).posture?.osVersion).toBe('14');
  });

  it('reads a COMMAND: its data is the Operation of the command', () => {
    const n = readPush(push('COMMAND', amapiOperation()), SUB);
    expect(commandOutcome(n.payload, { now: new Date('2026-03-01T12:00:00Z') }).status).toBe('acknowledged');
  });

  it('reads a TEST notification, which carries no resource', () => {
    expect(readPush(push('TEST', 'test message'), SUB)).toEqual({ type: 'TEST', messageId: '2070443601311540', publishTime: '2026-03-01T11:40:03.123Z', subscription: SUB });
  });

  it('refuses a push for another subscription', () => {
    expect(refused(push('STATUS_REPORT', {}, { subscription: 'projects/other/subscriptions/x' }), 'forbidden')).toContain('another Pub/Sub subscription');
  });

  it('refuses envelopes out of shape, naming the field', () => {
    expect(refused([])).toBe('body must be an object');
    expect(refused(push('STATUS_REPORT', {}, { subscription: 'amapi-push' }))).toContain('body.subscription must be');
    expect(refused(push('STATUS_REPORT', {}, { message: 'x' }))).toBe('body.message must be an object');
    expect(refused(push('REBOOTED', {}))).toContain('body.message.attributes.notificationType must be one of ENROLLMENT, STATUS_REPORT, COMMAND');
    const noId = push('STATUS_REPORT', {});
    delete (noId.message as Record<string, unknown>).messageId;
    delete (noId.message as Record<string, unknown>).message_id;
    expect(refused(noId)).toContain('body.message.messageId');
    const badData = push('STATUS_REPORT', {});
    (badData.message as Record<string, unknown>).data = 'not base64!';
    expect(refused(badData)).toContain('body.message.data must be base64');
    expect(refused(push('STATUS_REPORT', '{"name": '))).toBe('body.message.data is not JSON (a STATUS_REPORT notification carries a JSON resource)');
    const latin1 = push('STATUS_REPORT', {});
    (latin1.message as Record<string, unknown>).data = Buffer.from([0x7b, 0xe9, 0x7d]).toString('base64');
    expect(refused(latin1)).toBe('body.message.data is not UTF-8 text');
  });

  it(`refuses data over ${MAX_NOTIFICATION_DATA} bytes before decoding it`, () => {
    expect(refused(push('STATUS_REPORT', 'x'.repeat(MAX_NOTIFICATION_DATA + 1)))).toContain(`at most ${MAX_NOTIFICATION_DATA} bytes`);
    expect(readPush(push('STATUS_REPORT', JSON.stringify('x'.repeat(MAX_NOTIFICATION_DATA - 2))), SUB).payload).toHaveLength(MAX_NOTIFICATION_DATA - 2);
  });
});
