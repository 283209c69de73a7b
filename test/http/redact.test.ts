// The token never reaches an error message, whatever a server echoes back — but a string too
// short to be an issued token is left alone rather than masked inside ordinary words.
import { describe, expect, it } from 'vitest';
import { redact } from '../../src/backends/http/errors.js';
import { BackendError } from '../../src/errors.js';

describe('redact', () => {
  it('masks an echoed token in the message and the hint', () => {
    const token = 'emm_at_0123456789abcdefghij';
    const e = redact(new BackendError('invalid', `server said: bad token ${token}`, { hint: `not ${token}`, status: 400 }), token);
    expect(e.message).toBe('server said: bad token ***');
    expect(e.hint).toBe('not ***');
    expect(e.status).toBe(400);
  });

  it('leaves messages alone for a too-short token, instead of garbling words', () => {
    const e = redact(new BackendError('unavailable', 'cannot reach', { hint: 'point EMMCTL_SERVER (or --context) at a running one' }), 'x');
    expect(e.hint).toBe('point EMMCTL_SERVER (or --context) at a running one');
  });
});
