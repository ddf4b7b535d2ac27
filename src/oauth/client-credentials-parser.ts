import { InvalidRequestError } from '../errors/oauth-error.js';

export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'query';

export interface PresentedCredentials {
  clientId: string;
  clientSecret: string;
  method: AuthMethod;
}

export interface CredentialSources {
  authorization: string | undefined;
  body: { client_id?: string | undefined; client_secret?: string | undefined };
  query: { client_id?: string | undefined; client_secret?: string | undefined };
}

/**
 * Finds the client's credentials (RFC 6749 §2.3.1): exactly one of an HTTP Basic
 * header, `client_id`+`client_secret` in the body, or, only when the operator allows
 * it, in the query string. Returns undefined when none is present (the caller answers
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
  if (credentials && src.body.client_id !== undefined && src.body.client_id !== credentials.clientId) {
    throw new InvalidRequestError('client_id in the body does not match the authenticated client.');
  }
  return credentials;
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
