import type { FetchLike } from './http.js';
import type { TokenSource } from './token-source.js';

export interface AuthenticatedFetchOptions {
  /** The fetch to wrap. Default `globalThis.fetch`. */
  fetch?: FetchLike;
}

/**
 * A `fetch` that sends `Authorization: Bearer <token>` from `source` (RFC 6750 §2.1) and, when
 * the API answers 401, gets a new token and sends the request once more. A second 401 is
 * returned as it is, as is every other answer; errors getting a token are thrown
 * (`OAuthError`, `TransportError`, `DiscoveryError`).
 *
 * The request is buffered so that it can be sent twice; a streamed body (`ReadableStream`)
 * is sent once and its 401 returned. Use one wrapper per API: every request it sends carries
 * the token for the source's audience, whatever its URL.
 */
export function createAuthenticatedFetch(source: TokenSource, options: AuthenticatedFetchOptions = {}): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return async (input, init) => {
    const streamed = init?.body instanceof ReadableStream;
    const original = new Request(input, init);
    const attempt = async (token: string) => {
      const headers = new Headers(original.headers);
      headers.set('authorization', `Bearer ${token}`);
      return fetchImpl(new Request(original.clone(), { headers }));
    };
    const token = await source.getToken();
    const response = await attempt(token);
    if (response.status !== 401 || streamed) return response;
    // The token may have been revoked, or signed by a key the API has not learnt yet: try one new token.
    source.invalidate(token);
    const fresh = await source.getToken();
    if (fresh === token) return response;
    await response.body?.cancel();
    return attempt(fresh);
  };
}
