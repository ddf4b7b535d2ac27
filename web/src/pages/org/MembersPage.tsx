import { Trash2, UserPlus, Users } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Member, type Page } from '../../api';
import { ConfirmDeleteDialog, FormDialog, InvitationDialog } from '../../components/ActionDialog';
import { DataTable, ListView } from '../../components/ListView';
import { Badge, Button, Callout, EmptyState, ErrorText, Field, IconButton, PageHeader, formatDate } from '../../components/ui';
import { useAction, useResource } from '../../hooks';
import { useMe, useSession, type OrgChoice } from '../../session';

export function MembersPage({ org }: { org: OrgChoice }) {
  const me = useMe();
  const { refresh } = useSession();
  // A change to one's own membership changes what this page may show: reload the session's view.
  const changedSelf = (userId: string) => {
    if (userId === me.id) void refresh();
  };
  const members = useResource(() => api.get<Page<Member>>(`/organizations/${enc(org.id)}/members`).then((p) => p.data), org.id);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Member>();
  const [rowError, setRowError] = useState<{ userId: string; message: string }>();

  const setRole = async (member: Member, role: Member['role']) => {
    setRowError(undefined);
    try {
      const updated = await api.patch<Member>(`/organizations/${enc(org.id)}/members/${enc(member.user_id)}`, { role });
      members.update((list) => list.map((m) => (m.user_id === updated.user_id ? updated : m)));
      changedSelf(member.user_id);
    } catch (err) {
      setRowError({ userId: member.user_id, message: err instanceof Error ? err.message : String(err) });
    }
  };

  return (
    <>
      <PageHeader
        title="Members"
        description="The people who manage this organization. Admins change clients and members; members only see them."
        actions={
          <Button tone="primary" onClick={() => setAdding(true)}>
            <UserPlus size={16} aria-hidden="true" /> Add member
          </Button>
        }
      />
      <ListView items={members.data} loading={members.loading} error={members.error} what="members" empty={<EmptyState icon={<Users size={28} />} title="No members" />}>
        {(items) => (
          <DataTable
            label="Members"
            columns={['Name', 'Email', 'Role', 'Status', 'Added']}
            actions
            items={items}
            rowKey={(m) => m.user_id}
            row={(m) => (
              <>
                <td>
                  <strong>{m.name || '—'}</strong> {m.user_id === me.id && <Badge>You</Badge>}
                </td>
                <td>{m.email}</td>
                <td>
                  <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => void setRole(m, e.target.value as Member['role'])}>
                    <option value="admin">Admin</option>
                    <option value="member">Member</option>
                  </select>
                  {rowError?.userId === m.user_id && <ErrorText message={rowError.message} />}
                </td>
                <td>
                  <div className="chips">
                    {m.status === 'invited' ? <Badge tone="blue">Invitation pending</Badge> : <Badge tone="green">Active</Badge>}
                    {!m.email_verified && (
                      <span title="Nothing shows that the owner of this address chose the account's password: it was set through a link an administrator received.">
                        <Badge tone="amber">Email not verified</Badge>
                      </span>
                    )}
                  </div>
                </td>
                <td className="muted nowrap">{formatDate(m.created_at)}</td>
                <td className="cell-actions">
                  <IconButton
                    label={m.status === 'invited' ? `Withdraw the invitation of ${m.email}` : `Remove ${m.email}`}
                    tone="danger"
                    icon={<Trash2 size={16} aria-hidden="true" />}
                    onClick={() => setRemoving(m)}
                  />
                </td>
              </>
            )}
          />
        )}
      </ListView>
      {adding && <AddMemberDialog orgId={org.id} onClose={() => setAdding(false)} onAdded={(m) => members.update((list) => [...list.filter((x) => x.user_id !== m.user_id), m])} />}
      {removing && (
        <ConfirmDeleteDialog
          title={removing.status === 'invited' ? `Withdraw the invitation of ${removing.email}?` : `Remove ${removing.email}?`}
          confirmLabel={removing.status === 'invited' ? 'Withdraw invitation' : 'Remove member'}
          onClose={() => setRemoving(undefined)}
          onConfirm={async () => {
            await api.delete(`/organizations/${enc(org.id)}/members/${enc(removing.user_id)}`);
            members.update((list) => list.filter((m) => m.user_id !== removing.user_id));
            setRemoving(undefined);
            changedSelf(removing.user_id);
          }}
        >
          {removing.status === 'invited' ? (
            <p>The invitation link stops working. You can invite them again later.</p>
          ) : (
            <p>They will no longer see or manage this organization. Their account stays.</p>
          )}
        </ConfirmDeleteDialog>
      )}
    </>
  );
}

/** What the adding admin must know when nothing shows that the owner of the address holds the account. */
function UnverifiedWarning({ email }: { email: string }) {
  return (
    <Callout tone="warning" title="Email not verified">
      The password of the account for {email} was, or will be, chosen through a link that an administrator received, not one mailed to the address. Make sure the person who accepts is the one you
      mean.
    </Callout>
  );
}

function AddMemberDialog({ orgId, onAdded, onClose }: { orgId: string; onAdded(m: Member): void; onClose(): void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Member['role']>('member');
  const [invited, setInvited] = useState<Member>();
  const action = useAction();
  const add = () =>
    action.run(async () => {
      if (!email.trim()) throw new Error('Enter the email address of the person to add.');
      const member = await api.post<Member>(`/organizations/${enc(orgId)}/members`, { email: email.trim(), role });
      onAdded(member);
      setInvited(member);
    });
  if (invited) {
    const warning = invited.email_verified ? undefined : <UnverifiedWarning email={invited.email} />;
    if (invited.invite_url) {
      return (
        <InvitationDialog url={invited.invite_url} onClose={onClose} warning={warning}>
          <strong>{invited.email}</strong> is invited. Send them this link: they become a member once they accept. It works once, for 7 days.
        </InvitationDialog>
      );
    }
    return (
      <InvitationDialog onClose={onClose} warning={warning}>
        <strong>{invited.email}</strong> gets an invitation by mail. They become a member once they accept it.
      </InvitationDialog>
    );
  }
  return (
    <FormDialog title="Add member" action={action} onSubmit={add} onClose={onClose} submitLabel="Add member">
      <Field label="Email" hint="They get an invitation, and become a member once they accept it.">
        {(id, hintId) => <input id={id} type="email" aria-describedby={hintId} data-autofocus required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />}
      </Field>
      <Field label="Role">
        {(id) => (
          <select id={id} value={role} onChange={(e) => setRole(e.target.value as Member['role'])}>
            <option value="member">Member: sees the clients</option>
            <option value="admin">Admin: manages clients and members</option>
          </select>
        )}
      </Field>
    </FormDialog>
  );
}
