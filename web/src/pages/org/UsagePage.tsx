import { ChartColumn, Download } from 'lucide-react';
import { useState } from 'react';
import { ApiFailure, api, enc, type Client, type OrganizationUsage, type Usage } from '../../api';
import { DataTable } from '../../components/ListView';
import { UsageChart } from '../../components/UsageChart';
import { Badge, Button, Callout, EmptyState, ErrorText, Loading, PageHeader } from '../../components/ui';
import { useAction, useResource } from '../../hooks';
import { Link } from '../../router';
import type { OrgChoice } from '../../session';

type Granularity = 'hour' | 'day';

/** Above this share of redundant tokens the page says, in a sentence, what the client should change. */
const REDUNDANT_WARNING = 0.5;

function share(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

function percent(value: number): string {
  return `${Math.round(value * 100)}%`;
}

function GranularitySwitch({ value, onChange }: { value: Granularity; onChange(g: Granularity): void }) {
  return (
    <fieldset className="segmented" aria-label="Show per">
      {(['hour', 'day'] as const).map((g) => (
        <label key={g} className={`segment${value === g ? ' is-active' : ''}`}>
          <input type="radio" name="granularity" value={g} checked={value === g} onChange={() => onChange(g)} />
          {g === 'hour' ? 'Last 24 hours' : 'Last 30 days'}
        </label>
      ))}
    </fieldset>
  );
}

function Totals({ tokens, failed, redundant }: { tokens: number; failed: number; redundant: number }) {
  return (
    <dl className="usage-totals">
      <div>
        <dt>Tokens issued</dt>
        <dd data-testid="total-tokens">{tokens}</dd>
      </div>
      <div>
        <dt>Failed requests</dt>
        <dd data-testid="total-failed">{failed}</dd>
      </div>
      <div>
        <dt>Redundant tokens</dt>
        <dd data-testid="redundant-share">{percent(share(redundant, tokens))}</dd>
      </div>
    </dl>
  );
}

/** The plain advice for a client that asks for a new token on most calls (docs/usage-and-quotas.md). */
export function RedundantAdvice({ redundant, tokens }: { redundant: number; tokens: number }) {
  if (share(redundant, tokens) <= REDUNDANT_WARNING) return null;
  return (
    <Callout tone="warning" title={`${percent(share(redundant, tokens))} of the tokens were redundant`}>
      This client requests a new token for most calls; cache tokens until they expire — see the client SDK docs (<code>docs/integrate-client.md</code> in the Portcullis repository).
    </Callout>
  );
}

function sum(data: Usage['data']) {
  return { tokens: data.reduce((n, b) => n + b.tokens, 0), failed: data.reduce((n, b) => n + b.failed, 0) };
}

export function ClientUsagePage({ org, clientId }: { org: OrgChoice; clientId: string }) {
  const [granularity, setGranularity] = useState<Granularity>('hour');
  const base = `/organizations/${enc(org.id)}/clients/${enc(clientId)}`;
  const client = useResource(() => api.get<Client>(base), base);
  const usage = useResource(() => api.get<Usage>(`${base}/usage?granularity=${granularity}`), `${base}/${granularity}`);
  const totals = usage.data ? sum(usage.data.data) : undefined;
  return (
    <>
      <PageHeader
        title={client.data ? `Usage of ${client.data.name}` : 'Client usage'}
        description={
          <>
            Tokens issued and failed token requests, in UTC. Counts appear within a minute. <Link to={`/organizations/${encodeURIComponent(org.id)}/api`}>Back to clients</Link>
          </>
        }
      />
      <ErrorText message={client.error} />
      <GranularitySwitch value={granularity} onChange={setGranularity} />
      {usage.error ? (
        <ErrorText message={usage.error} />
      ) : !usage.data || !totals ? (
        <Loading what="usage" />
      ) : (
        <section className="card usage-card" aria-label="Usage">
          <Totals tokens={totals.tokens} failed={totals.failed} redundant={usage.data.redundant_tokens} />
          <RedundantAdvice redundant={usage.data.redundant_tokens} tokens={totals.tokens} />
          <UsageChart data={usage.data.data} granularity={usage.data.granularity} label={`Tokens and failed requests per ${usage.data.granularity}`} />
          {Object.keys(usage.data.failed_by_error).length > 0 && (
            <div className="usage-failures">
              <span className="label">Failures by error</span>
              {Object.entries(usage.data.failed_by_error).map(([code, n]) => (
                <Badge key={code} tone="red">
                  {code}: {n}
                </Badge>
              ))}
            </div>
          )}
        </section>
      )}
    </>
  );
}

/** Fetches the CSV with the session cookie and hands it to the browser as a file. */
async function downloadCsv(path: string, filename: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { headers: { accept: 'text/csv' }, credentials: 'same-origin' });
  } catch {
    throw new ApiFailure('Portcullis could not be reached. Check your connection and try again.', 0, 'network');
  }
  if (!res.ok) throw new ApiFailure(`The download failed (HTTP ${res.status}).`, res.status, 'error');
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The click has started the download; the object URL is not needed after this turn.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

export function OrganizationUsagePage({ org }: { org: OrgChoice }) {
  const [granularity, setGranularity] = useState<Granularity>('day');
  const path = `/organizations/${enc(org.id)}/usage?granularity=${granularity}`;
  const usage = useResource(() => api.get<OrganizationUsage>(path), path);
  const download = useAction();
  const totals = usage.data ? sum(usage.data.data) : undefined;
  const redundant = usage.data?.clients.reduce((n, c) => n + c.redundant_tokens, 0) ?? 0;
  return (
    <>
      <PageHeader
        title="Usage"
        description="Tokens issued to your organization's clients and failed token requests, in UTC. Counts appear within a minute."
        actions={
          <Button busy={download.busy} onClick={() => void download.run(() => downloadCsv(path, `usage-${org.id}-${granularity}.csv`))}>
            <Download size={16} aria-hidden="true" /> Download CSV
          </Button>
        }
      />
      <ErrorText message={download.error} />
      <GranularitySwitch value={granularity} onChange={setGranularity} />
      {usage.error ? (
        <ErrorText message={usage.error} />
      ) : !usage.data || !totals ? (
        <Loading what="usage" />
      ) : (
        <>
          <section className="card usage-card" aria-label="Usage">
            <Totals tokens={totals.tokens} failed={totals.failed} redundant={redundant} />
            <UsageChart data={usage.data.data} granularity={usage.data.granularity} label={`Tokens and failed requests per ${usage.data.granularity}`} />
          </section>
          <h2 className="usage-heading">By client</h2>
          {usage.data.clients.length === 0 ? (
            <EmptyState icon={<ChartColumn size={28} />} title="No tokens in this range">
              Once a client gets tokens, its counts show here.
            </EmptyState>
          ) : (
            <DataTable
              label="Usage by client"
              columns={['Client', 'Tokens', 'Failed', 'Redundant']}
              items={usage.data.clients}
              rowKey={(c) => c.client_id}
              row={(c) => (
                <>
                  <td>
                    {c.name ? (
                      <Link to={`/organizations/${encodeURIComponent(org.id)}/clients/${encodeURIComponent(c.client_id)}/usage`}>{c.name}</Link>
                    ) : (
                      <span className="muted">Deleted client</span>
                    )}
                  </td>
                  <td>{c.tokens}</td>
                  <td>{c.failed}</td>
                  <td>
                    {percent(share(c.redundant_tokens, c.tokens))}
                    {share(c.redundant_tokens, c.tokens) > REDUNDANT_WARNING && (
                      <>
                        {' '}
                        <Badge tone="amber">caches no tokens</Badge>
                      </>
                    )}
                  </td>
                </>
              )}
            />
          )}
        </>
      )}
    </>
  );
}
