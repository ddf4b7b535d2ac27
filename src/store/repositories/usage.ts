import { sql } from 'kysely';
import type { Executor } from '../executor.js';

/** One count of the usage table: what happened `count` times in one hour. */
export interface UsageRow {
  orgId: string;
  clientId: string;
  /** The API's identifier; '' when the request named none we know. */
  api: string;
  hour: Date;
  /** `issued`, `redundant`, or an OAuth error code. */
  outcome: string;
  count: number;
}

/** Sums by hour and outcome (for one client, or for a whole organization). */
export interface UsageSum {
  hour: Date;
  outcome: string;
  count: number;
}

/** Sums by client and outcome over a range. */
export interface ClientUsageSum {
  clientId: string;
  name: string | null;
  outcome: string;
  count: number;
}

/** A node's count of one quota window. */
export interface QuotaCount {
  key: string;
  windowStart: Date;
  count: number;
}

/**
 * Usage counts and the quota counts nodes exchange. Usage is read by organization first; the
 * writes come from the token path's counters (usage/usage-counter.ts, usage/quota-sync.ts), which
 * learned the organization from the client.
 */
export class UsageRepository {
  constructor(private readonly db: Executor) {}

  /** Adds counts (primary key usage_counts_pk): every process adds its own, the database sums them. */
  async add(rows: readonly UsageRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insertInto('usage_counts')
      .values(rows.map((r) => ({ org_id: r.orgId, client_id: r.clientId, api: r.api, hour: r.hour, outcome: r.outcome, count: r.count })))
      .onConflict((oc) => oc.columns(['org_id', 'client_id', 'api', 'hour', 'outcome']).doUpdateSet({ count: sql`usage_counts.count + excluded.count` }))
      .execute();
  }

  /** Sums per hour and outcome in [from, to), of one client or of the whole organization (usage_counts_pk / usage_counts_org_hour_idx). */
  async byHour(orgId: string, clientId: string | undefined, from: Date, to: Date): Promise<UsageSum[]> {
    let query = this.db
      .selectFrom('usage_counts')
      .select(['hour', 'outcome', (eb) => eb.fn.sum<string>('count').as('n')])
      .where('org_id', '=', orgId)
      .where('hour', '>=', from)
      .where('hour', '<', to);
    if (clientId !== undefined) query = query.where('client_id', '=', clientId);
    const rows = await query.groupBy(['hour', 'outcome']).orderBy('hour').execute();
    return rows.map((r) => ({ hour: r.hour, outcome: r.outcome, count: Number(r.n) }));
  }

  /** Sums per client and outcome in [from, to), with the client's name while it exists. */
  async byClient(orgId: string, from: Date, to: Date): Promise<ClientUsageSum[]> {
    const rows = await this.db
      .selectFrom('usage_counts as u')
      .leftJoin('clients as c', (j) => j.onRef('c.client_id', '=', 'u.client_id').onRef('c.org_id', '=', 'u.org_id'))
      .select(['u.client_id', 'c.name', 'u.outcome', (eb) => eb.fn.sum<string>('u.count').as('n')])
      .where('u.org_id', '=', orgId)
      .where('u.hour', '>=', from)
      .where('u.hour', '<', to)
      .groupBy(['u.client_id', 'c.name', 'u.outcome'])
      .orderBy('u.client_id')
      .execute();
    return rows.map((r) => ({ clientId: r.client_id, name: r.name, outcome: r.outcome, count: Number(r.n) }));
  }

  /** Sums per UTC bucket (hour or day), client and outcome in [from, to): the CSV's rows. */
  async byBucketAndClient(orgId: string, granularity: 'hour' | 'day', from: Date, to: Date): Promise<(ClientUsageSum & { start: Date })[]> {
    const bucket = granularity === 'hour' ? sql<Date>`u.hour` : sql<Date>`(date_trunc('day', u.hour at time zone 'UTC') at time zone 'UTC')`;
    const rows = await this.db
      .selectFrom('usage_counts as u')
      .leftJoin('clients as c', (j) => j.onRef('c.client_id', '=', 'u.client_id').onRef('c.org_id', '=', 'u.org_id'))
      .select([bucket.as('start'), 'u.client_id', 'c.name', 'u.outcome', (eb) => eb.fn.sum<string>('u.count').as('n')])
      .where('u.org_id', '=', orgId)
      .where('u.hour', '>=', from)
      .where('u.hour', '<', to)
      .groupBy([bucket, 'u.client_id', 'c.name', 'u.outcome'])
      .orderBy(bucket)
      .orderBy('u.client_id')
      .execute();
    return rows.map((r) => ({ start: r.start, clientId: r.client_id, name: r.name, outcome: r.outcome, count: Number(r.n) }));
  }

  /** Forgets usage older than `before` (usage_counts_hour_idx; housekeeping). */
  async prune(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('usage_counts').where('hour', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Sets this node's counts (absolute, so a repeated write changes nothing). */
  async putQuotaCounts(nodeId: string, counts: readonly QuotaCount[], at: Date): Promise<void> {
    if (counts.length === 0) return;
    await this.db
      .insertInto('quota_counts')
      .values(counts.map((c) => ({ key: c.key, window_start: c.windowStart, node_id: nodeId, count: c.count, updated_at: at })))
      .onConflict((oc) => oc.columns(['key', 'window_start', 'node_id']).doUpdateSet({ count: sql`greatest(quota_counts.count, excluded.count)`, updated_at: at }))
      .execute();
  }

  /** The other nodes' counts, summed, of every window that started at or after `since`. */
  async otherNodesQuotaCounts(nodeId: string, since: Date): Promise<QuotaCount[]> {
    const rows = await this.db
      .selectFrom('quota_counts')
      .select(['key', 'window_start', (eb) => eb.fn.sum<string>('count').as('n')])
      .where('window_start', '>=', since)
      .where('node_id', '<>', nodeId)
      .groupBy(['key', 'window_start'])
      .execute();
    return rows.map((r) => ({ key: r.key, windowStart: r.window_start, count: Number(r.n) }));
  }

  /** Forgets quota windows that started before `before` (housekeeping). */
  async pruneQuotaCounts(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('quota_counts').where('window_start', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * Current secrets whose organization's secret_max_age_days ends them within `withinMs` of
   * `now`, and previous secrets whose grace period ends then: what the expiring-secrets gauge shows.
   */
  async secretsExpiringBy(now: Date, by: Date): Promise<number> {
    const row = await sql<{ n: string }>`select count(*) as n from client_secrets s
      join clients c on c.client_id = s.client_id
      left join organization_policies p on p.org_id = c.org_id
      where coalesce(s.expires_at, s.created_at + make_interval(days => p.secret_max_age_days)) > ${now}
        and coalesce(s.expires_at, s.created_at + make_interval(days => p.secret_max_age_days)) <= ${by}`.execute(this.db);
    return Number(row.rows[0]?.n ?? 0);
  }
}
