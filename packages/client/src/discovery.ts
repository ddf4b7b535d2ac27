import * as oauth from 'oauth4webapi';
import { DiscoveryError, TransportError } from './errors.js';
import { retryAfterSeconds, type FetchLike } from './http.js';
import { asClientError, transport } from './protocol.js';

/** RFC 8414 §2 authorization server metadata, as oauth4webapi parses it. */
export type AuthorizationServerMetadata = oauth.AuthorizationServer & { token_endpoint: string };

/**
 * Fetches and validates the RFC 8414 metadata of `issuer` (at
 * `/.well-known/oauth-authorization-server`, between the host and the issuer's path, §3.1)
 * with oauth4webapi: the document must name that same issuer (§3.3, against mix-up and
 * impersonation) and carry a `token_endpoint`.
 * Unreachable, 5xx or 429: a transient `TransportError`; anything else wrong: `DiscoveryError`.
 */
export async function discover(issuer: string, fetchImpl: FetchLike, timeoutMs: number): Promise<AuthorizationServerMetadata> {
  const expected = new URL(issuer);
  let response: Response | undefined;
  try {
    response = await oauth.discoveryRequest(expected, { algorithm: 'oauth2', ...transport(fetchImpl, timeoutMs) });
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      const retryAfter = retryAfterSeconds(response);
      throw new TransportError('http_error', `${response.url || issuer} answered ${response.status}.`, response.status, retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {});
    }
    const metadata = await oauth.processDiscoveryResponse(expected, response);
    if (typeof metadata.token_endpoint !== 'string' || !URL.canParse(metadata.token_endpoint)) throw new DiscoveryError(`The metadata of ${issuer} names no valid token_endpoint.`);
    return metadata as AuthorizationServerMetadata;
  } catch (err) {
    if (err instanceof TransportError || err instanceof DiscoveryError) throw err;
    if (err instanceof oauth.OperationProcessingError) {
      const status = response && response.status !== 200 ? ` (it answered ${response.status})` : '';
      throw new DiscoveryError(`The RFC 8414 metadata of ${issuer} was refused${status}: ${err.message}. Is ${issuer} exactly the issuer of a Portcullis (or other RFC 8414) server?`, { cause: err });
    }
    throw await asClientError(err, issuer);
  }
}
