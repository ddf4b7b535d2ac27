import * as oauth from 'oauth4webapi';
import { authMethodOf, clientAuthFor, EDDSA_AS_SERVERS_KNOW_IT, type ClientAuthMethod, type ClientPrivateKey } from './client-auth.js';
import { discover } from './discovery.js';
import { OAuthError } from './errors.js';
import { DEFAULT_RETRY, isTransient, realSleep, withRetries, type FetchLike, type RetryOptions } from './http.js';
import { requestToken, type Grant, type TokenEndpoint, type TokenResponse } from './token-endpoint.js';

export interface TokenSourceOptions {
  /** The Portcullis issuer, e.g. `https://auth.example.com`: the token endpoint is discovered from it (RFC 8414). */
  issuer: string;
  clientId: string;
  /** The client secret (`client_secret_basic` or `client_secret_post`). Not needed with `privateKey`. */
  clientSecret?: string;
  /**
   * Authenticate with `private_key_jwt` (RFC 7523 §2.2) instead of a secret: the private key whose
   * public half is registered with the client (`PUT …/clients/{id}/jwks`). A `CryptoKey`, a private
   * JWK, or a PKCS#8 PEM string. Each token request carries a new assertion signed with it.
   */
  privateKey?: ClientPrivateKey;
  /** The `kid` of `privateKey`, sent in the assertion header. Default: the JWK's `kid`, else none. */
  privateKeyId?: string;
  /**
   * Sender-constrained tokens (DPoP, RFC 9449): `true` makes a new ES256 key pair for this
   * source; or give a `CryptoKeyPair` (its public key extractable). Every token request carries a
   * proof, the server binds the token to the key (`token_type: "DPoP"`), and
   * `createAuthenticatedFetch` sends a proof with each API call. Default `false`.
   */
  dpop?: boolean | oauth.CryptoKeyPair;
  /** The identifier of the API the tokens are for (the token's `aud`). */
  audience: string;
  /** Permissions to ask for (a space-separated string or a list). Default: all the client holds on the API. */
  scope?: string | readonly string[];
  /**
   * Renew a token this many seconds before it expires. Default 60. Never more than half the
   * token's lifetime, so a token is always used for at least half its life.
   */
  renewBeforeSeconds?: number;
  /** Default `private_key_jwt` with a `privateKey`, else `client_secret_basic` (HTTP Basic), which Portcullis and most servers accept. */
  authMethod?: ClientAuthMethod;
  /** Retries of transient failures (network errors, timeouts, 5xx, 429), or `false` for none. */
  retry?: RetryOptions | false;
  /** Per HTTP request. Default 10 000 ms. */
  timeoutMs?: number;
  /** The fetch to use. Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Skip discovery and use this token endpoint. */
  tokenEndpoint?: string;
  /** The clock, in milliseconds since the epoch (tests freeze it). Default `Date.now`. */
  now?: () => number;
  /** How the source waits between retries (tests shorten it). */
  sleep?: (ms: number) => Promise<void>;
}

/** A token and what the source knows about it. */
export interface AccessToken {
  /** The value for `Authorization: Bearer` (or `DPoP`, see `tokenType`). */
  token: string;
  /** `DPoP` for a token bound to the source's DPoP key (RFC 9449): it is sent with a proof, as `Authorization: DPoP`. */
  tokenType: 'Bearer' | 'DPoP';
  /** When the token expires, by this process's clock (from `expires_in`, counted from when it was asked for). */
  expiresAt: Date;
  /** The permissions granted (the answer's `scope`, or what was asked for when the server did not say). */
  scope: readonly string[];
}

export interface GetTokenOptions {
  /** Get a new token even if the cached one is still fresh (after the API rejected it, say). */
  forceRefresh?: boolean;
}

/**
 * Gets access tokens for one API with the client credentials grant (RFC 6749 §4.4) and keeps
 * them: one instance per (client, audience, scope), shared by the whole process.
 */
export interface TokenSource {
  /** A valid access token, from the cache when it is fresh. */
  getToken(options?: GetTokenOptions): Promise<string>;
  /** The same, with its expiry and scope. */
  getAccessToken(options?: GetTokenOptions): Promise<AccessToken>;
  /**
   * Forget the cached access token, if it is still `token` (the API said it is invalid), so the
   * next call gets a new one. Without an argument, forget it whatever it is. A refresh token is kept.
   */
  invalidate(token?: string): void;
  /**
   * The oauth4webapi DPoP handle that signs this source's proofs (undefined without `dpop`), for
   * requests sent with oauth4webapi's `protectedResourceRequest`; `createAuthenticatedFetch` uses it.
   */
  dpopHandle?(): Promise<oauth.DPoPHandle | undefined>;
}

/** Below this much remaining life, a token is not handed out even when renewal fails. */
const MIN_REMAINING_MS = 5_000;
const DEFAULT_RENEW_BEFORE_SECONDS = 60;
const DEFAULT_LIFETIME_SECONDS = 300;

interface Cached extends AccessToken {
  renewAt: number;
}

/**
 * Creates a token source. Nothing is fetched until the first `getToken()`.
 *
 * - **Discovery**: the token endpoint comes from the issuer's RFC 8414 metadata, fetched once
 *   (and again only after a failed fetch); the metadata must name the configured issuer.
 * - **Caching and renewal**: a token is reused until `renewBeforeSeconds` before it expires;
 *   then the next call gets a new one. If that renewal fails transiently while the cached
 *   token still has a few seconds of life, the cached token is returned and the next call tries again.
 * - **One request at a time**: concurrent callers wait for the same token request.
 * - **Refresh tokens**: when the server issues one (a client with `refresh_tokens: true`),
 *   renewals use it (RFC 6749 §6), keeping the newest one the server returns; if it is
 *   refused (`invalid_grant`, e.g. after a restart of the family), the source falls back to
 *   the client credentials grant.
 * - **Retries**: network errors, timeouts, 5xx and 429 are retried with exponential backoff
 *   and jitter (and `Retry-After`); OAuth errors are not. `invalid_client` (wrong, rotated or
 *   deleted credentials) is thrown at once, as an `OAuthError` with `code: 'invalid_client'`.
 *
 * Errors: `OAuthError` (the server's RFC 6749 §5.2 `error` in `code`), `TransportError`
 * (unreachable, timeout, non-OAuth answer), `DiscoveryError` (bad or foreign metadata).
 */
export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const settings = validate(options);
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const retryPolicy = options.retry === false ? { ...DEFAULT_RETRY, retries: 0 } : { ...DEFAULT_RETRY, ...options.retry };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const client: oauth.Client = { client_id: options.clientId };

  let server: Promise<oauth.AuthorizationServer> | undefined = options.tokenEndpoint ? Promise.resolve({ issuer: options.issuer, token_endpoint: options.tokenEndpoint }) : undefined;
  let current: Cached | undefined;
  let refreshToken: string | undefined;
  let inFlight: Promise<Cached> | undefined;
  // Made once, at the first token request: importing the key and making a DPoP key pair are asynchronous.
  let credentials: Promise<Credentials> | undefined;
  const credentialsOf = (): Promise<Credentials> => {
    credentials ??= makeCredentials(options, client);
    return credentials;
  };

  const tokenEndpoint = async (): Promise<TokenEndpoint> => {
    server ??= withRetries(() => discover(options.issuer, fetchImpl, timeoutMs), retryPolicy, sleep);
    let metadata: oauth.AuthorizationServer;
    try {
      metadata = await server;
    } catch (err) {
      server = undefined;
      throw err;
    }
    return { server: metadata, client, ...(await credentialsOf()), fetch: fetchImpl, timeoutMs };
  };

  const exchange = async (grant: Grant): Promise<Cached> => {
    const endpoint = await tokenEndpoint();
    const askedAt = now();
    const answer = await withRetries(() => requestToken(endpoint, grant), retryPolicy, sleep);
    if (answer.refresh_token) refreshToken = answer.refresh_token;
    return cache(answer, askedAt);
  };

  const cache = (answer: TokenResponse, askedAt: number): Cached => {
    const lifetimeMs = (answer.expires_in ?? DEFAULT_LIFETIME_SECONDS) * 1000;
    const expiresAt = askedAt + lifetimeMs;
    const renewBeforeMs = Math.min(settings.renewBeforeSeconds * 1000, lifetimeMs / 2);
    return {
      token: answer.access_token,
      tokenType: answer.token_type,
      expiresAt: new Date(expiresAt),
      renewAt: expiresAt - renewBeforeMs,
      scope: answer.scope !== undefined ? answer.scope.split(' ').filter(Boolean) : settings.scope,
    };
  };

  const obtain = async (): Promise<Cached> => {
    if (refreshToken) {
      const presented = refreshToken;
      try {
        return await exchange({ grant_type: 'refresh_token', refresh_token: presented });
      } catch (err) {
        // The client's own credentials failing, or the server being down, is not the refresh token's fault.
        if (!(err instanceof OAuthError) || err.code === 'invalid_client' || err.transient) throw err;
        // invalid_grant (expired, revoked, re-used), unauthorized_client (refresh turned off): start over.
        if (refreshToken === presented) refreshToken = undefined;
      }
    }
    return exchange({
      grant_type: 'client_credentials',
      audience: options.audience,
      ...(settings.scope.length > 0 ? { scope: settings.scope.join(' ') } : {}),
    });
  };

  const getAccessToken = async (opts: GetTokenOptions = {}): Promise<AccessToken> => {
    const cached = current;
    if (!opts.forceRefresh && cached && now() < cached.renewAt) return publicView(cached);
    if (!inFlight) {
      const request = obtain();
      inFlight = request;
      request.then(
        (fresh) => {
          current = fresh;
        },
        (err: unknown) => {
          if (!isTransient(err)) current = undefined;
        },
      );
      void request
        .finally(() => {
          if (inFlight === request) inFlight = undefined;
        })
        .catch(() => {});
    }
    try {
      return publicView(await inFlight);
    } catch (err) {
      const stillUsable = current !== undefined && current === cached && !opts.forceRefresh && now() + MIN_REMAINING_MS < current.expiresAt.getTime();
      if (stillUsable && isTransient(err)) return publicView(cached);
      throw err;
    }
  };

  return {
    getAccessToken,
    getToken: async (opts) => (await getAccessToken(opts)).token,
    invalidate(token?: string) {
      if (token === undefined || current?.token === token) current = undefined;
    },
    dpopHandle: async () => (await credentialsOf()).dpop,
  };
}

function publicView(cached: Cached): AccessToken {
  return { token: cached.token, tokenType: cached.tokenType, expiresAt: cached.expiresAt, scope: cached.scope };
}

function validate(options: TokenSourceOptions): { renewBeforeSeconds: number; scope: readonly string[] } {
  for (const name of ['issuer', 'clientId', 'audience'] as const) {
    if (typeof options[name] !== 'string' || options[name] === '') throw new TypeError(`createTokenSource: ${name} is required.`);
  }
  const method = authMethodOf(options);
  if (method === 'private_key_jwt' ? options.privateKey === undefined : typeof options.clientSecret !== 'string' || options.clientSecret === '') {
    throw new TypeError(method === 'private_key_jwt' ? 'createTokenSource: privateKey is required for private_key_jwt.' : 'createTokenSource: clientSecret (or privateKey) is required.');
  }
  if (!URL.canParse(options.issuer)) throw new TypeError(`createTokenSource: issuer ${JSON.stringify(options.issuer)} is not a URL.`);
  const renewBeforeSeconds = options.renewBeforeSeconds ?? DEFAULT_RENEW_BEFORE_SECONDS;
  if (!(renewBeforeSeconds >= 0)) throw new TypeError('createTokenSource: renewBeforeSeconds must be 0 or more.');
  const scope = typeof options.scope === 'string' ? options.scope.split(' ').filter(Boolean) : [...(options.scope ?? [])];
  return { renewBeforeSeconds, scope };
}

type Credentials = Pick<TokenEndpoint, 'auth' | 'dpop'>;

async function makeCredentials(options: TokenSourceOptions, client: oauth.Client): Promise<Credentials> {
  const auth = await clientAuthFor(options);
  if (!options.dpop) return { auth, dpop: undefined };
  // RFC 9449 §5: the key the tokens are bound to. A generated one never leaves this process (its private key is not extractable).
  const keyPair = options.dpop === true ? await oauth.generateKeyPair('ES256') : options.dpop;
  return { auth, dpop: oauth.DPoP(client, keyPair, EDDSA_AS_SERVERS_KNOW_IT) };
}
