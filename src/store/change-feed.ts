import { addMs, type Clock } from '../clock.js';
import type { Repositories, Tx } from './repositories/index.js';

/** What a cache must learn of: one client changed, an organization's policy, the catalog, or the signing keys. */
export type Change = { kind: 'client'; clientId: string } | { kind: 'policy'; orgId: string } | { kind: 'catalog' } | { kind: 'keys' };

/** A cache that follows the feed. Both calls must be idempotent: a change may arrive twice. */
export interface ChangeSubscriber {
  apply(change: Change): void | Promise<void>;
  /** Everything may have changed (the feed could not tell what was missed): forget or reload it all. */
  reset(): void | Promise<void>;
}

/** What the feed needs from the database connection beyond queries. */
export interface ChangeTransport {
  /** Calls `onMessage` for each NOTIFY on `channel`, `onLost` when the listening connection drops, `onRestored` once it listens again. */
  listen(channel: string, handlers: { onMessage(payload: string): void; onLost?(): void; onRestored?(): void }): Promise<void>;
}

export const CHANGES_CHANNEL = 'portcullis_changes';

/**
 * How far before the last change seen a replay looks again: a transaction that drew its
 * number first may commit after later ones, and its notice can be lost with the connection.
 */
const REPLAY_MARGIN_SECONDS = 60;
/** Changes are kept this long; a process disconnected longer resets its caches. */
const RETENTION_MS = 24 * 3600_000;
/** Numbers remembered as delivered, so a change applied locally is not applied again when its notice arrives. */
const REMEMBERED = 4096;

export function encodeChange(change: Change): string {
  if (change.kind === 'client') return `client:${change.clientId}`;
  if (change.kind === 'policy') return `policy:${change.orgId}`;
  return change.kind;
}

export function decodeChange(text: string): Change | undefined {
  if (text === 'catalog' || text === 'keys') return { kind: text };
  if (text.startsWith('client:') && text.length > 'client:'.length) return { kind: 'client', clientId: text.slice('client:'.length) };
  if (text.startsWith('policy:') && text.length > 'policy:'.length) return { kind: 'policy', orgId: text.slice('policy:'.length) };
  return undefined;
}

/**
 * The one way a change reaches the caches of every process. `publish` numbers the change and
 * announces it inside the writing transaction (PostgreSQL delivers a NOTIFY only on commit,
 * so no process hears of a change that never happened) and applies it to this process's
 * subscribers after the commit, so that a caller never reads its own write stale. Other
 * processes apply it when the notice arrives. A process whose listening connection dropped
 * replays the numbered changes it missed once it listens again, instead of emptying its
 * caches; only when they are no longer kept does it reset them.
 */
export class ChangeFeed {
  private readonly subscribers: ChangeSubscriber[] = [];
  /** Each change delivered here, by number, until it is old: a second arrival waits for the first. */
  private readonly delivered = new Map<number, Promise<void>>();
  /** The highest number delivered here: where a replay starts. */
  private cursor = 0;
  private listening = false;
  private replaying: Promise<void> = Promise.resolve();
  /** For operators and tests: replays after a reconnect, and resets when a replay could not tell. */
  readonly stats = { replays: 0, resets: 0 };

  constructor(
    private readonly read: Repositories,
    private readonly transport: ChangeTransport,
    private readonly clock: Clock,
    private readonly onError: (err: unknown, what: string) => void = () => {},
  ) {}

  subscribe(subscriber: ChangeSubscriber): void {
    this.subscribers.push(subscriber);
  }

  /** Whether notices are being received now. */
  get connected(): boolean {
    return this.listening;
  }

  /** Starts listening. Caches loaded after this miss nothing: what changes from here on is announced. */
  async start(): Promise<void> {
    this.cursor = await this.read.changes.latest();
    await this.transport.listen(CHANGES_CHANNEL, {
      onMessage: (payload) => this.onNotice(payload),
      onLost: () => {
        this.listening = false;
      },
      onRestored: () => {
        this.listening = true;
        this.replaying = this.replaying.then(() => this.replay());
      },
    });
    this.listening = true;
  }

  /** Records `change` in `tx` and announces it; this process's caches learn of it after the commit. */
  async publish(tx: Tx, change: Change): Promise<void> {
    const seq = await tx.changes.append(CHANGES_CHANNEL, encodeChange(change));
    tx.afterCommit(() => this.deliver(seq, change));
  }

  /** Forgets changes no process can still need (hourly housekeeping). */
  async prune(): Promise<number> {
    return this.read.changes.prune(addMs(this.clock.now(), -RETENTION_MS));
  }

  /** Resolves once a replay under way (after a reconnect) has finished. */
  settled(): Promise<void> {
    return this.replaying;
  }

  private onNotice(payload: string): void {
    const colon = payload.indexOf(':');
    const seq = Number(payload.slice(0, colon));
    const change = decodeChange(payload.slice(colon + 1));
    if (colon < 1 || !Number.isSafeInteger(seq) || !change) return;
    void this.deliver(seq, change);
  }

  private async replay(): Promise<void> {
    this.stats.replays++;
    try {
      const missed = await this.read.changes.since(this.cursor, REPLAY_MARGIN_SECONDS);
      if (missed === undefined) return await this.reset();
      for (const { seq, change } of missed) {
        const decoded = decodeChange(change);
        if (decoded) await this.deliver(seq, decoded);
      }
    } catch (err) {
      this.onError(err, 'could not replay missed changes; resetting the caches');
      await this.reset();
    }
  }

  private async reset(): Promise<void> {
    this.stats.resets++;
    for (const subscriber of this.subscribers) {
      try {
        await subscriber.reset();
      } catch (err) {
        this.onError(err, 'a cache could not reset');
      }
    }
  }

  private deliver(seq: number, change: Change): Promise<void> {
    const known = this.delivered.get(seq);
    if (known) return known;
    const delivery = this.applyToAll(change);
    this.delivered.set(seq, delivery);
    if (this.delivered.size > REMEMBERED) this.delivered.delete(this.delivered.keys().next().value as number);
    if (seq > this.cursor) this.cursor = seq;
    return delivery;
  }

  private async applyToAll(change: Change): Promise<void> {
    for (const subscriber of this.subscribers) {
      try {
        await subscriber.apply(change);
      } catch (err) {
        this.onError(err, 'a cache could not apply a change');
      }
    }
  }
}
