import { createAuthenticatedFetch, createTokenSource, OAuthError, type FetchLike, type TokenSource } from '@portcullis/client';

export interface DaemonConfig {
  /** The Portcullis issuer, e.g. http://localhost:8080. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The meter API's identifier in Portcullis (the token audience). */
  audience: string;
  /** Where the meter API listens. */
  apiUrl: string;
  meterId: string;
  intervalSeconds: number;
}

/** Reads the settings from the environment, naming every missing one. */
export function configFromEnv(env: Record<string, string | undefined>): DaemonConfig {
  const missing = ['PORTCULLIS_CLIENT_ID', 'PORTCULLIS_CLIENT_SECRET'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`Set ${missing.join(' and ')} (the client created with \`portcullis clients create\`).`);
  const intervalSeconds = Number(env.INTERVAL_SECONDS ?? 10);
  if (!(intervalSeconds > 0)) throw new Error('INTERVAL_SECONDS must be a positive number.');
  return {
    issuer: env.PORTCULLIS_ISSUER ?? 'http://localhost:8080',
    clientId: env.PORTCULLIS_CLIENT_ID ?? '',
    clientSecret: env.PORTCULLIS_CLIENT_SECRET ?? '',
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

export type Log = (message: string) => void;

/**
 * Sends a reading of one meter to the meter API every `intervalSeconds`. The token source
 * gets, caches and renews the access token; the authenticated fetch adds it to each call and
 * retries once with a fresh token if the API answers 401.
 */
export class MeterDaemon {
  readonly tokens: TokenSource;
  private readonly api: FetchLike;
  private total = 0;

  constructor(
    private readonly config: DaemonConfig,
    private readonly log: Log = (m) => console.log(m),
    options: { fetch?: FetchLike } = {},
  ) {
    this.tokens = createTokenSource({
      issuer: config.issuer,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      audience: config.audience,
      scope: ['meters:write'],
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.api = createAuthenticatedFetch(this.tokens, options.fetch ? { fetch: options.fetch } : {});
  }

  /** Takes one reading and sends it. Throws `OAuthError` (token), `MeterApiError` (API) or a network error. */
  async sendReading(): Promise<{ meter_id: string; value: number; at: string }> {
    this.total += 0.5 + Math.random();
    const value = Math.round(this.total * 1000) / 1000;
    const response = await this.api(`${this.config.apiUrl}/meters/${encodeURIComponent(this.config.meterId)}/readings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value }),
    });
    const text = await response.text();
    if (response.status !== 201) throw new MeterApiError(response.status, text);
    const reading = JSON.parse(text) as { meter_id: string; value: number; at: string };
    this.log(`sent ${reading.meter_id} = ${reading.value} kWh at ${reading.at}`);
    return reading;
  }

  /**
   * Sends readings until `signal` aborts. Transient trouble (API or Portcullis down) is logged
   * and tried again next time; rejected credentials end the loop with the `OAuthError`,
   * since retrying them cannot help and would only lock the client out.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.sendReading();
      } catch (err) {
        if (err instanceof OAuthError && !err.transient) throw err;
        this.log(`could not send a reading (${err instanceof Error ? err.message : String(err)}); retrying in ${this.config.intervalSeconds} s`);
      }
      await sleep(this.config.intervalSeconds * 1000, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
