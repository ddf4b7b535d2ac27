import type { Selectable } from 'kysely';
import type { Policy } from '../../wire/management.js';
import type { OrganizationPolicyTable } from '../schema.js';
import type { Executor } from '../executor.js';

/** A stored policy and its organization. */
export interface StoredPolicy {
  orgId: string;
  policy: Policy;
}

/** Organization policies: one row per organization that has one; none means no limits. */
export class PolicyRepository {
  constructor(private readonly db: Executor) {}

  async find(orgId: string): Promise<Policy | undefined> {
    const row = await this.db.selectFrom('organization_policies').selectAll().where('org_id', '=', orgId).executeTakeFirst();
    return row ? toPolicy(row) : undefined;
  }

  /** Every stored policy (one per organization that has one): what each process keeps in memory. */
  async all(): Promise<StoredPolicy[]> {
    const rows = await this.db.selectFrom('organization_policies').selectAll().execute();
    return rows.map((row) => ({ orgId: row.org_id, policy: toPolicy(row) }));
  }

  async put(orgId: string, policy: Policy, at: Date): Promise<void> {
    const values = {
      assignable_roles: policy.assignable_roles,
      max_clients: policy.max_clients,
      token_quota_limit: policy.token_quota?.limit ?? null,
      token_quota_per: policy.token_quota?.per ?? null,
      max_access_token_ttl: policy.max_access_token_ttl,
      refresh_tokens_allowed: policy.refresh_tokens_allowed,
      secret_max_age_days: policy.secret_max_age_days,
      updated_at: at,
    };
    await this.db
      .insertInto('organization_policies')
      .values({ org_id: orgId, ...values })
      .onConflict((oc) => oc.column('org_id').doUpdateSet(values))
      .execute();
  }

  /** Locks the organization's row until the transaction ends: client creations and a policy change take turns (max_clients). */
  async lockOrganization(orgId: string): Promise<boolean> {
    return (await this.db.selectFrom('organizations').select('id').where('id', '=', orgId).forUpdate().executeTakeFirst()) !== undefined;
  }
}

function toPolicy(row: Omit<Selectable<OrganizationPolicyTable>, 'org_id' | 'updated_at'>): Policy {
  return {
    assignable_roles: row.assignable_roles,
    max_clients: row.max_clients,
    token_quota: row.token_quota_limit !== null && row.token_quota_per !== null ? { limit: row.token_quota_limit, per: row.token_quota_per } : null,
    max_access_token_ttl: row.max_access_token_ttl,
    refresh_tokens_allowed: row.refresh_tokens_allowed,
    secret_max_age_days: row.secret_max_age_days,
  };
}
