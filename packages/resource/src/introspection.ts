import { InvalidTokenError, VerifierUnavailableError } from './errors.js';
import type { FetchLike, IssuerMetadata } from './issuer-metadata.js';

/**
 * Introspection (RFC 7662) as a second opinion after local verification, for APIs that must
 * see a revocation (or a deleted client) at once rather than when the token expires. Costs one
 * request to the issuer per verification; the API authenticates as one of its own clients.
 */
export interface IntrospectionOptions {
  clientId: string;
  clientSecret: string;
  /** Default: the metadata's `introspection_endpoint`, else `<issuer>/oauth/introspect`. */
  endpoint?: string;
}

/** Asks the issuer whether `token` is active; throws `InvalidTokenError('inactive')` when it is not. */
export async function introspect(token: string, options: IntrospectionOptions, metadata: IssuerMetadata | undefined, issuer: string, fetchImpl: FetchLike, timeoutMs: number): Promise<void> {
  const endpoint = options.endpoint ?? metadata?.introspection_endpoint ?? `${issuer.replace(/\/$/, '')}/oauth/introspect`;
  const encode = (v: string) => new URLSearchParams({ v }).toString().slice(2);
  let answer: unknown;
  try {
    const response = await fetchImpl(endpoint, {
      method: 'POST',
      headers: {
        // RFC 6749 §2.3.1: each half form-urlencoded (hence ASCII) before the Basic encoding.
        authorization: `Basic ${btoa(`${encode(options.clientId)}:${encode(options.clientSecret)}`)}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      // 401 here means this API's own introspection credentials are wrong: an operator's problem, not the caller's.
      throw new VerifierUnavailableError(`The introspection endpoint ${endpoint} answered ${response.status}.`);
    }
    answer = await response.json();
  } catch (err) {
    if (err instanceof VerifierUnavailableError) throw err;
    throw new VerifierUnavailableError(`Could not introspect the token at ${endpoint}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const active = typeof answer === 'object' && answer !== null ? (answer as { active?: unknown }).active : undefined;
  if (typeof active !== 'boolean') throw new VerifierUnavailableError(`The introspection endpoint ${endpoint} answered without an "active" member.`);
  if (!active) throw new InvalidTokenError('inactive', 'The access token has been revoked or is no longer active.');
}
