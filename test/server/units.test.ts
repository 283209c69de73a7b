// The server's pure parts: JSON error location, token buckets, listen addresses, the router,
// log redaction, durations.
import { describe, expect, it } from 'vitest';
import { loggablePath } from '../../src/server/accesslog.js';
import { locateJsonError, parseJsonObject } from '../../src/server/body.js';
import { parseListen } from '../../src/server/http.js';
import { parseBucketConfig, RateLimiter } from '../../src/server/ratelimit.js';
import { Router } from '../../src/server/router.js';
import { parseDurationSeconds } from '../../src/model/duration.js';

describe('locateJsonError', () => {
  it.each([
    ['{"a":}', 5, 'unexpected \'}\''],
    ['{"a":1,}', 7, 'expected a property name'],
    ['{"a" 1}', 5, "expected ':'"],
    ['[1 2]', 3, "expected ',' or ']'"],
    ['{"a":"b\\x"}', 8, 'bad escape'],
    ['{"a":tru}', 5, 'unexpected'],
    ['{} x', 3, 'after the JSON value'],
    ['', 0, 'end of input'],
    ['{"a":-}', 5, 'unexpected'],
  ])('%j fails at %i', (text, position, message) => {
    const at = locateJsonError(text);
    expect(at.position).toBe(position);
    expect(at.message).toContain(message);
    expect(() => JSON.parse(text)).toThrow();
  });

  it('counts lines and columns', () => {
    expect(locateJsonError('{\n  "a": 1,\n  b: 2\n}')).toMatchObject({ line: 3, column: 3 });
  });

  it('accepts what JSON.parse accepts, objects only at the top', () => {
    expect(parseJsonObject(' {"a": [1, -2.5e3, "\\u00e9", true, null]} ')).toEqual({ a: [1, -2500, 'é', true, null] });
    expect(() => parseJsonObject('"text"')).toThrow('must be a JSON object');
  });
});

describe('RateLimiter', () => {
  it('allows the burst, then asks to wait until a token refills', () => {
    const limiter = new RateLimiter({ rate: 2, burst: 3 });
    const t = 1_000_000;
    expect([limiter.take('a', t), limiter.take('a', t), limiter.take('a', t)]).toEqual([0, 0, 0]);
    expect(limiter.take('a', t)).toBe(1);
    expect(limiter.take('b', t)).toBe(0);
    expect(limiter.take('a', t + 500)).toBe(0);
    expect(limiter.take('a', t + 500)).toBe(1);
  });

  it('rounds Retry-After up to whole seconds for slow buckets', () => {
    const limiter = new RateLimiter({ rate: 0.1, burst: 1 });
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('a', 0)).toBe(10);
    expect(limiter.take('a', 5000)).toBe(5);
  });

  it('forgets full buckets on sweep', () => {
    const limiter = new RateLimiter({ rate: 1, burst: 2 });
    limiter.take('a', 0);
    limiter.take('b', 0);
    limiter.sweep(500);
    expect(limiter.size).toBe(2);
    limiter.sweep(1000);
    expect(limiter.size).toBe(0);
  });

  it('parses RATE[/BURST] and off', () => {
    expect(parseBucketConfig('50/200', 'x')).toEqual({ rate: 50, burst: 200 });
    expect(parseBucketConfig('5', 'x')).toEqual({ rate: 5, burst: 5 });
    expect(parseBucketConfig('0.5', 'x')).toEqual({ rate: 0.5, burst: 1 });
    expect(parseBucketConfig('off', 'x')).toBe(false);
    expect(() => parseBucketConfig('fast', '--rate-limit')).toThrow('invalid --rate-limit "fast"');
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:8787', '127.0.0.1', 8787],
    ['0.0.0.0:0', '0.0.0.0', 0],
    [':9000', '127.0.0.1', 9000],
    ['9000', '127.0.0.1', 9000],
    ['[::1]:8080', '::1', 8080],
    ['localhost:80', 'localhost', 80],
  ])('%s', (text, host, port) => {
    expect(parseListen(text)).toEqual({ host, port });
  });

  it('rejects garbage and out-of-range ports', () => {
    expect(() => parseListen('host:99999')).toThrow('invalid --listen');
    expect(() => parseListen('a b:1')).toThrow('invalid --listen');
  });
});

describe('Router', () => {
  const h = () => null;
  const router = new Router([
    { method: 'GET', path: '/v1/commands', auth: 'viewer', handler: h },
    { method: 'GET', path: '/v1/commands/{id}', auth: 'viewer', handler: h },
    { method: 'POST', path: '/v1/commands/{id}/cancel', auth: 'operator', handler: h },
  ]);

  it('matches exact and templated paths with decoded parameters', () => {
    expect(router.match('GET', '/v1/commands')).toMatchObject({ params: {} });
    expect(router.match('GET', '/v1/commands/cmd%201')).toMatchObject({ params: { id: 'cmd 1' } });
    expect(router.match('POST', '/v1/commands/c1/cancel')).toMatchObject({ route: { auth: 'operator' }, params: { id: 'c1' } });
  });

  it('tells a wrong method from a missing path', () => {
    expect(router.match('POST', '/v1/commands/c1')).toEqual({ allowed: ['GET'] });
    expect(router.match('GET', '/v1/commands/c1/cancel')).toEqual({ allowed: ['POST'] });
    expect(router.match('GET', '/v1/commands/')).toBeUndefined();
    expect(router.match('GET', '/v1/commands/%E0%A4%A')).toBeUndefined();
    expect(router.match('GET', '/v2/commands')).toBeUndefined();
  });
});

describe('loggablePath', () => {
  it('redacts secret-looking query values and keeps the rest', () => {
    expect(loggablePath('/v1/devices?filter=os%3C14&token=abc&api_key=k')).toBe('/v1/devices?filter=os%3C14&token=REDACTED&api_key=REDACTED');
    expect(loggablePath('/v1/devices')).toBe('/v1/devices');
  });

  it('redacts any name containing pass, pwd, psk, session, bearer or sig (any case), and our secrets anywhere', () => {
    expect(loggablePath('/v1/x?Pass=a&PWD=b&wifi_psk=c&sessionId=d&Bearer=e&sig=f&Signature=g&limit=5')).toBe(
      '/v1/x?Pass=REDACTED&PWD=REDACTED&wifi_psk=REDACTED&sessionId=REDACTED&Bearer=REDACTED&sig=REDACTED&Signature=REDACTED&limit=5',
    );
    expect(loggablePath('/v1/devices/emm_at_abcDEF123/commands')).toBe('/v1/devices/REDACTED/commands');
    expect(loggablePath('/v1/devices/EMM%5Fdc%5Fxyz?filter=emm_et_q')).toBe('/v1/devices/REDACTED?filter=REDACTED');
    expect(loggablePath('/v1/devices?emm_et_leaked=1')).toBe('/v1/devices?REDACTED=REDACTED');
  });
});

describe('parseDurationSeconds', () => {
  it.each([
    ['90d', 90 * 86400],
    ['12h', 43200],
    ['1d12h', 129600],
    ['2w', 14 * 86400],
    ['30s', 30],
  ])('%s', (text, seconds) => expect(parseDurationSeconds(text)).toBe(seconds));

  it('rejects what it cannot read', () => {
    expect(parseDurationSeconds('soon')).toBeUndefined();
    expect(parseDurationSeconds('')).toBeUndefined();
  });

  it('rejects anything beyond 100 years (the instant it makes would be no valid Date)', () => {
    for (const text of ['99999999d', '99999999w', '9999999999999999m', '5300w']) expect(parseDurationSeconds(text), text).toBeUndefined();
    expect(parseDurationSeconds('5200w')).toBe(5200 * 7 * 86400);
  });
});
