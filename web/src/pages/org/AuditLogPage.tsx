import { ScrollText } from 'lucide-react';
import { api, enc, type AuditEvent, type Member, type Page } from '../../api';
import { DataTable, ListView, LoadMore } from '../../components/ListView';
import { EmptyState, PageHeader, formatDate } from '../../components/ui';
import { useResource } from '../../hooks';
import type { OrgChoice } from '../../session';

const ACTIONS: Record<string, string> = {
  'client.created': 'Created client',
  'client.updated': 'Changed client',
  'client.roles_changed': 'Changed client roles',
  'client.secret_rotated': 'Rotated client secret',
  'client.deleted': 'Deleted client',
  'member.added': 'Added member',
  'member.invited': 'Invited member',
  'member.joined': 'Accepted invitation',
  'member.removed': 'Removed member',
  'member.role_changed': 'Changed member role',
  'organization.created': 'Created organization',
  'organization.updated': 'Renamed organization',
  'organization.deleted': 'Deleted organization',
  'refresh_token.reuse_detected': 'Refresh token re-used: family revoked',
};

/** The details worth reading; `name` and `email` already name the target. */
function describeDetails(details: Record<string, unknown>): string {
  return Object.entries(details)
    .filter(([key, value]) => !((key === 'name' || key === 'email') && typeof value === 'string'))
    .map(([key, value]) => {
      if (value && typeof value === 'object' && 'from' in value && 'to' in value) {
        const v = value as { from: unknown; to: unknown };
        return `${key}: ${show(v.from)} → ${show(v.to)}`;
      }
      return `${key}: ${show(value)}`;
    })
    .join(' · ');
}

function show(value: unknown): string {
  if (Array.isArray(value)) return value.length ? value.map(show).join(', ') : 'none';
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return 'name' in value ? String((value as { name: unknown }).name) : JSON.stringify(value);
  return String(value);
}

function auditEvents(orgId: string, cursor?: string): Promise<Page<AuditEvent>> {
  return api.get<Page<AuditEvent>>(`/organizations/${enc(orgId)}/audit-events?limit=50${cursor ? `&cursor=${enc(cursor)}` : ''}`);
}

export function AuditLogPage({ org }: { org: OrgChoice }) {
  const events = useResource(() => auditEvents(org.id), org.id);
  const members = useResource(() => api.get<Page<Member>>(`/organizations/${enc(org.id)}/members`).then((p) => p.data), org.id);
  const who = (actor: AuditEvent['actor']) => {
    if (actor.type === 'user') {
      const m = members.data?.find((x) => x.user_id === actor.id);
      return m ? m.name || m.email : `User ${actor.id}`;
    }
    if (actor.type === 'client') return `Client ${actor.id}`;
    return 'Portcullis';
  };
  const targetKind = (e: AuditEvent) => ({ client: 'Client', user: 'Member', organization: 'Organization' })[e.target.type] ?? e.target.type;
  /** A name a person recognises; the id stays in the tooltip. */
  const targetName = (e: AuditEvent): string | undefined => {
    if (typeof e.details.name === 'string') return e.details.name;
    if (typeof e.details.email === 'string') return e.details.email;
    if (e.target.type === 'user') return members.data?.find((x) => x.user_id === e.target.id)?.email;
    return undefined;
  };
  return (
    <>
      <PageHeader title="Audit log" description="Every change to this organization's clients and members: who, what and when. Secrets never appear here." />
      <ListView items={events.data?.data} loading={events.loading} error={events.error} what="the audit log" empty={<EmptyState icon={<ScrollText size={28} />} title="Nothing has happened yet" />}>
        {(items) => (
          <DataTable
            label="Audit events"
            columns={['When', 'Who', 'What', 'Target', 'IP address']}
            items={items}
            rowKey={(e) => e.id}
            row={(e) => (
              <>
                <td className="nowrap">{formatDate(e.at)}</td>
                <td>{who(e.actor)}</td>
                <td>
                  <strong>{ACTIONS[e.action] ?? e.action}</strong>
                  {describeDetails(e.details) && <div className="muted small details">{describeDetails(e.details)}</div>}
                </td>
                <td>
                  <div className="muted small">{targetKind(e)}</div>
                  <div title={e.target.id} className="target-name">
                    {targetName(e) ?? <code className="small">{e.target.id}</code>}
                  </div>
                </td>
                <td className="muted">{e.ip ?? '—'}</td>
              </>
            )}
          />
        )}
      </ListView>
      <LoadMore label="Show older events" pages={events} fetchPage={(cursor) => auditEvents(org.id, cursor)} />
    </>
  );
}
