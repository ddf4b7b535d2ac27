import { ChartColumn, Clock } from 'lucide-react';
import { api, enc, type Client, type Usage } from '../../api';
import { UsageChart } from '../../components/UsageChart';
import { Badge, Callout, formatDate, relativeTime } from '../../components/ui';
import { useResource } from '../../hooks';
import { Link } from '../../router';

/** How far ahead the clients page warns of a secret that the policy's `secret_max_age_days` will stop. */
const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

export function secretExpiresSoon(client: Client, now = Date.now()): boolean {
  return client.secret_expires_at !== null && Date.parse(client.secret_expires_at) - now < EXPIRY_WARNING_DAYS * DAY_MS;
}

function expiryWords(at: string, now = Date.now()): string {
  const ms = Date.parse(at) - now;
  if (ms <= 0) return 'expired';
  // Rounded up: a secret made minute ago under a ten-day policy "expires in 10 days", not 9.
  const days = Math.ceil(ms / DAY_MS);
  return days === 1 ? 'expires within a day' : `expires in ${days} days`;
}

/** Above the list: the secrets that stop working within two weeks, so nobody learns of it from an outage. */
export function ExpiringSecretsNotice({ clients }: { clients: Client[] }) {
  const soon = clients.filter((c) => secretExpiresSoon(c));
  if (soon.length === 0) return null;
  return (
    <div className="expiring-notice">
      <Callout tone="warning" title={soon.length === 1 ? 'A client secret expires soon' : `${soon.length} client secrets expire soon`}>
        The organization’s policy limits the age of secrets. Rotate these before they stop working:{' '}
        {soon.map((c, i) => (
          <span key={c.client_id}>
            {i > 0 && ', '}
            <strong>{c.name}</strong> ({c.secret_expires_at && expiryWords(c.secret_expires_at)})
          </span>
        ))}
        .
      </Callout>
    </div>
  );
}

/** "Just now" mid-sentence, without lowering a month's name in a date. */
function lowerFirst(text: string): string {
  return /^(Just|Never)/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text;
}

/** The secret's expiry badge, and the previous secret while a rotation's grace period lasts. */
export function SecretFacts({ client }: { client: Client }) {
  const prev = client.previous_secret;
  return (
    <>
      {client.secret_expires_at && (
        <div>
          <dt>Secret expires</dt>
          <dd>
            {formatDate(client.secret_expires_at)}{' '}
            {secretExpiresSoon(client) && (
              <Badge tone={Date.parse(client.secret_expires_at) <= Date.now() ? 'red' : 'amber'}>
                <Clock size={12} aria-hidden="true" /> {expiryWords(client.secret_expires_at)}
              </Badge>
            )}
          </dd>
        </div>
      )}
      {prev && Date.parse(prev.expires_at) > Date.now() && (
        <div className="previous-secret">
          <dt>Previous secret</dt>
          <dd>
            <code className="secret-hint">…{prev.secret_hint}</code> valid until {formatDate(prev.expires_at)}
            <span className="muted small">
              {' '}
              · last used {lowerFirst(relativeTime(prev.last_used_at))}
              {prev.retire_when_unused_seconds !== null && ` · retires once unused for ${Math.round(prev.retire_when_unused_seconds / 60)} min`}
            </span>
          </dd>
        </div>
      )}
      {client.token_quota && (
        <div>
          <dt>Token quota</dt>
          <dd>
            {client.token_quota.limit} per {client.token_quota.per}
          </dd>
        </div>
      )}
      {Object.keys(client.token_claims).length > 0 && (
        <div>
          <dt>Token claims</dt>
          <dd className="claim-list">
            {Object.entries(client.token_claims).map(([k, v]) => (
              <code key={k}>
                {k}={JSON.stringify(v)}
              </code>
            ))}
          </dd>
        </div>
      )}
    </>
  );
}

/** The card's small chart of the last 24 hours, linking to the client's usage page. */
export function ClientSparkline({ orgId, client }: { orgId: string; client: Client }) {
  const path = `/organizations/${enc(orgId)}/clients/${enc(client.client_id)}/usage?granularity=hour`;
  const usage = useResource(() => api.get<Usage>(path), path);
  const total = usage.data?.data.reduce((n, b) => n + b.tokens, 0);
  return (
    <div className="client-usage">
      <div className="client-usage-head">
        <span className="label">Tokens, last 24 h</span>
        <span className="client-usage-total">{total ?? '…'}</span>
        <Link to={`/organizations/${encodeURIComponent(orgId)}/clients/${encodeURIComponent(client.client_id)}/usage`} className="client-usage-link" aria-label={`Usage of ${client.name}`}>
          <ChartColumn size={14} aria-hidden="true" /> Usage
        </Link>
      </div>
      {usage.data && <UsageChart compact data={usage.data.data} granularity="hour" label={`Tokens of ${client.name} per hour`} />}
    </div>
  );
}
