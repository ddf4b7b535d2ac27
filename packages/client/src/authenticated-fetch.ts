import * as oauth from 'oauth4webapi';
import type { FetchLike } from './http.js';
import type { AccessToken, TokenSource } from './token-source.js';

export interface AuthenticatedFetchOptions {
  /** The fetch to wrap. Default `globalThis.fetch`. */
  fetch?: FetchLike;
}

/**
 * A `fetch` that sends the token from `source`: `Authorization: Bearer <token>` (RFC 6750 §2.1),
 * or, for a DPoP-bound token, `Authorization: DPoP <token>` with a fresh `DPoP` proof of the
 * source's key for this method and URL (RFC 9449 §7), made by oauth4webapi.
 *
 * When the API answers 401:
 * - with a challenge `error="invalid_token"` (scheme `Bearer` or `DPoP`, RFC 6750 §3.1,
 *   RFC 9449 §7.1): the token is dropped, a new one fetched, and the request sent once more.
 *   A token is renewed at most once, however many requests it failed: concurrent calls share
 *   the one renewal;
 * - with `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a `DPoP-Nonce` (RFC 9449 §9): the
 *   request is sent once more with a proof carrying that nonce (kept for later calls to that origin);
 * - any other 401 (no challenge, `Basic`, a `Bearer` challenge without an error code) is
 *   returned as it is: a new token would not help, and getting one per call would flood the
 *   authorization server.
 * Every other answer is returned unchanged; errors getting a token are thrown
 * (`OAuthError`, `TransportError`, `DiscoveryError`).
 *
 * The request is buffered so that it can be sent again; a streamed body (`ReadableStream`)
 * is sent once and its 401 returned. Redirects are followed as the request says. Use one
 * wrapper per API: every request it sends carries the token for the source's audience,
 * whatever its URL.
 */
export function createAuthenticatedFetch(source: TokenSource, options: AuthenticatedFetchOptions = {}): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return async (input, init) => {
    const original = new Request(input, init);
    const streamed = original.body !== null && init?.body instanceof ReadableStream;
    const body = streamed ? original.body : original.body !== null ? await original.arrayBuffer() : undefined;
    const url = new URL(original.url);
    const send = async (token: AccessToken): Promise<Attempt> => {
      const headers = new Headers(original.headers);
      headers.delete('authorization');
      headers.delete('dpop');
      const dpop = token.tokenType === 'DPoP' ? await source.dpopHandle?.() : undefined;
      try {
        const response = await oauth.protectedResourceRequest(token.token, original.method, url, headers, body, {
          ...(dpop ? { DPoP: dpop } : {}),
          signal: original.signal,
          [oauth.allowInsecureRequests]: true,
          // oauth4webapi never follows redirects itself; the caller's request says whether to.
          [oauth.customFetch]: (target, request) => fetchImpl(target, { ...request, redirect: original.redirect } as RequestInit),
        });
        return { response, challenges: [] };
      } catch (err) {
        // Any answer with a WWW-Authenticate header comes back as this error, with the answer unread.
        if (err instanceof oauth.WWWAuthenticateChallengeError) return { response: err.response, challenges: err.cause, nonceError: oauth.isDPoPNonceError(err) };
        throw err;
      }
    };

    let token = await source.getAccessToken();
    let attempt = await send(token);
    if (streamed) return attempt.response;
    let nonceRetried = false;
    let renewed = false;
    while (attempt.response.status === 401) {
      if (attempt.nonceError && !nonceRetried) {
        nonceRetried = true;
      } else if (!renewed && isInvalidToken(attempt.challenges)) {
        renewed = true;
        // Dropped only if it is still the source's current token: a token already renewed by another call is not renewed again.
        source.invalidate(token.token);
        const fresh = await source.getAccessToken();
        if (fresh.token === token.token) break;
        token = fresh;
      } else {
        break;
      }
      await attempt.response.body?.cancel();
      attempt = await send(token);
    }
    return attempt.response;
  };
}

interface Attempt {
  response: Response;
  challenges: readonly oauth.WWWAuthenticateChallenge[];
  nonceError?: boolean;
}

/** RFC 6750 §3.1 and RFC 9449 §7.1: the API says the token itself is bad (expired, revoked, unknown key). */
function isInvalidToken(challenges: readonly oauth.WWWAuthenticateChallenge[]): boolean {
  return challenges.some((c) => (c.scheme === 'bearer' || c.scheme === 'dpop') && c.parameters.error === 'invalid_token');
}
