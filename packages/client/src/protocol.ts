import * as oauth from 'oauth4webapi';
import { OAuthError, PortcullisClientError, TransportError } from './errors.js';
import { retryAfterSeconds, timedFetch, type FetchLike } from './http.js';

/**
 * The transport options every oauth4webapi call of this package gets: our fetch with its
 * timeout, and plain `http:` allowed (a local Portcullis, a test server), as this package
 * always did; production issuers are `https:` and are used as configured.
 */
export function transport(fetchImpl: FetchLike, timeoutMs: number) {
  return { [oauth.customFetch]: timedFetch(fetchImpl, timeoutMs), [oauth.allowInsecureRequests]: true } as const;
}

/**
 * oauth4webapi's errors as this package's: an RFC 6749 §5.2 error answer (in the body, or
 * behind a `WWW-Authenticate` challenge as `invalid_client` comes) is an `OAuthError`; an
 * answer that is not OAuth (a proxy's HTML page, bad JSON, an unknown `token_type`) is a
 * `TransportError`. Anything else is returned as it is.
 */
export async function asClientError(err: unknown, url: string): Promise<unknown> {
  if (err instanceof PortcullisClientError) return err;
  if (err instanceof oauth.ResponseBodyError) return new OAuthError(err.error, err.error_description, err.status, retryAfterSeconds(err.response));
  const response = err instanceof oauth.WWWAuthenticateChallengeError ? err.response : err instanceof oauth.OperationProcessingError && err.cause instanceof Response ? err.cause : undefined;
  if (response) return fromErrorAnswer(response, url, err);
  if (err instanceof oauth.OperationProcessingError || err instanceof oauth.UnsupportedOperationError) {
    return new TransportError('invalid_response', `${url} answered with something this client cannot use: ${err.message}.`, undefined, { cause: err });
  }
  return err;
}

async function fromErrorAnswer(response: Response, url: string, cause: unknown): Promise<PortcullisClientError> {
  const retryAfter = retryAfterSeconds(response);
  let body: unknown;
  try {
    body = response.bodyUsed ? undefined : JSON.parse(await response.text());
  } catch {
    // Not JSON: reported below as an answer that is not OAuth.
  }
  if (!response.ok && isOAuthErrorBody(body)) {
    return new OAuthError(body.error, typeof body.error_description === 'string' ? body.error_description : undefined, response.status, retryAfter);
  }
  return new TransportError(response.ok ? 'invalid_response' : 'http_error', `${url} answered ${response.status} without an OAuth error.`, response.status, {
    cause,
    ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
  });
}

function isOAuthErrorBody(json: unknown): json is { error: string; error_description?: unknown } {
  return typeof json === 'object' && json !== null && typeof (json as { error?: unknown }).error === 'string';
}
