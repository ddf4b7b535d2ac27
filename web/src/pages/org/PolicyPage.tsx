import { Scale } from 'lucide-react';
import { useEffect, useState } from 'react';
import { api, enc, type Page, type Policy, type PolicyAnswer, type Role } from '../../api';
import { Badge, Button, Callout, ErrorText, Loading, PageHeader } from '../../components/ui';
import { useAction, useResource } from '../../hooks';
import type { OrgChoice } from '../../session';
import { QuotaFields, quotaDraft, quotaValue, type QuotaDraft } from './client-settings';

/** The form's text for a limit that may be left empty ("no limit"). */
interface Draft {
  allRoles: boolean;
  roles: string[];
  maxClients: string;
  quota: QuotaDraft;
  maxTtl: string;
  refreshTokens: boolean;
  secretDays: string;
}

function draftOf(p: Policy): Draft {
  return {
    allRoles: p.assignable_roles === null,
    roles: p.assignable_roles ?? [],
    maxClients: p.max_clients === null ? '' : String(p.max_clients),
    quota: quotaDraft(p.token_quota),
    maxTtl: p.max_access_token_ttl === null ? '' : String(p.max_access_token_ttl),
    refreshTokens: p.refresh_tokens_allowed,
    secretDays: p.secret_max_age_days === null ? '' : String(p.secret_max_age_days),
  };
}

function limit(text: string, what: string, min: number, max: number): number | null {
  if (text.trim() === '') return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`Enter ${what} as a whole number between ${min} and ${max}, or leave it empty for no limit.`);
  return n;
}

function policyOf(d: Draft): Policy {
  return {
    assignable_roles: d.allRoles ? null : d.roles,
    max_clients: limit(d.maxClients, 'the maximum number of clients', 0, 1_000_000),
    token_quota: quotaValue(d.quota),
    max_access_token_ttl: limit(d.maxTtl, 'the maximum token lifetime', 60, 86400),
    refresh_tokens_allowed: d.refreshTokens,
    secret_max_age_days: limit(d.secretDays, 'the maximum secret age', 1, 3650),
  };
}

function OutOfPolicy({ answer }: { answer: PolicyAnswer }) {
  if (answer.out_of_policy.length === 0) return null;
  return (
    <section className="card out-of-policy" aria-labelledby="out-of-policy-heading">
      <h2 id="out-of-policy-heading">Clients outside the policy</h2>
      <p className="muted">The policy never rewrites a client. These clients break a rule; what applies to them now is said for each.</p>
      <ul aria-label="Clients outside the policy">
        {answer.out_of_policy.map((c) => (
          <li key={c.client_id}>
            <strong>{c.name}</strong> <code className="muted small">{c.client_id}</code>
            <ul>
              {c.reasons.map((r) => (
                <li key={r.field}>
                  <Badge tone="amber">{r.field}</Badge> {r.message}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </section>
  );
}

function ReadOnlyPolicy({ policy, roles }: { policy: PolicyAnswer; roles: Role[] }) {
  const name = (id: string) => roles.find((r) => r.id === id)?.name ?? id;
  const none = 'No limit';
  return (
    <dl className="card policy-facts" aria-label="Policy">
      <div>
        <dt>Assignable roles</dt>
        <dd>{policy.assignable_roles === null ? 'All roles' : policy.assignable_roles.length === 0 ? 'None' : policy.assignable_roles.map(name).join(', ')}</dd>
      </div>
      <div>
        <dt>Max clients</dt>
        <dd>
          {policy.max_clients ?? none} <span className="muted">({policy.client_count} now)</span>
        </dd>
      </div>
      <div>
        <dt>Token quota</dt>
        <dd>{policy.token_quota ? `${policy.token_quota.limit} per ${policy.token_quota.per}` : none}</dd>
      </div>
      <div>
        <dt>Max access token lifetime</dt>
        <dd>{policy.max_access_token_ttl === null ? none : `${policy.max_access_token_ttl} seconds`}</dd>
      </div>
      <div>
        <dt>Refresh tokens</dt>
        <dd>{policy.refresh_tokens_allowed ? 'Allowed' : 'Not allowed'}</dd>
      </div>
      <div>
        <dt>Secret max age</dt>
        <dd>{policy.secret_max_age_days === null ? none : `${policy.secret_max_age_days} days`}</dd>
      </div>
    </dl>
  );
}

function PolicyForm({ orgId, policy, roles, onSaved }: { orgId: string; policy: PolicyAnswer; roles: Role[]; onSaved(p: PolicyAnswer): void }) {
  const [draft, setDraft] = useState(() => draftOf(policy));
  const [saved, setSaved] = useState(false);
  const action = useAction();
  useEffect(() => setSaved(false), [draft]);
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));
  const save = () =>
    action.run(async () => {
      const answer = await api.put<PolicyAnswer>(`/organizations/${enc(orgId)}/policy`, policyOf(draft));
      onSaved(answer);
      setSaved(true);
    });
  return (
    <form
      className="card policy-form"
      aria-label="Policy"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <fieldset className="choice-list">
        <legend>Assignable roles</legend>
        <label className="checkbox-row">
          <input type="checkbox" checked={draft.allRoles} onChange={(e) => set({ allRoles: e.target.checked })} />
          <span>Every role, including roles created later</span>
        </label>
        {!draft.allRoles && (
          <div className="policy-roles">
            {roles.length === 0 && <p className="muted">No roles exist yet.</p>}
            {roles.map((r) => (
              <label key={r.id} className={`choice${draft.roles.includes(r.id) ? ' is-selected' : ''}`}>
                <input
                  type="checkbox"
                  checked={draft.roles.includes(r.id)}
                  onChange={() => set({ roles: draft.roles.includes(r.id) ? draft.roles.filter((x) => x !== r.id) : [...draft.roles, r.id] })}
                />
                <span className="role-summary">
                  <span className="role-name">{r.name}</span>
                  {r.description && <span className="role-description">{r.description}</span>}
                </span>
              </label>
            ))}
          </div>
        )}
      </fieldset>
      <div className="policy-grid">
        <div className="field">
          <label htmlFor="policy-max-clients">Max clients</label>
          <input id="policy-max-clients" type="number" inputMode="numeric" min={0} placeholder="No limit" value={draft.maxClients} onChange={(e) => set({ maxClients: e.target.value })} />
          <p className="field-hint">Clients now: {policy.client_count}.</p>
        </div>
        <div className="field">
          <label htmlFor="policy-max-ttl">Max access token lifetime (seconds)</label>
          <input id="policy-max-ttl" type="number" inputMode="numeric" min={60} max={86400} placeholder="No limit" value={draft.maxTtl} onChange={(e) => set({ maxTtl: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="policy-secret-days">Secret max age (days)</label>
          <input id="policy-secret-days" type="number" inputMode="numeric" min={1} max={3650} placeholder="No limit" value={draft.secretDays} onChange={(e) => set({ secretDays: e.target.value })} />
          <p className="field-hint">An older secret stops working; the clients page warns two weeks ahead.</p>
        </div>
      </div>
      <QuotaFields of="organization" draft={draft.quota} onChange={(quota) => set({ quota })} error={undefined} />
      <label className="checkbox-row">
        <input type="checkbox" checked={draft.refreshTokens} onChange={(e) => set({ refreshTokens: e.target.checked })} />
        <span>Refresh tokens allowed</span>
      </label>
      <div className="policy-actions">
        <ErrorText message={action.error} />
        {saved && (
          <p className="success-text" role="status">
            Policy saved.
          </p>
        )}
        <Button tone="primary" type="submit" busy={action.busy}>
          Save policy
        </Button>
      </div>
    </form>
  );
}

/**
 * The organization's limits (docs/usage-and-quotas.md): a platform administrator edits them,
 * an organization admin reads them.
 */
export function PolicyPage({ org, platformAdmin }: { org: OrgChoice; platformAdmin: boolean }) {
  const policy = useResource(() => api.get<PolicyAnswer>(`/organizations/${enc(org.id)}/policy`), org.id);
  // Every role, not the organization's assignable ones: the policy is what chooses among them.
  const roles = useResource(() => api.get<Page<Role>>('/roles').then((p) => p.data), 'roles');
  return (
    <>
      <PageHeader
        title="Policy"
        description={
          platformAdmin
            ? 'The limits of this organization’s clients. Empty fields mean no limit.'
            : 'The limits a platform administrator set for this organization’s clients. Only platform administrators change them.'
        }
      />
      {policy.error ? (
        <ErrorText message={policy.error} />
      ) : !policy.data || !roles.data ? (
        <Loading what="the policy" />
      ) : (
        <>
          {platformAdmin ? (
            <PolicyForm orgId={org.id} policy={policy.data} roles={roles.data} onSaved={(p) => policy.update(() => p)} />
          ) : (
            <>
              <Callout tone="info">
                <Scale size={14} aria-hidden="true" /> View only: platform administrators change the policy.
              </Callout>
              <ReadOnlyPolicy policy={policy.data} roles={roles.data} />
            </>
          )}
          <OutOfPolicy answer={policy.data} />
        </>
      )}
    </>
  );
}
