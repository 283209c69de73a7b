// google.rpc.Status error bodies → what emmctl says and decides: retry or not, and whether a
// failed write may still have landed (the ledger's question before any resend).
import { describe, expect, it } from 'vitest';
import { backoffMs, MAX_MESSAGE, MAX_RETRY_AFTER_MS, operationError, parseAmapiError, toBackendError, transportFailure } from '../../src/channels/android/errors.js';
import { checkAmapi, specsAvailable } from './amapi-schema.js';
import { amapiOperation } from './fixtures.js';

/** Google's JSON error envelope: {"error": {code (the HTTP status), message, status, details}}. */
const envelope = (code: number, status: string, message: string, details: unknown[] = []) => ({ error: { code, message, status, details } });

const QUOTA = envelope(429, 'RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Queries' and limit 'Queries per 100 seconds' of service 'androidmanagement.googleapis.com' for consumer 'project_number:123456789'.", [
  { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'RATE_LIMIT_EXCEEDED', domain: 'googleapis.com', metadata: { service: 'androidmanagement.googleapis.com', quota_limit: 'QueriesPer100sPerProject' } },
]);

describe('parseAmapiError: classification', () => {
  it('429 RESOURCE_EXHAUSTED: back off and retry; the request was refused, so nothing landed', () => {
    const e = parseAmapiError(429, QUOTA);
    expect(e).toEqual({ httpStatus: 429, status: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('Quota exceeded'), reason: 'RATE_LIMIT_EXCEEDED', retryable: true, mayHaveApplied: false, statusBody: true });
    expect(toBackendError(e, 'enterprises.devices.list').code).toBe('rate_limited');
  });

  it('5xx (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, a bare 502): retry, but a write may have landed', () => {
    for (const [http, status] of [[503, 'UNAVAILABLE'], [500, 'INTERNAL'], [504, 'DEADLINE_EXCEEDED'], [500, 'UNKNOWN']] as const) {
      const e = parseAmapiError(http, envelope(http, status, 'The service is currently unavailable.'));
      expect([e.status, e.retryable, e.mayHaveApplied], status).toEqual([status, true, true]);
      expect(toBackendError(e, 'x').code).toBe('unavailable');
    }
    const gateway = parseAmapiError(502, '<html><body>502 Bad Gateway</body></html>');
    expect(gateway).toEqual({ httpStatus: 502, status: 'UNAVAILABLE', message: 'HTTP 502 with a body that is not a google.rpc.Status', retryable: true, mayHaveApplied: true, statusBody: false });
  });

  it('ABORTED: a concurrency conflict, retried, not applied', () => {
    expect(parseAmapiError(409, envelope(409, 'ABORTED', 'Concurrent policy update.'))).toMatchObject({ status: 'ABORTED', retryable: true, mayHaveApplied: false });
  });

  it('every other 4xx is final: the request was refused and sending it again would be refused again', () => {
    const cases = [
      [400, 'INVALID_ARGUMENT', 'invalid'],
      [400, 'FAILED_PRECONDITION', 'invalid'],
      [401, 'UNAUTHENTICATED', 'unauthorized'],
      [403, 'PERMISSION_DENIED', 'forbidden'],
      [404, 'NOT_FOUND', 'not_found'],
      [409, 'ALREADY_EXISTS', 'conflict'],
    ] as const;
    for (const [http, status, code] of cases) {
      const e = parseAmapiError(http, envelope(http, status, 'm'));
      expect([e.status, e.retryable, e.mayHaveApplied, toBackendError(e, 'x').code], status).toEqual([status, false, false, code]);
    }
    const unimplemented = parseAmapiError(501, envelope(501, 'UNIMPLEMENTED', 'm'));
    expect([unimplemented.retryable, unimplemented.mayHaveApplied, toBackendError(unimplemented, 'x').code]).toEqual([false, false, 'protocol']);
  });

  it('takes the status name from the body, and from the HTTP status when the body names none or an unknown one', () => {
    expect(parseAmapiError(400, envelope(400, 'FAILED_PRECONDITION', 'm')).status).toBe('FAILED_PRECONDITION');
    expect(parseAmapiError(404, { error: { code: 404, message: 'Requested entity was not found.' } }).status).toBe('NOT_FOUND');
    expect(parseAmapiError(429, envelope(429, 'NOT_A_CODE', 'm')).status).toBe('RESOURCE_EXHAUSTED');
    expect(parseAmapiError(418, undefined)).toEqual({ httpStatus: 418, status: 'HTTP_ERROR', message: 'HTTP 418 with no error body', retryable: false, mayHaveApplied: false, statusBody: false });
  });

  it('a lost answer: retry a read; a write may have been carried out', () => {
    expect(transportFailure('socket hang up')).toEqual({ httpStatus: 0, status: 'UNAVAILABLE', message: 'socket hang up', retryable: true, mayHaveApplied: true, statusBody: false });
    expect(toBackendError(transportFailure('timed out after 30 s'), 'enterprises.devices.issueCommand').message).toBe('Android Management API enterprises.devices.issueCommand failed: timed out after 30 s (UNAVAILABLE, no answer)');
  });
});

describe('parseAmapiError: messages and waits', () => {
  it('says what failed, Google\'s message, the status and the HTTP code, with a hint for what to check', () => {
    const e = toBackendError(parseAmapiError(403, envelope(403, 'PERMISSION_DENIED', 'The caller does not have permission')), 'enterprises.policies.patch');
    expect(e.message).toBe('Android Management API enterprises.policies.patch failed: The caller does not have permission (PERMISSION_DENIED, HTTP 403)');
    expect(e.hint).toContain('Android Management User role');
    expect(e.status).toBe(403);
    const none = toBackendError(parseAmapiError(418, undefined), 'enterprises.get');
    expect(none.message).toBe('Android Management API enterprises.get failed: HTTP 418 with no error body (HTTP 418)');
    expect(none.code).toBe('protocol');
  });

  it('bounds Google\'s message (in code points) so a runaway body cannot flood a terminal or a log', () => {
    const e = parseAmapiError(400, envelope(400, 'INVALID_ARGUMENT', '🙂'.repeat(MAX_MESSAGE * 3)));
    expect([...e.message.replace('… (cut)', '')]).toHaveLength(MAX_MESSAGE);
    expect(e.message.endsWith('… (cut)')).toBe(true);
  });

  it('honours Retry-After (seconds or an HTTP date) and RetryInfo, capped at an hour; ignores a malformed one', () => {
    const now = new Date('2026-03-01T12:00:00Z');
    expect(parseAmapiError(429, QUOTA, { retryAfter: '7' }).retryAfterMs).toBe(7000);
    expect(parseAmapiError(503, undefined, { retryAfter: 'Sun, 01 Mar 2026 12:00:30 GMT', now }).retryAfterMs).toBe(30_000);
    expect(parseAmapiError(503, undefined, { retryAfter: 'Sun, 01 Mar 2026 11:00:00 GMT', now }).retryAfterMs).toBe(0);
    expect(parseAmapiError(429, QUOTA, { retryAfter: '999999' }).retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    expect(parseAmapiError(429, QUOTA, { retryAfter: 'soon' }).retryAfterMs).toBeUndefined();
    const info = envelope(429, 'RESOURCE_EXHAUSTED', 'm', [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '12.5s' }]);
    expect(parseAmapiError(429, info).retryAfterMs).toBe(12_500);
    expect(parseAmapiError(429, info, { retryAfter: '2' }).retryAfterMs).toBe(2000);
  });
});

describe('backoffMs', () => {
  it('waits what Google asked when it asked', () => {
    expect(backoffMs(5, { retryAfterMs: 1234 }, { random: () => 0.5 })).toBe(1234);
  });

  it('otherwise grows exponentially with full jitter, up to the cap', () => {
    const top = (attempt: number) => backoffMs(attempt, {}, { baseMs: 1000, capMs: 64_000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 7, 8, 20].map(top)).toEqual([999, 1999, 3999, 7999, 63_999, 63_999, 63_999]);
    expect(backoffMs(3, {}, { random: () => 0 })).toBe(0);
  });
});

describe('operationError', () => {
  it('names the google.rpc.Code of a failed operation, the way a command ends failed with its error code', () => {
    const op = amapiOperation({ response: undefined, error: { code: 9, message: 'Device is not in a state to accept the command.', details: [] } });
    if (specsAvailable()) expect(checkAmapi('Operation', op)).toEqual([]);
    expect(operationError(op.error)).toEqual({ status: 'FAILED_PRECONDITION', message: 'Device is not in a state to accept the command.' });
    expect(operationError(undefined)).toBeUndefined();
    expect(operationError({ code: 99 })).toEqual({ status: 'UNKNOWN', message: 'no message' });
    expect(operationError('boom')).toEqual({ status: 'UNKNOWN', message: 'the operation failed with an error that is not a google.rpc.Status' });
  });
});
