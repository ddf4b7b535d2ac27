import { Trash2, UserPlus, UsersRound } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Page, type User } from '../../api';
import { ConfirmDeleteDialog, FormDialog, InvitationDialog } from '../../components/ActionDialog';
import { DataTable, ListView } from '../../components/ListView';
import { Badge, Button, Callout, EmptyState, Field, IconButton, PageHeader, formatDate } from '../../components/ui';
import { useAction, useResource } from '../../hooks';
import { useMe } from '../../session';

export function UsersPage() {
  const me = useMe();
  const users = useResource(() => api.get<Page<User>>('/users?limit=200').then((p) => p.data), 'users');
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<User>();
  return (
    <>
      <PageHeader
        title="Users"
        description="Everyone who can sign in. Add people to organizations under each organization's Members page."
        actions={
          <Button tone="primary" onClick={() => setAdding(true)}>
            <UserPlus size={16} aria-hidden="true" /> Create user
          </Button>
        }
      />
      <ListView items={users.data} loading={users.loading} error={users.error} what="users" empty={<EmptyState icon={<UsersRound size={28} />} title="No users" />}>
        {(items) => (
          <DataTable
            label="Users"
            columns={['Name', 'Email', 'Status', 'Created']}
            actions
            items={items}
            rowKey={(u) => u.id}
            row={(u) => (
              <>
                <td>
                  <strong>{u.name || '—'}</strong> {u.id === me.id && <Badge>You</Badge>}
                </td>
                <td>{u.email}</td>
                <td>
                  <div className="chips">
                    {u.platform_admin && <Badge tone="amber">Platform admin</Badge>}
                    {u.has_password ? <Badge tone="green">Active</Badge> : <Badge>Invited</Badge>}
                    {u.has_password && !u.email_verified && <Badge tone="amber">Email not verified</Badge>}
                  </div>
                </td>
                <td className="muted">{formatDate(u.created_at)}</td>
                <td className="cell-actions">
                  {u.id !== me.id && <IconButton label={`Delete ${u.email}`} tone="danger" icon={<Trash2 size={16} aria-hidden="true" />} onClick={() => setDeleting(u)} />}
                </td>
              </>
            )}
          />
        )}
      </ListView>
      {adding && <CreateUserDialog onClose={() => setAdding(false)} onCreated={() => users.reload()} />}
      {deleting && (
        <ConfirmDeleteDialog
          title={`Delete ${deleting.email}?`}
          confirmLabel="Delete user"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api.delete(`/users/${enc(deleting.id)}`);
            setDeleting(undefined);
            users.reload();
          }}
        >
          <Callout tone="danger">They can no longer sign in, and lose every organization membership.</Callout>
        </ConfirmDeleteDialog>
      )}
    </>
  );
}

function CreateUserDialog({ onCreated, onClose }: { onCreated(): void; onClose(): void }) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [platformAdmin, setPlatformAdmin] = useState(false);
  const [created, setCreated] = useState<User>();
  const action = useAction();
  const save = () =>
    action.run(async () => {
      if (!email.trim()) throw new Error('Enter the email address of the new user.');
      const user = await api.post<User>('/users', { email: email.trim(), name: name.trim(), platform_admin: platformAdmin });
      onCreated();
      setCreated(user);
    });
  if (created?.invite_url) {
    return (
      <InvitationDialog url={created.invite_url} onClose={onClose}>
        Send this link to <strong>{created.email}</strong> to choose a password. It works once.
      </InvitationDialog>
    );
  }
  if (created?.invite_sent) {
    return (
      <InvitationDialog onClose={onClose}>
        <strong>{created.email}</strong> gets a mail with a link to choose a password. It works once, for 7 days.
      </InvitationDialog>
    );
  }
  return (
    <FormDialog title="Create user" action={action} onSubmit={save} onClose={onClose} submitLabel="Create user">
      <Field label="Email">{(id) => <input id={id} type="email" data-autofocus value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />}</Field>
      <Field label="Name">{(id) => <input id={id} value={name} maxLength={200} onChange={(e) => setName(e.target.value)} autoComplete="off" />}</Field>
      <label className="checkbox-row">
        <input type="checkbox" checked={platformAdmin} onChange={(e) => setPlatformAdmin(e.target.checked)} />
        <span>Platform administrator (manages APIs, roles, organizations and users)</span>
      </label>
      <p className="field-hint">The user gets a link to choose their own password: by mail when the server can send mail, otherwise you pass it on.</p>
    </FormDialog>
  );
}
