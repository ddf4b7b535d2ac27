import { OAuthError, TransportError } from './errors.js';
import { readJson, retryAfterSeconds, send, type FetchLike } from './http.js';

/** A successful token answer (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  scope?: string;
  refresh_token?: string;
}

/** How the client proves who it is (RFC 6749 §2.3.1). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  method: ClientAuthMethod;
}

/**
 * One `POST` to the token endpoint, authenticating the client. Answers the token, or throws
 * `OAuthError` for an RFC 6749 §5.2 error answer and `TransportError` for anything else.
 * Retrying is the caller's business.
 */
export async function requestToken(endpoint: string, params: Record<string, string>, client: ClientCredentials, fetchImpl: FetchLike, timeoutMs: number): Promise<TokenResponse> {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (client.method === 'client_secret_basic') {
    // RFC 6749 §2.3.1: each half is form-urlencoded (hence ASCII, fit for btoa) before the Basic encoding.
    headers.authorization = `Basic ${btoa(`${formEncode(client.clientId)}:${formEncode(client.clientSecret)}`)}`;
  } else {
    body.set('client_id', client.clientId);
    body.set('client_secret', client.clientSecret);
  }
  const response = await send(fetchImpl, endpoint, { method: 'POST', headers, body: body.toString() }, timeoutMs);
  const json = await readJson(response, endpoint);
  const retryAfter = retryAfterSeconds(response);
  if (isOAuthErrorBody(json) && !response.ok) {
    throw new OAuthError(json.error, typeof json.error_description === 'string' ? json.error_description : undefined, response.status, retryAfter);
  }
  if (!response.ok) {
    throw new TransportError('http_error', `${endpoint} answered ${response.status} without an OAuth error.`, response.status, retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {});
  }
  return validTokenResponse(json, endpoint, response.status);
}

function validTokenResponse(json: unknown, endpoint: string, status: number): TokenResponse {
  const t = json as Partial<Record<keyof TokenResponse, unknown>> | null;
  const invalid = (what: string) => new TransportError('invalid_response', `${endpoint} answered ${status} but ${what}.`, status);
  if (typeof t !== 'object' || t === null) throw invalid('not with a JSON object');
  if (typeof t.access_token !== 'string' || t.access_token === '') throw invalid('with no access_token');
  // RFC 6749 §7.1: the type is case-insensitive. Anything but Bearer would need a different use.
  if (typeof t.token_type !== 'string' || t.token_type.toLowerCase() !== 'bearer') throw invalid(`with token_type ${JSON.stringify(t.token_type)}, not Bearer`);
  if (t.expires_in !== undefined && (typeof t.expires_in !== 'number' || !(t.expires_in > 0))) throw invalid('with an invalid expires_in');
  if (t.refresh_token !== undefined && typeof t.refresh_token !== 'string') throw invalid('with an invalid refresh_token');
  return {
    access_token: t.access_token,
    token_type: t.token_type,
    ...(typeof t.expires_in === 'number' ? { expires_in: t.expires_in } : {}),
    ...(typeof t.scope === 'string' ? { scope: t.scope } : {}),
    ...(typeof t.refresh_token === 'string' && t.refresh_token !== '' ? { refresh_token: t.refresh_token } : {}),
  };
}

function isOAuthErrorBody(json: unknown): json is { error: string; error_description?: unknown } {
  return typeof json === 'object' && json !== null && typeof (json as { error?: unknown }).error === 'string';
}

/** application/x-www-form-urlencoded encoding of one value (a space becomes `+`). */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
