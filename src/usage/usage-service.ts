import { addMs, fromEpochMs, type Clock } from '../clock.js';
import { InvalidInputError } from '../errors/domain-errors.js';
import type { Repositories } from '../store/repositories/index.js';
import type { UsageSum } from '../store/repositories/usage.js';
import type { Granularity, OrganizationUsage, Usage, UsageQuery } from '../wire/management.js';

const BUCKET_MS = { hour: 3600_000, day: 86400_000 } as const;
/** Buckets of a range by default, and at most (a month of hours, a year and a day of days). */
const DEFAULT_BUCKETS = { hour: 24, day: 30 } as const;
const MAX_BUCKETS = { hour: 31 * 24, day: 366 } as const;

/** A range of whole UTC buckets, [from, to). */
interface Range {
  granularity: Granularity;
  from: number;
  to: number;
}

interface Bucket {
  start: Date;
  tokens: number;
  failed: number;
}

/**
 * Usage reports (docs/usage-and-quotas.md): per client or per organization, by hour or day, in
 * UTC buckets, oldest first, empty buckets included. The counts are what every process has
 * flushed (src/usage/usage-counter.ts), so the last minute may still be missing.
 */
export class UsageService {
  constructor(
    private readonly read: Repositories,
    private readonly clock: Clock,
  ) {}

  /** One client's usage. The caller has checked the organization; the client must be its. */
  async ofClient(orgId: string, clientId: string, query: UsageQuery): Promise<Usage> {
    const range = this.rangeOf(query);
    const sums = await this.read.usage.byHour(orgId, clientId, fromEpochMs(range.from), fromEpochMs(range.to));
    const failedByError: Record<string, number> = {};
    let redundant = 0;
    for (const s of sums) {
      if (s.outcome === 'redundant') redundant += s.count;
      else if (s.outcome !== 'issued') failedByError[s.outcome] = (failedByError[s.outcome] ?? 0) + s.count;
    }
    return {
      client_id: clientId,
      granularity: range.granularity,
      from: fromEpochMs(range.from),
      to: fromEpochMs(range.to),
      data: buckets(range, sums),
      redundant_tokens: redundant,
      failed_by_error: failedByError,
    };
  }

  /** The organization's usage, in total by bucket and per client over the range (chargeback). */
  async ofOrganization(orgId: string, query: UsageQuery): Promise<OrganizationUsage> {
    const range = this.rangeOf(query);
    const from = fromEpochMs(range.from);
    const to = fromEpochMs(range.to);
    const [sums, perClient] = [await this.read.usage.byHour(orgId, undefined, from, to), await this.read.usage.byClient(orgId, from, to)];
    const clients = new Map<string, OrganizationUsage['clients'][number]>();
    for (const row of perClient) {
      let entry = clients.get(row.clientId);
      if (!entry) {
        // A deleted client's usage stays billable; only its name is gone.
        entry = { client_id: row.clientId, name: row.name ?? '', tokens: 0, failed: 0, redundant_tokens: 0 };
        clients.set(row.clientId, entry);
      }
      if (row.outcome === 'issued') entry.tokens += row.count;
      else if (row.outcome === 'redundant') entry.redundant_tokens += row.count;
      else entry.failed += row.count;
    }
    return { granularity: range.granularity, from, to, data: buckets(range, sums), clients: [...clients.values()] };
  }

  /**
   * The organization's usage as CSV (RFC 4180) for chargeback: one line per bucket and client
   * that has any count, oldest bucket first (docs/usage-and-quotas.md says how to bill from it).
   */
  async csvOfOrganization(orgId: string, query: UsageQuery): Promise<string> {
    const range = this.rangeOf(query);
    const rows = await this.read.usage.byBucketAndClient(orgId, range.granularity, fromEpochMs(range.from), fromEpochMs(range.to));
    const lines = new Map<string, { start: Date; clientId: string; name: string; tokens: number; failed: number; redundant: number }>();
    for (const r of rows) {
      const key = `${r.start.getTime()} ${r.clientId}`;
      let line = lines.get(key);
      if (!line) {
        line = { start: r.start, clientId: r.clientId, name: r.name ?? '', tokens: 0, failed: 0, redundant: 0 };
        lines.set(key, line);
      }
      if (r.outcome === 'issued') line.tokens += r.count;
      else if (r.outcome === 'redundant') line.redundant += r.count;
      else line.failed += r.count;
    }
    const out = ['start,granularity,client_id,name,tokens,failed,redundant_tokens'];
    for (const l of lines.values()) out.push([l.start.toISOString(), range.granularity, l.clientId, l.name, l.tokens, l.failed, l.redundant].map(csvField).join(','));
    return `${out.join('\r\n')}\r\n`;
  }

  /** Forgets usage older than `days`, and the nodes' quota counts of windows that ended (housekeeping). */
  async prune(days: number): Promise<number> {
    const now = this.clock.now();
    // Windows are at most a day long: those that started two days ago have ended everywhere.
    await this.read.usage.pruneQuotaCounts(addMs(now, -2 * BUCKET_MS.day));
    return this.read.usage.prune(addMs(now, -days * BUCKET_MS.day));
  }

  private rangeOf(query: UsageQuery): Range {
    const granularity = query.granularity ?? 'hour';
    const size = BUCKET_MS[granularity];
    const floor = (ms: number) => ms - (((ms % size) + size) % size);
    const to = query.to !== undefined ? floor(Date.parse(query.to) + size - 1) : floor(this.clock.now().getTime()) + size;
    const from = query.from !== undefined ? floor(Date.parse(query.from)) : to - DEFAULT_BUCKETS[granularity] * size;
    if (!Number.isFinite(from) || !Number.isFinite(to)) throw new InvalidInputError('from and to must be ISO 8601 times.', [{ path: ['from'], message: 'not a time' }], 'querystring');
    if (from >= to) throw new InvalidInputError('from must be before to.', [{ path: ['from'], message: 'not before to' }], 'querystring');
    if ((to - from) / size > MAX_BUCKETS[granularity]) {
      throw new InvalidInputError(
        `A range of at most ${MAX_BUCKETS[granularity]} ${granularity}s; narrow from and to, or use a coarser granularity.`,
        [{ path: ['to'], message: 'range too long' }],
        'querystring',
      );
    }
    return { granularity, from, to };
  }
}

/** Every bucket of the range, oldest first, with the hours' sums added in. */
function buckets(range: Range, sums: readonly UsageSum[]): Bucket[] {
  const size = BUCKET_MS[range.granularity];
  const out: Bucket[] = [];
  for (let t = range.from; t < range.to; t += size) out.push({ start: fromEpochMs(t), tokens: 0, failed: 0 });
  for (const s of sums) {
    const bucket = out[Math.floor((s.hour.getTime() - range.from) / size)];
    if (!bucket) continue;
    if (s.outcome === 'issued') bucket.tokens += s.count;
    else if (s.outcome !== 'redundant') bucket.failed += s.count;
  }
  return out;
}

/** A CSV field (RFC 4180); a leading =, +, - or @ would be a formula to a spreadsheet (CSV injection): prefixed with '. */
function csvField(value: string | number): string {
  const text = String(value);
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n']/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
