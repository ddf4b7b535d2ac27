import type { Actor } from '../audit/actor.js';
import { diff } from '../audit/diff.js';
import type { Clock } from '../clock.js';
import { InvalidInputError, NotFoundError } from '../errors/domain-errors.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { Data, Repositories } from '../store/repositories/index.js';
import type { Policy, PolicyAnswer, PolicyInput } from '../wire/management.js';
import { completePolicy, NO_POLICY, reasonsOutOfPolicy } from './policy.js';

/**
 * Organization policies: set by platform administrators, read by organization admins. A
 * change is one transaction with its audit event and its change-feed entry (every node's
 * token path follows it at once), and its answer lists the clients the new policy does not fit.
 */
export class PolicyService {
  constructor(
    private readonly data: Data,
    private readonly feed: ChangeFeed,
    private readonly clock: Clock,
  ) {}

  async get(orgId: string): Promise<PolicyAnswer> {
    if (!(await this.data.read.organizations.find(orgId))) throw new NotFoundError('Organization');
    return this.answer(this.data.read, orgId, (await this.data.read.policies.find(orgId)) ?? NO_POLICY);
  }

  async put(orgId: string, input: PolicyInput, actor: Actor): Promise<PolicyAnswer> {
    const policy = completePolicy(input);
    return this.data.transaction(async (tx) => {
      if (!(await tx.policies.lockOrganization(orgId))) throw new NotFoundError('Organization');
      if (policy.assignable_roles) {
        const existing = await tx.catalog.existingRoleIds(policy.assignable_roles);
        const unknown = policy.assignable_roles.filter((id) => !existing.has(id));
        if (unknown.length > 0) {
          throw new InvalidInputError(
            `Unknown roles: ${unknown.join(', ')}.`,
            unknown.map((id) => ({ path: ['assignable_roles'], message: `no role "${id}"` })),
          );
        }
      }
      const before = (await tx.policies.find(orgId)) ?? NO_POLICY;
      await tx.policies.put(orgId, policy, this.clock.now());
      const fields = Object.keys(NO_POLICY) as (keyof Policy)[];
      await tx.audit.record(orgId, actor, { action: 'organization.policy_changed', target: { type: 'organization', id: orgId }, details: diff(before, policy, fields) });
      await this.feed.publish(tx, { kind: 'policy', orgId });
      return this.answer(tx, orgId, policy);
    });
  }

  private async answer(read: Repositories, orgId: string, policy: Policy): Promise<PolicyAnswer> {
    const now = this.clock.now();
    const clients = await read.clients.allOf(orgId);
    const outOfPolicy = clients
      .map((c) => ({
        client_id: c.client_id,
        name: c.name,
        reasons: reasonsOutOfPolicy(policy, { roles: c.roles.map((r) => r.id), refreshTokens: c.refresh_tokens, tokenQuota: c.token_quota, secretExpiresAt: c.secret_expires_at }, now),
      }))
      .filter((c) => c.reasons.length > 0);
    return { ...policy, client_count: clients.length, out_of_policy: outOfPolicy };
  }
}
