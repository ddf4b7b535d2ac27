import { addMs, fromEpochMs, type Clock } from '../clock.js';
import { newId } from '../ids.js';
import type { Data } from '../store/repositories/index.js';
import { LocalQuotaStore } from './quota-store.js';

const DAY_MS = 86400_000;

/**
 * Quota counts shared by several nodes without Redis: every `intervalMs` each node writes its
 * own count of every running window (an absolute value, so a repeated write is harmless) and
 * reads the sum of the others'. A node therefore sees another's tokens at most two intervals
 * late (one until they are written, one until it reads), and a quota is overshot by at most
 * what the other nodes issue in that time (docs/usage-and-quotas.md gives the bound).
 */
export class QuotaSync {
  readonly store: LocalQuotaStore;
  readonly nodeId = newId('node');
  private others = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    private readonly data: Data,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.store = new LocalQuotaStore((key, start) => this.others.get(`${start} ${key}`) ?? 0);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.sync(), this.intervalMs).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Writes this node's counts and reads the others'; one at a time. */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.exchange()).catch(this.onError);
    return this.syncing;
  }

  private async exchange(): Promise<void> {
    const now = this.clock.nowMs();
    // A window is a UTC hour or day (./quotas.ts); the key names which.
    const counts = this.store.current(now, (key, start) => start + (key.endsWith(':day') ? DAY_MS : 3600_000));
    await this.data.read.usage.putQuotaCounts(this.nodeId, counts, fromEpochMs(now));
    const rows = await this.data.read.usage.otherNodesQuotaCounts(this.nodeId, addMs(fromEpochMs(now), -DAY_MS));
    const next = new Map<string, number>();
    for (const r of rows) next.set(`${r.windowStart.getTime()} ${r.key}`, r.count);
    this.others = next;
  }
}
