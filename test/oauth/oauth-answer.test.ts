import { describe, expect, it } from 'vitest';
import { InvalidInputError, NotFoundError, ThrottledError, UnavailableError } from '../../src/errors/domain-errors.js';
import { InvalidScopeError } from '../../src/errors/oauth-error.js';
import { oauthErrorOf } from '../../src/oauth/oauth-answer.js';

/** The one mapping the OAuth endpoints answer with and the usage counts record (src/oauth/oauth-answer.ts). */
describe('the OAuth answer to a failure', () => {
  it('keeps an OAuth error as it is', () => {
    const err = new InvalidScopeError('meters:admin');
    expect(oauthErrorOf(err)).toBe(err);
  });

  it('answers an unreachable database with temporarily_unavailable, 503 and Retry-After, whether the domain or the driver said so', () => {
    const driver = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    for (const err of [new UnavailableError('The database cannot be reached.'), driver, new Error('wrapped', { cause: driver })]) {
      const answer = oauthErrorOf(err);
      expect({ error: answer?.error, status: answer?.status, headers: answer?.headers() }).toEqual({ error: 'temporarily_unavailable', status: 503, headers: { 'retry-after': '5' } });
    }
  });

  it('answers a throttle with too_many_requests and its Retry-After, and bad input with invalid_request', () => {
    const throttled = oauthErrorOf(new ThrottledError(42));
    expect({ error: throttled?.error, status: throttled?.status, headers: throttled?.headers() }).toEqual({ error: 'too_many_requests', status: 429, headers: { 'retry-after': '42' } });
    expect(oauthErrorOf(new InvalidInputError('No such cursor.'))?.error).toBe('invalid_request');
  });

  it('leaves anything else to be a server_error', () => {
    expect(oauthErrorOf(new Error('boom'))).toBeUndefined();
    expect(oauthErrorOf(new NotFoundError('Client'))).toBeUndefined();
    expect(oauthErrorOf('not an error')).toBeUndefined();
  });
});
