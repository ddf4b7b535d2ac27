import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { ClientSnapshot, ClientSnapshotCache } from '../../src/clients/client-snapshots.js';
import { generateSecret, SecretHasher } from '../../src/clients/secret.js';
import type { UsageRecorder } from '../../src/clients/usage-recorder.js';
import { InvalidClientError } from '../../src/errors/oauth-error.js';
import { ClientAssertionVerifier } from '../../src/oauth/client-assertion.js';
import { ClientAuthenticator } from '../../src/oauth/client-authenticator.js';
import { FailureThrottle } from '../../src/throttle/failure-throttle.js';
import { TestClock } from '../helpers/clock.js';

function setup() {
  const hasher = new SecretHasher(randomBytes(32));
  const secret = generateSecret();
  const known: ClientSnapshot = {
    clientId: 'known',
    orgId: 'org_1',
    refreshTokens: false,
    requireDpop: false,
    jwks: [],
    keySet: undefined,
    roles: [],
    secrets: [{ id: 'sec_1', hash: hasher.hash(secret), expiresAt: null }],
    secretHashes: [hasher.hash(secret)],
  };
  const clients = { get: async (id: string) => (id === 'known' ? known : undefined) } as unknown as ClientSnapshotCache;
  const usage = { record: vi.fn() } as unknown as UsageRecorder;
  const throttle = new FailureThrottle({ name: 'test', failuresPerKeyFromAddress: 1000, failuresPerAddress: 1000, windowSeconds: 60 }, new TestClock());
  const match = vi.spyOn(hasher, 'match');
  return {
    authenticator: new ClientAuthenticator(clients, hasher, throttle, usage, new TestClock(), new ClientAssertionVerifier('http://localhost:8080', async () => true, new TestClock())),
    secret,
    match,
  };
}

describe('ClientAuthenticator', () => {
  it('refuses an unknown client after the same work as a wrong secret: one HMAC compared with one hash', async () => {
    const { authenticator, match } = setup();
    for (const clientId of ['known', 'unknown']) {
      match.mockClear();
      const attempt = authenticator.authenticate({ clientId, clientSecret: generateSecret(), method: 'client_secret_basic' }, '10.0.0.1');
      await expect(attempt).rejects.toBeInstanceOf(InvalidClientError);
      expect(match, clientId).toHaveBeenCalledTimes(1);
      expect(match.mock.calls[0]?.[1], clientId).toHaveLength(1);
    }
  });

  it('lets the right secret in', async () => {
    const { authenticator, secret } = setup();
    const { client } = await authenticator.authenticate({ clientId: 'known', clientSecret: secret, method: 'client_secret_post' }, '10.0.0.1');
    expect(client.clientId).toBe('known');
  });
});
