import { DiscoveryError, TransportError } from './errors.js';
import { readJson, retryAfterSeconds, send, type FetchLike } from './http.js';

/** The parts of RFC 8414 §2 authorization server metadata this package reads. */
export interface AuthorizationServerMetadata {
  issuer: string;
  token_endpoint: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
  revocation_endpoint?: string;
  token_endpoint_auth_methods_supported?: string[];
  grant_types_supported?: string[];
  [other: string]: unknown;
}

/**
 * Where the metadata of `issuer` lives (RFC 8414 §3.1): the well-known path goes between the
 * host and the issuer's own path, so `https://id.example.com/tenant-a` is described at
 * `https://id.example.com/.well-known/oauth-authorization-server/tenant-a`.
 */
export function metadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

/** Issuers compare as strings (RFC 8414 §3.3), forgiving only a trailing slash. */
export function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/$/, '') === b.replace(/\/$/, '');
}

/**
 * Fetches and validates the metadata of `issuer`: the document must name that same issuer
 * (RFC 8414 §3.3, against mix-up and impersonation) and carry a `token_endpoint`.
 * Unreachable or 5xx: a transient `TransportError`; anything else wrong: `DiscoveryError`.
 */
export async function discover(issuer: string, fetchImpl: FetchLike, timeoutMs: number): Promise<AuthorizationServerMetadata> {
  const url = metadataUrl(issuer);
  const response = await send(fetchImpl, url, { method: 'GET', headers: { accept: 'application/json' } }, timeoutMs);
  if (response.status >= 500 || response.status === 429) {
    await response.body?.cancel();
    const retryAfter = retryAfterSeconds(response);
    throw new TransportError('http_error', `${url} answered ${response.status}.`, response.status, retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {});
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new DiscoveryError(`${url} answered ${response.status}: is ${issuer} the issuer of a Portcullis (or other RFC 8414) server?`);
  }
  const body = await readJson(response, url);
  if (typeof body !== 'object' || body === null) throw new DiscoveryError(`${url} did not answer with a metadata object.`);
  const metadata = body as Partial<AuthorizationServerMetadata>;
  if (typeof metadata.issuer !== 'string' || !sameIssuer(metadata.issuer, issuer)) {
    throw new DiscoveryError(`${url} describes the issuer ${JSON.stringify(metadata.issuer)}, not ${issuer}; refusing it (RFC 8414 §3.3).`);
  }
  if (typeof metadata.token_endpoint !== 'string' || !URL.canParse(metadata.token_endpoint)) {
    throw new DiscoveryError(`${url} names no valid token_endpoint.`);
  }
  return metadata as AuthorizationServerMetadata;
}
