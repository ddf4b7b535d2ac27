import { ScrollText } from 'lucide-react';
import { useState } from 'react';
import { api, enc, messageOf, type AuditEvent, type Member, type Page } from '../../api';
import { Button, EmptyState, ErrorText, Loading, PageHeader, formatDate } from '../../components/ui';
import { useResource } from '../../hooks';
import type { OrgChoice } from '../../session';

const ACTIONS: Record<string, string> = {
  'client.created': 'Created client',
  'client.updated': 'Changed client',
  'client.roles_changed': 'Changed client roles',
  'client.secret_rotated': 'Rotated client secret',
  'client.deleted': 'Deleted client',
  'member.added': 'Added member',
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

export function AuditLogPage({ org }: { org: OrgChoice }) {
  const events = useResource(() => api.get<Page<AuditEvent>>(`/organizations/${enc(org.id)}/audit-events?limit=50`), org.id);
  const members = useResource(() => api.get<Page<Member>>(`/organizations/${enc(org.id)}/members`).then((p) => p.data), org.id);
  const [moreError, setMoreError] = useState<string>();
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
  const loadMore = async () => {
    const cursor = events.data?.next_cursor;
    if (!cursor) return;
    try {
      const next = await api.get<Page<AuditEvent>>(`/organizations/${enc(org.id)}/audit-events?limit=50&cursor=${enc(cursor)}`);
      events.update((p) => ({ data: [...p.data, ...next.data], next_cursor: next.next_cursor }));
    } catch (err) {
      setMoreError(messageOf(err));
    }
  };
  return (
    <>
      <PageHeader title="Audit log" description="Every change to this organization's clients and members: who, what and when. Secrets never appear here." />
      {events.loading && !events.data && <Loading what="the audit log" />}
      <ErrorText message={events.error} />
      {events.data?.data.length === 0 && <EmptyState icon={<ScrollText size={28} />} title="Nothing has happened yet" />}
      {events.data && events.data.data.length > 0 && (
        <div className="table-wrap card">
          <table aria-label="Audit events">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Target</th>
                <th scope="col">IP address</th>
              </tr>
            </thead>
            <tbody>
              {events.data.data.map((e) => (
                <tr key={e.id}>
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
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {events.data?.next_cursor && (
        <div className="list-more">
          <Button onClick={() => void loadMore()}>Show older events</Button>
          <ErrorText message={moreError} />
        </div>
      )}
    </>
  );
}
