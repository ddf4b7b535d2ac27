import { Trash2, UserPlus, Users } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Member, type Page } from '../../api';
import { Dialog } from '../../components/Dialog';
import { Badge, Button, Callout, CopyValue, EmptyState, ErrorText, Field, IconButton, Loading, PageHeader, formatDate } from '../../components/ui';
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
      {members.loading && !members.data && <Loading what="members" />}
      <ErrorText message={members.error} />
      {members.data?.length === 0 && <EmptyState icon={<Users size={28} />} title="No members" />}
      {members.data && members.data.length > 0 && (
        <div className="table-wrap card">
          <table aria-label="Members">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.user_id}>
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
                  <td className="muted nowrap">{formatDate(m.created_at)}</td>
                  <td className="cell-actions">
                    <IconButton label={`Remove ${m.email}`} tone="danger" icon={<Trash2 size={16} aria-hidden="true" />} onClick={() => setRemoving(m)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {adding && <AddMemberDialog orgId={org.id} onClose={() => setAdding(false)} onAdded={(m) => members.update((list) => [...list.filter((x) => x.user_id !== m.user_id), m])} />}
      {removing && (
        <RemoveMemberDialog
          orgId={org.id}
          member={removing}
          onClose={() => setRemoving(undefined)}
          onRemoved={() => {
            members.update((list) => list.filter((m) => m.user_id !== removing.user_id));
            setRemoving(undefined);
            changedSelf(removing.user_id);
          }}
        />
      )}
    </>
  );
}

function AddMemberDialog({ orgId, onAdded, onClose }: { orgId: string; onAdded(m: Member): void; onClose(): void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Member['role']>('member');
  const [invite, setInvite] = useState<Member>();
  const action = useAction();
  const add = () =>
    action.run(async () => {
      if (!email.trim()) throw new Error('Enter the email address of the person to add.');
      const member = await api.post<Member>(`/organizations/${enc(orgId)}/members`, { email: email.trim(), role });
      onAdded(member);
      if (member.invite_url) setInvite(member);
      else onClose();
    });
  if (invite?.invite_url) {
    return (
      <Dialog title="Invitation link" onClose={onClose} footer={<Button tone="primary" onClick={onClose} data-autofocus>Done</Button>}>
        <p>
          <strong>{invite.email}</strong> has no account yet. They are a member now; send them this link to choose a password. It works once.
        </p>
        <CopyValue value={invite.invite_url} what="invitation link" className="block" />
        <Callout tone="warning">Anyone with this link can set the password of this account; send it only to them.</Callout>
      </Dialog>
    );
  }
  return (
    <Dialog
      title="Add member"
      onClose={onClose}
      onSubmit={add}
      onEdit={() => action.setError(undefined)}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" busy={action.busy}>
            Add member
          </Button>
        </>
      }
    >
      <Field label="Email" hint="Someone without an account gets an invitation link.">
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
      <ErrorText message={action.error} />
    </Dialog>
  );
}

function RemoveMemberDialog({ orgId, member, onRemoved, onClose }: { orgId: string; member: Member; onRemoved(): void; onClose(): void }) {
  const action = useAction();
  const remove = () =>
    action.run(async () => {
      await api.delete(`/organizations/${enc(orgId)}/members/${enc(member.user_id)}`);
      onRemoved();
    });
  return (
    <Dialog
      title={`Remove ${member.email}?`}
      tone="danger"
      onClose={onClose}
      onSubmit={remove}
      footer={
        <>
          <Button onClick={onClose} data-autofocus>
            Cancel
          </Button>
          <Button tone="danger" type="submit" busy={action.busy}>
            Remove member
          </Button>
        </>
      }
    >
      <p>They will no longer see or manage this organization. Their account stays.</p>
      <ErrorText message={action.error} />
    </Dialog>
  );
}
