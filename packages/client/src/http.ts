import { TransportError, type PortcullisClientError } from './errors.js';

/** The subset of `fetch` this package calls: anything WHATWG-compatible (Node's, undici's, a test's counting wrapper). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** How transient failures (network errors, timeouts, 5xx, 429) are retried. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 3. */
  retries?: number;
  /** The first backoff, doubled on each retry, with jitter. Default 200 ms. */
  baseDelayMs?: number;
  /** The longest wait between attempts; a `Retry-After` longer than this ends the retries. Default 5000 ms. */
  maxDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { retries: 3, baseDelayMs: 200, maxDelayMs: 5000 };

/**
 * The fetch handed to oauth4webapi (its `customFetch`): each request gets a timeout, and a
 * failure to get any answer becomes a `TransportError` naming the reason.
 */
export function timedFetch(fetchImpl: FetchLike, timeoutMs: number) {
  return async (url: string, init: RequestInit): Promise<Response> => {
    try {
      return await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
        throw new TransportError('timeout', `No answer from ${url} within ${timeoutMs} ms.`, undefined, { cause: err });
      }
      throw new TransportError('network_error', `Could not reach ${url}: ${describeNetworkError(err)}.`, undefined, { cause: err });
    }
  };
}

/** `Retry-After` as seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date). */
export function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * Runs `attempt`, retrying while it fails with a transient error, with exponential backoff
 * and jitter, honouring the server's `Retry-After` when it is no longer than `maxDelayMs`.
 * Anything else (an `invalid_client`, say) is thrown at once.
 */
export async function withRetries<T>(attempt: () => Promise<T>, policy: Required<RetryOptions>, sleep: (ms: number) => Promise<void>): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransient(err) || retry >= policy.retries) throw err;
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
      const jittered = backoff / 2 + Math.random() * (backoff / 2);
      const asked = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (asked !== undefined && asked * 1000 > policy.maxDelayMs) throw err;
      await sleep(Math.max(jittered, (asked ?? 0) * 1000));
    }
  }
}

export function isTransient(err: unknown): err is PortcullisClientError {
  return typeof err === 'object' && err !== null && (err as { transient?: unknown }).transient === true;
}

export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function describeNetworkError(err: unknown): string {
  // Node's fetch reports "fetch failed" and hides the reason (ECONNREFUSED, ENOTFOUND…) in `cause`.
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code === 'ECONNREFUSED' ? 'connection refused' : cause.code;
  return err instanceof Error ? err.message : String(err);
}
