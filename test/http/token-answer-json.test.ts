import { describe, expect, it } from 'vitest';
import { tokenAnswerJson } from '../../src/http/oauth-routes.js';

describe('the token answer written as JSON directly', () => {
  it('is the JSON of the answer, with and without a refresh token, whatever the scope holds', () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjIn0.c2lnbmF0dXJl-_';
    for (const answer of [
      { access_token: token, token_type: 'Bearer' as const, expires_in: 3600, scope: 'meters:read meters:write' },
      { access_token: token, token_type: 'DPoP' as const, expires_in: 60, scope: '', refresh_token: 'prt_"quoted"\\\u2028' },
      { access_token: token, token_type: 'Bearer' as const, expires_in: 1, scope: 'ünïcode "quote" \\ back\nslash' },
    ]) {
      expect(tokenAnswerJson(answer)).toBe(JSON.stringify(answer));
    }
  });
});
