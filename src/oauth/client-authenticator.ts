import { randomBytes } from 'node:crypto';
import { fromEpochMs, type Clock } from '../clock.js';
import { isWellFormedSecret, type SecretHasher } from '../clients/secret.js';
import type { ClientSnapshot, ClientSnapshotCache } from '../clients/client-snapshots.js';
import type { UsageRecorder } from '../usage/usage-recorder.js';
import { InvalidClientError } from '../errors/oauth-error.js';
import { isStorable } from '../wire/text.js';
import type { FailureThrottle } from '../throttle/failure-throttle.js';
import type { ClientAssertionVerifier } from './client-assertion.js';
import type { SecretRules } from '../usage/secret-rules.js';
import type { PresentedCredentials } from './client-credentials-parser.js';

export interface AuthenticatedClient {
  client: ClientSnapshot;
  method: PresentedCredentials['method'];
}

/**
 * What the secret presented for an unknown client is compared with: one hash, as for a known
 * client with one secret, so that both refusals do the same work (an HMAC and a comparison).
 */
const UNKNOWN_CLIENT_HASHES: readonly Buffer[] = [randomBytes(32)];

/**
 * Authenticates a client by its secret (RFC 6749 §2.3.1) or a `private_key_jwt` assertion
 * (RFC 7523 §2.2). A client without a secret has no hash to match, so a secret always fails for it. Every way of failing gives
 * the same `invalid_client` (docs/http-api.md §2); the private `detail` tells the log which.
 */
export class ClientAuthenticator {
  constructor(
    private readonly clients: ClientSnapshotCache,
    private readonly hasher: SecretHasher,
    private readonly throttle: FailureThrottle,
    private readonly usage: UsageRecorder,
    private readonly clock: Clock,
    private readonly assertions: ClientAssertionVerifier,
    /** secret_max_age_days and retire_when_unused_seconds (src/usage/secret-rules.ts). */
    private readonly secretRules: SecretRules,
  ) {}

  async authenticate(credentials: PresentedCredentials | undefined, ip: string): Promise<AuthenticatedClient> {
    if (!credentials) {
      const refusing = this.throttle.check(undefined, ip);
      if (refusing) await refusing;
      throw new InvalidClientError('no client authentication');
    }
    // Before anything is looked at: a refusal tells nothing about the secret. No promise (and
    // no await) unless the address has failed recently: the token path pays one map lookup.
    const refusing = this.throttle.check(credentials.clientId, ip);
    if (refusing) await refusing;
    const result =
      credentials.method === 'private_key_jwt' ? await this.verifyAssertion(credentials.clientId, credentials.assertion) : await this.verify(credentials.clientId, credentials.clientSecret);
    if (typeof result === 'string') {
      await this.throttle.failed(credentials.clientId, ip);
      throw new InvalidClientError(result);
    }
    const forgetting = this.throttle.succeeded(credentials.clientId, ip);
    if (forgetting) await forgetting;
    return { client: result, method: credentials.method };
  }

  /** The client's snapshot, or why its `private_key_jwt` assertion failed (client-assertion.ts). */
  private async verifyAssertion(clientId: string, assertion: string): Promise<ClientSnapshot | string> {
    if (clientId.length === 0 || clientId.length > 128 || !isStorable(clientId)) return 'malformed client_id (or an assertion without sub)';
    const client = await this.clients.get(clientId);
    if (!client) return 'unknown client';
    const failure = await this.assertions.verify(client, assertion);
    if (failure !== undefined) return failure;
    // No secret was used: a id that matches no secret row moves only the client's last_used_at.
    this.usage.record(clientId, `private_key_jwt:${clientId}`, this.clock.now());
    return client;
  }

  /** The client's snapshot, or why authentication failed. */
  private async verify(clientId: string, clientSecret: string): Promise<ClientSnapshot | string> {
    if (clientId.length === 0 || clientId.length > 128 || !isStorable(clientId)) return 'malformed client_id';
    if (!isWellFormedSecret(clientSecret)) return 'malformed secret (format or checksum)';
    // Unknown ids are cached too (client-snapshots.ts): neither path reads the database when hot.
    const client = await this.clients.get(clientId);
    if (!client) {
      this.hasher.match(clientSecret, UNKNOWN_CLIENT_HASHES);
      return 'unknown client';
    }
    const now = this.clock.nowMs();
    const index = this.hasher.match(clientSecret, client.secretHashes);
    const secret = client.secrets[index];
    if (!secret) return 'secret does not match';
    // A secret past its grace period is checked like the others (so timing tells nothing) and refused here.
    if (secret.expiresAt !== null && secret.expiresAt <= now) return 'secret does not match (a rotated secret past its grace period)';
    let refused = this.secretRules.refuses(client, secret, now);
    if (refused instanceof Promise) refused = await refused;
    if (refused !== undefined) return `secret does not match (${refused})`;
    this.usage.record(clientId, secret.id, fromEpochMs(now));
    return client;
  }
}
