import { decodeJwt } from 'jose';
import { InvalidRequestError } from '../errors/oauth-error.js';

export type SecretMethod = 'client_secret_basic' | 'client_secret_post' | 'query';

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export type PresentedCredentials =
  | { method: SecretMethod; clientId: string; clientSecret: string }
  /** `clientId` is the body's `client_id`, else the assertion's (unverified) `sub`: which client's keys to try. */
  | { method: 'private_key_jwt'; clientId: string; assertion: string };

export type AuthMethod = PresentedCredentials['method'];

export interface CredentialSources {
  authorization: string | undefined;
  body: { client_id?: string | undefined; client_secret?: string | undefined; client_assertion?: string | undefined; client_assertion_type?: string | undefined };
  query: { client_id?: string | undefined; client_secret?: string | undefined };
}

/**
 * Finds the client's credentials (RFC 6749 §2.3.1): exactly one of an HTTP Basic
 * header, `client_id`+`client_secret` in the body, a JWT client assertion (RFC 7521 §4.2,
 * RFC 7523 §2.2), or, only when the operator allows it, `client_id`+`client_secret` in the
 * query string. Returns undefined when none is present (the caller answers
 * `invalid_client`). Throws `invalid_request` for two methods at once, a malformed
 * Basic header, or query credentials that are not allowed.
 *
 * Does not check the secret: that is ClientAuthenticator's job.
 */
export function parseClientCredentials(src: CredentialSources, opts: { allowQuery: boolean }): PresentedCredentials | undefined {
  const found: PresentedCredentials[] = [];
  const basic = src.authorization === undefined ? undefined : parseBasic(src.authorization);
  if (basic) found.push(basic);
  if (src.body.client_secret !== undefined) {
    if (src.body.client_id === undefined) throw new InvalidRequestError('client_secret was sent without client_id.');
    found.push({ clientId: src.body.client_id, clientSecret: src.body.client_secret, method: 'client_secret_post' });
  }
  const assertion = parseAssertion(src.body);
  if (assertion) found.push(assertion);
  if (src.query.client_secret !== undefined || src.query.client_id !== undefined) {
    if (!opts.allowQuery) {
      throw new InvalidRequestError(
        'Client credentials in the query string are not accepted; send them in an Authorization: Basic header or in the request body (the operator can allow them with ALLOW_QUERY_CREDENTIALS=true).',
      );
    }
    if (src.query.client_id === undefined || src.query.client_secret === undefined) {
      throw new InvalidRequestError('Query-string credentials need both client_id and client_secret.');
    }
    found.push({ clientId: src.query.client_id, clientSecret: src.query.client_secret, method: 'query' });
  }
  if (found.length > 1) {
    throw new InvalidRequestError(`The client authenticated with more than one method (${found.map((f) => f.method).join(', ')}); use exactly one.`);
  }
  const [credentials] = found;
  // A client_id in the body next to another method is allowed (RFC 6749 §3.2.1) only if it names the same client.
  if (credentials && credentials.method !== 'private_key_jwt' && src.body.client_id !== undefined && src.body.client_id !== credentials.clientId) {
    throw new InvalidRequestError('client_id in the body does not match the authenticated client.');
  }
  return credentials;
}

/**
 * RFC 7521 §4.2: `client_assertion_type` and `client_assertion` together; the `client_id`, if
 * sent, must name the assertion's client (checked against `sub` when the assertion is verified).
 * The assertion is decoded here without being trusted, only to know whose keys to try.
 */
function parseAssertion(body: CredentialSources['body']): PresentedCredentials | undefined {
  const { client_assertion: assertion, client_assertion_type: type } = body;
  if (assertion === undefined && type === undefined) return undefined;
  if (type !== JWT_BEARER_ASSERTION) throw new InvalidRequestError(`client_assertion_type must be ${JWT_BEARER_ASSERTION}.`);
  if (assertion === undefined) throw new InvalidRequestError('client_assertion is required with client_assertion_type.');
  let sub: unknown;
  try {
    sub = decodeJwt(assertion).sub;
  } catch {
    // Undecodable: it fails verification as invalid_client, like a wrong secret.
  }
  const clientId = body.client_id ?? (typeof sub === 'string' ? sub : '');
  return { method: 'private_key_jwt', clientId, assertion };
}

/**
 * `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1), and the plain,
 * un-encoded pair many clients send (RFC 7617). Undefined for another scheme (e.g. Bearer).
 */
function parseBasic(header: string): PresentedCredentials | undefined {
  const match = /^Basic +([A-Za-z0-9+/=._~-]*)\s*$/i.exec(header);
  if (!match) {
    if (/^Basic\b/i.test(header)) throw new InvalidRequestError('The Authorization: Basic header is malformed.');
    return undefined;
  }
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new InvalidRequestError('The Authorization: Basic header is malformed (expected client_id:client_secret).');
  return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)), method: 'client_secret_basic' };
}

/** application/x-www-form-urlencoded decoding; a value that is not validly encoded is taken as plain. */
function formDecode(value: string): string {
  if (!value.includes('%') && !value.includes('+')) return value;
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}
