import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { openStore } from '../../src/store/connect.js';
import { testDatabases } from '../helpers/databases.js';
import { seedClient, startPortcullis, type TestPortcullis } from '../helpers/portcullis.js';

const postgres = testDatabases().filter((d) => d.name === 'postgres');
const MASTER_KEY = randomBytes(32).toString('base64');
/** Long enough that the test's change certainly lands while the listener is down. */
const LISTEN_RETRY_MS = 4000;

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Two processes' runtimes on one PostgreSQL database: `here` (whose LISTEN connection the
 * test cuts) and `there` (which makes the changes). What `there` changes while `here` is
 * not listening must reach `here` once it listens again, without `here` emptying its caches.
 */
describe.each(postgres)('the change feed across a lost LISTEN connection on $name', (db) => {
  let here: TestPortcullis;
  let there: TestPortcullis;
  /** Clients whose changes `here` has applied (after its caches: it subscribes last). */
  const heardHere = new Set<string>();

  beforeAll(async () => {
    there = await startPortcullis(await db.open(), { masterKey: MASTER_KEY });
    here = await startPortcullis(await openStore({ databaseUrl: db.url, poolSize: 4, listenRetryMs: LISTEN_RETRY_MS }), { masterKey: MASTER_KEY });
    here.runtime.feed.subscribe({ apply: (change) => void (change.kind === 'client' && heardHere.add(change.clientId)), reset: () => {} });
  });
  afterAll(async () => {
    await here?.close();
    await there?.close();
    await db.dispose();
  });

  /** Ends every LISTEN connection of this database (both runtimes'), as a network blip or a failover would. */
  async function cutListeners(): Promise<void> {
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'portcullis-listener'`.execute(there.runtime.store.db);
    await until(() => !here.runtime.feed.connected, 'the listener to notice');
  }

  async function reconnected(replaysBefore: number): Promise<void> {
    await until(() => here.runtime.feed.connected && here.runtime.feed.stats.replays > replaysBefore, 'the listener to come back');
    await here.runtime.feed.settled();
  }

  it('replays a rotation and a catalog change made while it was down, and keeps the rest of its caches', async () => {
    const rotated = await seedClient(there.runtime);
    const bystander = await seedClient(there.runtime);
    // Their creation is announced too: once here has heard it, no notice in flight evicts what it caches next.
    await until(() => heardHere.has(rotated.clientId) && heardHere.has(bystander.clientId), 'the creations to be announced here');
    const kept = await here.runtime.clientSnapshots.get(bystander.clientId);
    const before = await here.runtime.clientSnapshots.get(rotated.clientId);
    expect(before?.secrets).toHaveLength(1);
    const { replays, resets } = here.runtime.feed.stats;

    await cutListeners();
    const rotation = await there.runtime.clients.rotateSecret(rotated.orgId, rotated.clientId, { gracePeriodSeconds: 0 }, SYSTEM_ACTOR);
    const identifier = `https://replayed-${randomBytes(3).toString('hex')}.example/`;
    await there.runtime.catalogService.createApi({ identifier, name: 'Made while here was deaf', permissions: [] }, SYSTEM_ACTOR);
    // Not yet seen here: the notice went nowhere.
    expect(here.runtime.catalog.snapshot.apiByIdentifier(identifier)).toBeUndefined();
    expect(await here.runtime.clientSnapshots.get(rotated.clientId)).toBe(before);

    await reconnected(replays);
    const after = await here.runtime.clientSnapshots.get(rotated.clientId);
    expect(after).not.toBe(before);
    expect(after?.secrets.map((s) => s.id)).not.toEqual(before?.secrets.map((s) => s.id));
    expect(rotation.client_secret).toMatch(/^pcs_/);
    expect(here.runtime.catalog.snapshot.apiByIdentifier(identifier)?.name).toBe('Made while here was deaf');
    // Only what changed was reloaded: the other client's snapshot is the very same object.
    expect(await here.runtime.clientSnapshots.get(bystander.clientId)).toBe(kept);
    expect(here.runtime.feed.stats.resets).toBe(resets);
  });

  it('resets its caches when what it missed is no longer kept', async () => {
    const client = await seedClient(there.runtime);
    const cached = await here.runtime.clientSnapshots.get(client.clientId);
    const { replays, resets } = here.runtime.feed.stats;

    await cutListeners();
    await there.runtime.clients.setRoles(client.orgId, client.clientId, [], SYSTEM_ACTOR);
    // As if housekeeping had pruned everything up to the newest change while here was away.
    await sql`delete from changes where seq < (select max(seq) from changes)`.execute(there.runtime.store.db);

    await reconnected(replays);
    expect(here.runtime.feed.stats.resets).toBe(resets + 1);
    const fresh = await here.runtime.clientSnapshots.get(client.clientId);
    expect(fresh).not.toBe(cached);
    expect(fresh?.roles).toEqual([]);
  });
});

describe.each(testDatabases())('the changes table on $name', (db) => {
  let p: TestPortcullis;

  beforeAll(async () => {
    p = await startPortcullis(await db.open());
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  it('numbers each published change, replays from a number with a margin, prunes old ones but never the latest', async () => {
    const changes = p.runtime.store.data.read.changes;
    const start = await changes.latest();
    // A new API and role change the catalog; a new client is announced (a cache may remember its id as unknown), and so is its rotation.
    const client = await seedClient(p.runtime);
    await p.runtime.clients.rotateSecret(client.orgId, client.clientId, { gracePeriodSeconds: 0 }, SYSTEM_ACTOR);
    const latest = await changes.latest();
    expect(latest).toBeGreaterThan(start);
    const since = await changes.since(start, 0);
    expect(since?.map((c) => c.seq)).toEqual([...since!.map((c) => c.seq)].sort((a, b) => a - b));
    expect(since?.every((c) => c.seq > start)).toBe(true);
    expect(since?.map((c) => c.change)).toContain(`client:${client.clientId}`);
    // With a margin, the changes drawn shortly before the position come again (duplicates are harmless).
    expect((await changes.since(latest, 60))?.length).toBeGreaterThan(1);

    await sql`update changes set at = at - interval '2 days'`.execute(p.runtime.store.db);
    await p.runtime.feed.prune();
    expect(await changes.latest()).toBe(latest);
    expect(await changes.since(start, 0)).toBeUndefined(); // that position is gone: the caller must reset
    expect(await changes.since(latest, 0)).toEqual([]);
  });

  it('ignores notices that are not ours', async () => {
    const before = p.runtime.feed.stats.replays;
    await sql`select pg_notify('portcullis_changes', ${'garbage'}), pg_notify('portcullis_changes', ${'12:client:'}), pg_notify('portcullis_changes', ${':catalog'})`.execute(p.runtime.store.db);
    const client = await seedClient(p.runtime);
    expect((await p.runtime.clientSnapshots.get(client.clientId))?.clientId).toBe(client.clientId);
    expect(p.runtime.feed.stats.replays).toBe(before);
  });
});
