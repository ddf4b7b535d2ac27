import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors/oauth-error.js';
import { parseClientCredentials } from '../../src/oauth/client-credentials-parser.js';

const none = { authorization: undefined, body: {}, query: {} };
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('parseClientCredentials', () => {
  it('returns undefined when no credentials are present', () => {
    expect(parseClientCredentials(none, { allowQuery: false })).toBeUndefined();
  });

  it('decodes a URL-encoded Basic pair (RFC 6749 §2.3.1)', () => {
    const header = `Basic ${b64(`${encodeURIComponent('my:client')}:${encodeURIComponent('s3cr%t +')}`)}`;
    expect(parseClientCredentials({ ...none, authorization: header }, { allowQuery: false })).toEqual({
      clientId: 'my:client',
      clientSecret: 's3cr%t +',
      method: 'client_secret_basic',
    });
  });

  it('accepts a plain, un-encoded Basic pair, splitting at the first colon', () => {
    const header = `Basic ${b64('client:se:cr%et')}`;
    expect(parseClientCredentials({ ...none, authorization: header }, { allowQuery: false })).toEqual({
      clientId: 'client',
      clientSecret: 'se:cr%et',
      method: 'client_secret_basic',
    });
  });

  it('ignores other authorization schemes', () => {
    expect(parseClientCredentials({ ...none, authorization: 'Bearer abc' }, { allowQuery: false })).toBeUndefined();
  });

  it.each([['Basic'], ['Basic !!!'], [`Basic ${b64('no-colon')}`], [`Basic ${b64(':secret')}`]])('rejects the malformed header %j', (header) => {
    expect(() => parseClientCredentials({ ...none, authorization: header }, { allowQuery: false })).toThrow(InvalidRequestError);
  });

  it('reads client_secret_post', () => {
    expect(parseClientCredentials({ ...none, body: { client_id: 'c', client_secret: 's' } }, { allowQuery: false })).toEqual({
      clientId: 'c',
      clientSecret: 's',
      method: 'client_secret_post',
    });
  });

  it('refuses two methods at once', () => {
    expect(() => parseClientCredentials({ authorization: `Basic ${b64('c:s')}`, body: { client_id: 'c', client_secret: 's' }, query: {} }, { allowQuery: false })).toThrow(/more than one method/);
  });

  it('allows a matching client_id in the body next to Basic, and refuses a different one', () => {
    const authorization = `Basic ${b64('c:s')}`;
    expect(parseClientCredentials({ authorization, body: { client_id: 'c' }, query: {} }, { allowQuery: false })?.clientId).toBe('c');
    expect(() => parseClientCredentials({ authorization, body: { client_id: 'other' }, query: {} }, { allowQuery: false })).toThrow(/does not match/);
  });

  it('refuses query credentials unless allowed, naming the setting', () => {
    const query = { client_id: 'c', client_secret: 's' };
    expect(() => parseClientCredentials({ ...none, query }, { allowQuery: false })).toThrow(/ALLOW_QUERY_CREDENTIALS/);
    expect(parseClientCredentials({ ...none, query }, { allowQuery: true })).toEqual({ clientId: 'c', clientSecret: 's', method: 'query' });
  });

  it('refuses a secret without a client_id', () => {
    expect(() => parseClientCredentials({ ...none, body: { client_secret: 's' } }, { allowQuery: false })).toThrow(InvalidRequestError);
  });
});
