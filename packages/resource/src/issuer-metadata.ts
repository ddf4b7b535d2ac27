import { VerifierUnavailableError } from './errors.js';

/** The subset of `fetch` this package calls. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** What a resource server needs from the issuer's RFC 8414 metadata. */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri: string;
  introspection_endpoint?: string;
}

/** RFC 8414 §3.1: the well-known path goes between the host and the issuer's path. */
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
 * Fetches the issuer's metadata and checks it names that issuer (RFC 8414 §3.3) and a
 * `jwks_uri`. Any failure is a `VerifierUnavailableError`: the token cannot be judged.
 */
export async function fetchIssuerMetadata(issuer: string, fetchImpl: FetchLike, timeoutMs: number): Promise<IssuerMetadata> {
  const url = metadataUrl(issuer);
  let body: unknown;
  try {
    const response = await fetchImpl(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new VerifierUnavailableError(`${url} answered ${response.status}.`);
    }
    body = await response.json();
  } catch (err) {
    if (err instanceof VerifierUnavailableError) throw err;
    throw new VerifierUnavailableError(`Could not read the issuer metadata at ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const metadata = (typeof body === 'object' && body !== null ? body : {}) as Partial<Record<keyof IssuerMetadata, unknown>>;
  if (typeof metadata.issuer !== 'string' || !sameIssuer(metadata.issuer, issuer)) {
    throw new VerifierUnavailableError(`${url} describes the issuer ${JSON.stringify(metadata.issuer)}, not ${issuer}; refusing it (RFC 8414 §3.3).`);
  }
  if (typeof metadata.jwks_uri !== 'string' || !URL.canParse(metadata.jwks_uri)) throw new VerifierUnavailableError(`${url} names no valid jwks_uri.`);
  return {
    issuer: metadata.issuer,
    jwks_uri: metadata.jwks_uri,
    ...(typeof metadata.introspection_endpoint === 'string' ? { introspection_endpoint: metadata.introspection_endpoint } : {}),
  };
}
