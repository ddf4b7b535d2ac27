import { readFileSync } from 'node:fs';
import { createAuthenticatedFetch, createTokenSource, type FetchLike, type TokenSource } from '@portcullis/client';

export interface DaemonConfig {
  /** The Portcullis issuer, e.g. http://localhost:8080. */
  issuer: string;
  clientId: string;
  /** The client's private key, PKCS#8 PEM: its public JWK is registered with the client. */
  privateKey: string;
  /** The meter API's identifier in Portcullis (the token audience). */
  audience: string;
  /** Where the meter API listens. */
  apiUrl: string;
  meterId: string;
  intervalSeconds: number;
}

/** Reads the settings from the environment, naming every missing one. The key comes from a file. */
export function configFromEnv(env: Record<string, string | undefined>): DaemonConfig {
  const missing = ['PORTCULLIS_CLIENT_ID', 'PORTCULLIS_PRIVATE_KEY_FILE'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`Set ${missing.join(' and ')} (the client, and the key made with \`npm run keygen\`).`);
  const intervalSeconds = Number(env.INTERVAL_SECONDS ?? 10);
  if (!(intervalSeconds > 0)) throw new Error('INTERVAL_SECONDS must be a positive number.');
  return {
    issuer: env.PORTCULLIS_ISSUER ?? 'http://localhost:8080',
    clientId: env.PORTCULLIS_CLIENT_ID ?? '',
    privateKey: readFileSync(env.PORTCULLIS_PRIVATE_KEY_FILE ?? '', 'utf8'),
    audience: env.METER_API_AUDIENCE ?? 'https://meters.example.com/',
    apiUrl: (env.METER_API_URL ?? 'http://localhost:3000').replace(/\/$/, ''),
    meterId: env.METER_ID ?? 'meter-1',
    intervalSeconds,
  };
}

/** The meter API refused or failed a call (not a token problem: those are `OAuthError`s). */
export class MeterApiError extends Error {
  override name = 'MeterApiError';
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`The meter API answered ${status}: ${body}`);
  }
}

export interface MeterClient {
  tokens: TokenSource;
  api: FetchLike;
}

/**
 * The daemon's token source and API fetch: no client secret anywhere (the client proves itself
 * with a JWT signed by its private key, RFC 7523), and every token bound to a key pair made in
 * this process (DPoP, RFC 9449), so a token that leaks from a log or a proxy is useless.
 */
export function connect(config: DaemonConfig): MeterClient {
  const { issuer, clientId, privateKey, audience } = config;
  // #region docs:secretless-dpop
  const tokens = createTokenSource({
    issuer,
    clientId,
    privateKey, // private_key_jwt: a PEM, a private JWK or a CryptoKey; no client secret
    dpop: true, // tokens bound to a key pair made in this process (token_type "DPoP")
    audience,
    scope: ['meters:write'],
  });
  // Each call carries Authorization: DPoP <token> and a fresh DPoP proof for its method and URL.
  const api = createAuthenticatedFetch(tokens);
  // #endregion
  return { tokens, api };
}

/** Takes one reading and sends it. Throws `OAuthError` (token), `MeterApiError` (API) or a network error. */
export async function sendReading(client: MeterClient, config: DaemonConfig, value: number): Promise<{ meter_id: string; value: number; at: string; recorded_by: string }> {
  const response = await client.api(`${config.apiUrl}/meters/${encodeURIComponent(config.meterId)}/readings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
  });
  const text = await response.text();
  if (response.status !== 201) throw new MeterApiError(response.status, text);
  return JSON.parse(text) as { meter_id: string; value: number; at: string; recorded_by: string };
}
