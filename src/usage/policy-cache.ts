import type { Change, ChangeSubscriber } from '../store/change-feed.js';
import type { Repositories } from '../store/repositories/index.js';
import type { Policy } from '../wire/management.js';
import { NO_POLICY } from './policy.js';

/**
 * Every organization's policy, in memory: the token path reads it with one Map lookup. Small
 * (one entry per organization that has a policy), loaded whole at start, and kept current by
 * the change feed, so a policy change reaches every node's token path at once.
 */
export class PolicyCache implements ChangeSubscriber {
  private policies = new Map<string, Policy>();

  constructor(private readonly read: Repositories) {}

  async load(): Promise<void> {
    const next = new Map<string, Policy>();
    for (const { orgId, policy } of await this.read.policies.all()) next.set(orgId, policy);
    this.policies = next;
  }

  /** The organization's policy; NO_POLICY when it has none. */
  of(orgId: string): Policy {
    return this.policies.get(orgId) ?? NO_POLICY;
  }

  async apply(change: Change): Promise<void> {
    if (change.kind !== 'policy') return;
    const policy = await this.read.policies.find(change.orgId);
    if (policy) this.policies.set(change.orgId, policy);
    else this.policies.delete(change.orgId);
  }

  async reset(): Promise<void> {
    await this.load();
  }
}
