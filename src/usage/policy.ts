import type { Policy, PolicyInput, PolicyReason, TokenQuota } from '../wire/management.js';

/** The policy of an organization that has none: no limits. */
export const NO_POLICY: Policy = Object.freeze({
  assignable_roles: null,
  max_clients: null,
  token_quota: null,
  max_access_token_ttl: null,
  refresh_tokens_allowed: true,
  secret_max_age_days: null,
});

/** A PUT body as a whole policy: what it leaves out takes the default (docs/http-api.md §3 Policy). */
export function completePolicy(input: PolicyInput): Policy {
  return {
    assignable_roles: input.assignable_roles === null || input.assignable_roles === undefined ? null : [...new Set(input.assignable_roles)].sort(),
    max_clients: input.max_clients ?? null,
    token_quota: input.token_quota ?? null,
    max_access_token_ttl: input.max_access_token_ttl ?? null,
    refresh_tokens_allowed: input.refresh_tokens_allowed ?? true,
    secret_max_age_days: input.secret_max_age_days ?? null,
  };
}

const SECONDS_PER = { hour: 3600, day: 86400 } as const;

/**
 * Whether a client's quota fits within the organization's: the same unit compares limits;
 * different units compare the rates per day (a client's 1000/hour is 24,000/day).
 */
export function quotaFits(client: TokenQuota, org: TokenQuota | null): boolean {
  if (org === null) return true;
  if (client.per === org.per) return client.limit <= org.limit;
  return (client.limit * 86400) / SECONDS_PER[client.per] <= (org.limit * 86400) / SECONDS_PER[org.per];
}

/** What a client is, for the policy's checks. */
export interface ClientFacts {
  roles: readonly string[];
  refreshTokens: boolean;
  tokenQuota: TokenQuota | null;
  secretExpiresAt: Date | null;
}

/**
 * The rules of `policy` a client breaks, and what applies to it meanwhile: a policy change
 * never silently rewrites a client. Its roles keep working, its refresh tokens and a quota
 * above the organization's are what the token path no longer honours.
 */
export function reasonsOutOfPolicy(policy: Policy, client: ClientFacts, now: Date): PolicyReason[] {
  const reasons: PolicyReason[] = [];
  const assignable = policy.assignable_roles;
  if (assignable !== null) {
    for (const role of client.roles) {
      if (!assignable.includes(role)) reasons.push({ field: 'roles', message: `role "${role}" is not assignable; it keeps its permissions until the client's roles are changed` });
    }
  }
  if (!policy.refresh_tokens_allowed && client.refreshTokens) {
    reasons.push({ field: 'refresh_tokens', message: 'refresh tokens are not allowed: the client gets none, and its refresh tokens are refused' });
  }
  if (client.tokenQuota && !quotaFits(client.tokenQuota, policy.token_quota)) {
    reasons.push({ field: 'token_quota', message: "the client's quota exceeds the organization's; the organization's quota applies" });
  }
  if (client.secretExpiresAt !== null && client.secretExpiresAt.getTime() <= now.getTime()) {
    reasons.push({ field: 'secret', message: 'the secret is older than secret_max_age_days and no longer works; rotate it' });
  }
  return reasons;
}
