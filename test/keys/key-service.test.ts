import { describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.js';
import { seedClient, type TestPortcullis, usePortcullis } from '../helpers/portcullis.js';
import { kidOf, tokenRequest, verifyAccessToken } from '../helpers/tokens.js';

async function jwksKids(p: TestPortcullis): Promise<string[]> {
  const res = await p.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  return (res.json() as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
}

describe.each(testDatabases())('signing key rotation on $name', (db) => {
  let p: TestPortcullis;
  usePortcullis(db, (started) => (p = started), { env: { ACCESS_TOKEN_TTL: '3600' } });

  it('publishes the new key before it signs, then keeps the old one until its last token has expired', async () => {
    const c = await seedClient(p.runtime, { ttl: 7200 });
    const first = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
    const oldKid = kidOf(first.json().access_token)!;
    expect(await jwksKids(p)).toEqual([oldKid]);

    const next = await p.runtime.signingKeys.rotate(600);
    // Published at once, not yet signing.
    expect(await jwksKids(p)).toEqual([oldKid, next.kid].sort());
    expect(kidOf((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().access_token)).toBe(oldKid);

    p.clock.advance(600);
    const afterActivation = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
    expect(kidOf(afterActivation.json().access_token)).toBe(next.kid);
    await verifyAccessToken(p.app, afterActivation.json().access_token, c.apiIdentifier, p.clock.now());

    // The last token the old key signed lives as long as the longest API TTL (7200 s here); the key stays that long, plus a minute of skew.
    const lastOld = (await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().access_token;
    expect(kidOf(lastOld)).toBe(next.kid);
    p.clock.advance(7200);
    expect(await jwksKids(p)).toEqual([oldKid, next.kid].sort());
    await verifyAccessToken(p.app, first.json().access_token, c.apiIdentifier, new Date(p.clock.now().getTime() - 7200_000));
    p.clock.advance(61);
    expect(await jwksKids(p)).toEqual([next.kid]);
  });

  it('an immediate rotation (key compromise) signs with the new key at once', async () => {
    const c = await seedClient(p.runtime);
    const key = await p.runtime.signingKeys.rotate(0);
    expect(kidOf((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().access_token)).toBe(key.kid);
  });

  it('stores private keys encrypted, never as a plain JWK', async () => {
    const rows = await p.runtime.store.db.selectFrom('signing_keys').select(['private_key_enc', 'public_jwk']).execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.private_key_enc).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(row.private_key_enc).not.toContain('"d"');
      expect(JSON.stringify(row.public_jwk)).not.toContain('"d"');
    }
  });
});
