import { createHmac, randomBytes } from 'node:crypto';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { ClientSnapshotCache } from '../../src/clients/client-snapshots.js';
import { UsageRecorder } from '../../src/usage/usage-recorder.js';
import { deriveKey } from '../../src/keys/master-key.js';
import type { Change } from '../../src/store/change-feed.js';
import { dataOf, Repositories } from '../../src/store/repositories/index.js';
import { testDatabases } from '../helpers/databases.js';
import { seedClient, startPortcullis, type SeededClient, type TestPortcullis } from '../helpers/portcullis.js';

const MASTER_KEY = randomBytes(32).toString('base64');
const PEPPER = deriveKey(Buffer.from(MASTER_KEY, 'base64'), 'client-secret-pepper');
const hmac = (secret: string) => createHmac('sha256', PEPPER).update(secret).digest();

/** Counts the statements sent through a Kysely instance. */
class QueryCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

describe.each(testDatabases())('ClientSnapshotCache and UsageRecorder on $name', (db) => {
  let p: TestPortcullis;

  beforeAll(async () => {
    p = await startPortcullis(await db.open(), { masterKey: MASTER_KEY });
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  function countingCache(maxEntries = 100) {
    const counter = new QueryCounter();
    return { cache: new ClientSnapshotCache(new Repositories(p.runtime.store.db.withPlugin(counter)), maxEntries), counter };
  }
  const secretRows = (clientId: string) => p.runtime.store.db.selectFrom('client_secrets').selectAll().where('client_id', '=', clientId).orderBy('created_at').execute();

  describe('ClientSnapshotCache', () => {
    it('loads organization, roles and secrets in one read, then serves from memory', async () => {
      const c = await seedClient(p.runtime, { refreshTokens: true });
      const extra = await p.runtime.catalogService.createRole({ name: `Extra ${c.clientId}`, permissions: [] }, SYSTEM_ACTOR);
      await p.runtime.clients.setRoles(c.orgId, c.clientId, [extra.id, c.roleId], SYSTEM_ACTOR);
      const [secret] = await secretRows(c.clientId);
      const { cache, counter } = countingCache();

      const grant = await cache.get(c.clientId);
      expect(counter.count).toBe(1);
      expect(grant).toEqual({
        clientId: c.clientId,
        orgId: c.orgId,
        refreshTokens: true,
        requireDpop: false,
        jwks: [],
        keySet: undefined,
        roles: [extra.id, c.roleId].sort(),
        secrets: [{ id: secret!.id, hash: hmac(c.secret), createdAt: secret!.created_at.getTime(), expiresAt: null, lastUsedAt: null, retireWhenUnusedSeconds: null }],
        secretHashes: [hmac(c.secret)],
        tokenClaims: {},
        tokenQuota: null,
      });
      expect(Buffer.isBuffer(grant!.secrets[0]!.hash)).toBe(true);

      expect(await cache.get(c.clientId)).toBe(grant);
      expect(counter.count).toBe(1);
    });

    it('concurrent gets share one read', async () => {
      const c = await seedClient(p.runtime);
      const { cache, counter } = countingCache();
      const grants = await Promise.all(Array.from({ length: 5 }, () => cache.get(c.clientId)));
      expect(counter.count).toBe(1);
      for (const g of grants) expect(g).toBe(grants[0]);
    });

    it('evict forces a reload', async () => {
      const c = await seedClient(p.runtime);
      const { cache, counter } = countingCache();
      const first = await cache.get(c.clientId);
      cache.evict(c.clientId);
      const second = await cache.get(c.clientId);
      expect(counter.count).toBe(2);
      expect(second).toEqual(first);
      expect(second).not.toBe(first);
      cache.clear();
      await cache.get(c.clientId);
      expect(counter.count).toBe(3);
    });

    it('a read that was under way when the entry was evicted is not cached', async () => {
      const c = await seedClient(p.runtime);
      const { cache, counter } = countingCache();
      const pending = cache.get(c.clientId);
      cache.evict(c.clientId);
      await pending;
      await cache.get(c.clientId);
      expect(counter.count).toBe(2);
      await cache.get(c.clientId);
      expect(counter.count).toBe(2);
    });

    describe('warm', () => {
      /** Three fresh clients used most recently of all (in the future), in the order b, c, a. */
      async function recentlyUsed() {
        const [a, b, c] = [await seedClient(p.runtime), await seedClient(p.runtime), await seedClient(p.runtime)];
        const inHours = (h: number) => new Date(Date.now() + h * 3600_000);
        for (const [client, at] of [
          [a, inHours(1)],
          [b, inHours(3)],
          [c, inHours(2)],
        ] as const) {
          await p.runtime.store.db.updateTable('clients').set({ last_used_at: at }).where('client_id', '=', client.clientId).execute();
        }
        return { a, b, c };
      }

      it('loads the most recently used clients, as many as the cache holds, and serves them without a read', async () => {
        const { a, b, c } = await recentlyUsed();
        const { cache, counter } = countingCache(2);
        expect(await cache.warm()).toBe(2);
        expect(cache.size).toBe(2);
        const reads = counter.count;
        expect((await cache.get(b.clientId))?.orgId).toBe(b.orgId);
        expect((await cache.get(c.clientId))?.secretHashes).toEqual([hmac(c.secret)]);
        expect(counter.count).toBe(reads);
        await cache.get(a.clientId); // not among the two most recent: read on demand
        expect(counter.count).toBe(reads + 1);
      });

      it('keeps the most recently used as the last to be evicted', async () => {
        const { a, b, c } = await recentlyUsed();
        const { cache, counter } = countingCache(2);
        await cache.warm();
        await cache.get(a.clientId); // a third client: the LRU drops the least recent of b and c, which is c
        const reads = counter.count;
        await cache.get(b.clientId);
        expect(counter.count).toBe(reads);
        await cache.get(c.clientId);
        expect(counter.count).toBe(reads + 1);
      });

      it('drops what it read while a change evicted an entry: those clients load on demand', async () => {
        const { b } = await recentlyUsed();
        let cache!: ClientSnapshotCache;
        let queries = 0;
        const evictDuringChunk: KyselyPlugin = {
          transformQuery: (args) => {
            if (++queries === 2) cache.evict('some-client'); // the first chunk of grants is being read
            return args.node;
          },
          transformResult: async (args) => args.result,
        };
        cache = new ClientSnapshotCache(new Repositories(p.runtime.store.db.withPlugin(evictDuringChunk)), 3);
        expect(await cache.warm()).toBe(0);
        expect(cache.size).toBe(0);
        expect((await cache.get(b.clientId))?.clientId).toBe(b.clientId);
      });

      it('with size 0 it reads nothing', async () => {
        const { cache, counter } = countingCache(0);
        expect(await cache.warm()).toBe(0);
        expect(counter.count).toBe(0);
      });
    });

    it('an unknown client is undefined, and remembered as unknown until a change names it or the feed resets', async () => {
      const { cache, counter } = countingCache();
      expect(await cache.get('no-such-client')).toBeUndefined();
      expect(await cache.get('no-such-client')).toBeUndefined();
      expect(counter.count).toBe(1);
      cache.apply({ kind: 'catalog' });
      await cache.get('no-such-client');
      expect(counter.count).toBe(1);
      cache.apply({ kind: 'client', clientId: 'no-such-client' });
      await cache.get('no-such-client');
      expect(counter.count).toBe(2);
      cache.reset();
      await cache.get('no-such-client');
      expect(counter.count).toBe(3);
    });

    it('a read of an unknown id under way when a change arrives is not remembered', async () => {
      const { cache, counter } = countingCache();
      const pending = cache.get('not-yet-a-client');
      cache.apply({ kind: 'client', clientId: 'not-yet-a-client' });
      expect(await pending).toBeUndefined();
      await cache.get('not-yet-a-client');
      expect(counter.count).toBe(2);
    });

    it('with size 0 it remembers no unknown client either', async () => {
      const { cache, counter } = countingCache(0);
      await cache.get('no-such-client');
      await cache.get('no-such-client');
      expect(counter.count).toBe(2);
    });

    it('creating a client announces it on the feed, so no cache keeps its id as unknown', async () => {
      const seen: Change[] = [];
      p.runtime.feed.subscribe({ apply: (change) => void seen.push(change), reset: () => {} });
      const c = await seedClient(p.runtime);
      expect(seen).toContainEqual({ kind: 'client', clientId: c.clientId });
    });

    it('with size 0 it reads every time', async () => {
      const c = await seedClient(p.runtime);
      const { cache, counter } = countingCache(0);
      await cache.get(c.clientId);
      await cache.get(c.clientId);
      expect(counter.count).toBe(2);
    });

    it('a change through ClientService is seen at once by runtime.clientSnapshots', async () => {
      const c = await seedClient(p.runtime);
      const other = await p.runtime.catalogService.createRole({ name: `Other ${c.clientId}`, permissions: [] }, SYSTEM_ACTOR);
      expect((await p.runtime.clientSnapshots.get(c.clientId))?.roles).toEqual([c.roleId]);

      await p.runtime.clients.setRoles(c.orgId, c.clientId, [other.id], SYSTEM_ACTOR);
      expect((await p.runtime.clientSnapshots.get(c.clientId))?.roles).toEqual([other.id]);

      await p.runtime.clients.update(c.orgId, c.clientId, { refresh_tokens: true }, SYSTEM_ACTOR);
      expect((await p.runtime.clientSnapshots.get(c.clientId))?.refreshTokens).toBe(true);

      const rotated = await p.runtime.clients.rotateSecret(c.orgId, c.clientId, { gracePeriodSeconds: 120 }, SYSTEM_ACTOR);
      const grant = await p.runtime.clientSnapshots.get(c.clientId);
      expect(grant?.secrets.map((s) => ({ hash: s.hash, expiresAt: s.expiresAt })).sort((a, b) => (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity))).toEqual([
        { hash: hmac(c.secret), expiresAt: rotated.previous_secret_expires_at!.getTime() },
        { hash: hmac(rotated.client_secret), expiresAt: null },
      ]);

      await p.runtime.clients.delete(c.orgId, c.clientId, SYSTEM_ACTOR);
      expect(await p.runtime.clientSnapshots.get(c.clientId)).toBeUndefined();
    });

    it('deleting a role is seen at once by runtime.clientSnapshots of the clients that held it', async () => {
      // Created with both roles: no earlier change notice of this client is in flight to evict it by chance.
      const tag = randomBytes(4).toString('hex');
      const org = await p.runtime.organizations.create({ name: `Org ${tag}` }, SYSTEM_ACTOR);
      const kept = await p.runtime.catalogService.createRole({ name: `Kept ${tag}`, permissions: [] }, SYSTEM_ACTOR);
      const doomed = await p.runtime.catalogService.createRole({ name: `Doomed ${tag}`, permissions: [] }, SYSTEM_ACTOR);
      const { client } = await p.runtime.clients.create(org.id, { name: 'Holder', roles: [kept.id, doomed.id] }, SYSTEM_ACTOR);
      const bystander = await seedClient(p.runtime);
      expect((await p.runtime.clientSnapshots.get(client.client_id))?.roles).toEqual([kept.id, doomed.id].sort());
      const untouched = await p.runtime.clientSnapshots.get(bystander.clientId);

      await p.runtime.catalogService.deleteRole(doomed.id, SYSTEM_ACTOR);
      expect((await p.runtime.clientSnapshots.get(client.client_id))?.roles).toEqual([kept.id]);
      expect(await p.runtime.clientSnapshots.get(bystander.clientId)).toBe(untouched);
    });
  });

  describe('UsageRecorder', () => {
    const lastUsed = async (clientId: string) => {
      const client = await p.runtime.store.db.selectFrom('clients').select('last_used_at').where('client_id', '=', clientId).executeTakeFirstOrThrow();
      const secrets = await secretRows(clientId);
      return { client: client.last_used_at, secrets: secrets.map((s) => s.last_used_at) };
    };

    it('flush writes last_used_at to the client and the secret used', async () => {
      const c = await seedClient(p.runtime);
      const [secret] = await secretRows(c.clientId);
      const recorder = new UsageRecorder(dataOf(p.runtime.store.db), 60_000);
      const t = new Date('2031-05-01T10:00:00.123Z');
      recorder.record(c.clientId, secret!.id, t);
      expect(await lastUsed(c.clientId)).toEqual({ client: null, secrets: [null] });
      await recorder.flush();
      expect(await lastUsed(c.clientId)).toEqual({ client: t, secrets: [t] });
      expect((await p.runtime.clients.get(c.orgId, c.clientId)).last_used_at).toEqual(t);
    });

    it('never moves a time backwards, across flushes or within one', async () => {
      const c = await seedClient(p.runtime);
      const [secret] = await secretRows(c.clientId);
      const recorder = new UsageRecorder(dataOf(p.runtime.store.db), 60_000);
      const t1 = new Date('2031-05-01T10:00:00Z');
      const t2 = new Date('2031-05-01T11:00:00Z');
      const t3 = new Date('2031-05-01T12:00:00Z');

      recorder.record(c.clientId, secret!.id, t2);
      await recorder.flush();
      recorder.record(c.clientId, secret!.id, t1); // an older use reported late
      await recorder.flush();
      expect(await lastUsed(c.clientId)).toEqual({ client: t2, secrets: [t2] });

      recorder.record(c.clientId, secret!.id, t3);
      recorder.record(c.clientId, secret!.id, t1); // out of order within one batch
      await recorder.flush();
      expect(await lastUsed(c.clientId)).toEqual({ client: t3, secrets: [t3] });
    });

    it('keeps each secret’s own time and the client’s latest', async () => {
      const c = await seedClient(p.runtime);
      p.clock.advance(1); // the two secrets' created_at differ, so secretRows has one order
      await p.runtime.clients.rotateSecret(c.orgId, c.clientId, { gracePeriodSeconds: 600 }, SYSTEM_ACTOR);
      const [previous, current] = await secretRows(c.clientId);
      const recorder = new UsageRecorder(dataOf(p.runtime.store.db), 60_000);
      const early = new Date('2031-06-01T08:00:00Z');
      const late = new Date('2031-06-01T09:00:00Z');
      recorder.record(c.clientId, current!.id, early);
      recorder.record(c.clientId, previous!.id, late);
      await recorder.flush();
      expect(await lastUsed(c.clientId)).toEqual({ client: late, secrets: [late, early] });
    });

    it('a deleted client is skipped without error; nothing pending sends nothing', async () => {
      const c = await seedClient(p.runtime);
      const [secret] = await secretRows(c.clientId);
      await p.runtime.clients.delete(c.orgId, c.clientId, SYSTEM_ACTOR);
      const errors: unknown[] = [];
      const counter = new QueryCounter();
      const recorder = new UsageRecorder(dataOf(p.runtime.store.db.withPlugin(counter)), 60_000, (err) => errors.push(err));
      await recorder.flush();
      expect(counter.count).toBe(0);
      recorder.record(c.clientId, secret!.id, new Date('2031-01-01T00:00:00Z'));
      await recorder.flush();
      expect(errors).toEqual([]);
      expect(counter.count).toBeGreaterThan(0);
    });

    it('writes a secret at most once per resolution: a busy client costs one write a minute', async () => {
      const c = await seedClient(p.runtime);
      const [secret] = await secretRows(c.clientId);
      const counter = new QueryCounter();
      const recorder = new UsageRecorder(dataOf(p.runtime.store.db.withPlugin(counter)), 60_000);
      const t = new Date('2032-01-01T00:00:00Z');
      recorder.record(c.clientId, secret!.id, t);
      await recorder.flush();
      const afterFirst = counter.count;
      recorder.record(c.clientId, secret!.id, new Date(t.getTime() + 30_000)); // within the minute: not written again
      await recorder.flush();
      expect(counter.count).toBe(afterFirst);
      expect(await lastUsed(c.clientId)).toEqual({ client: t, secrets: [t] });
      const later = new Date(t.getTime() + 61_000);
      recorder.record(c.clientId, secret!.id, later);
      await recorder.flush();
      expect(await lastUsed(c.clientId)).toEqual({ client: later, secrets: [later] });
    });

    it('writes in statements of perStatement uses, for at most flushBudgetMs per flush, oldest first; stop writes the rest', async () => {
      const seeded: SeededClient[] = [];
      for (let i = 0; i < 5; i++) seeded.push(await seedClient(p.runtime));
      const secrets = await Promise.all(seeded.map(async (c) => (await secretRows(c.clientId))[0]!));
      const statements = new QueryCounter(); // the two updates of each chunk (BEGIN and COMMIT do not pass through plugins)
      // A budget of 0 ms: one statement's worth per flush.
      const recorder = new UsageRecorder(dataOf(p.runtime.store.db.withPlugin(statements)), 60_000, undefined, { flushBudgetMs: 0, perStatement: 2 });
      const t = new Date('2032-02-01T00:00:00Z');
      for (const [i, c] of seeded.entries()) recorder.record(c.clientId, secrets[i]!.id, t);
      await recorder.flush();
      const clientTimes = async () => (await Promise.all(seeded.map((c) => lastUsed(c.clientId)))).map((u) => u.client);
      expect(await clientTimes()).toEqual([t, t, null, null, null]);
      expect(statements.count).toBe(2);
      await recorder.flush();
      expect(await clientTimes()).toEqual([t, t, t, t, null]);
      await recorder.stop();
      expect(await clientTimes()).toEqual([t, t, t, t, t]);
      expect(statements.count).toBe(6);
    });

    it('stop flushes what is pending', async () => {
      const c = await seedClient(p.runtime);
      const [secret] = await secretRows(c.clientId);
      const recorder = new UsageRecorder(dataOf(p.runtime.store.db), 60_000);
      recorder.start();
      const t = new Date('2031-07-01T00:00:00Z');
      recorder.record(c.clientId, secret!.id, t);
      await recorder.stop();
      expect(await lastUsed(c.clientId)).toEqual({ client: t, secrets: [t] });
    });
  });
});
