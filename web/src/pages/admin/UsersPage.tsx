import { Trash2, UserPlus, UsersRound } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Page, type User } from '../../api';
import { Dialog } from '../../components/Dialog';
import { Badge, Button, Callout, CopyValue, EmptyState, ErrorText, Field, IconButton, Loading, PageHeader, formatDate } from '../../components/ui';
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
      {users.loading && !users.data && <Loading what="users" />}
      <ErrorText message={users.error} />
      {users.data?.length === 0 && <EmptyState icon={<UsersRound size={28} />} title="No users" />}
      {users.data && users.data.length > 0 && (
        <div className="table-wrap card">
          <table aria-label="Users">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <tr key={u.id}>
                  <td>
                    <strong>{u.name || '—'}</strong> {u.id === me.id && <Badge>You</Badge>}
                  </td>
                  <td>{u.email}</td>
                  <td>
                    <div className="chips">
                      {u.platform_admin && <Badge tone="amber">Platform admin</Badge>}
                      {u.has_password ? <Badge tone="green">Active</Badge> : <Badge>Invited</Badge>}
                    </div>
                  </td>
                  <td className="muted">{formatDate(u.created_at)}</td>
                  <td className="cell-actions">
                    {u.id !== me.id && <IconButton label={`Delete ${u.email}`} tone="danger" icon={<Trash2 size={16} aria-hidden="true" />} onClick={() => setDeleting(u)} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {adding && <CreateUserDialog onClose={() => setAdding(false)} onCreated={() => users.reload()} />}
      {deleting && (
        <DeleteUserDialog
          user={deleting}
          onClose={() => setDeleting(undefined)}
          onDeleted={() => {
            setDeleting(undefined);
            users.reload();
          }}
        />
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
      <Dialog title="Invitation link" onClose={onClose} footer={<Button tone="primary" onClick={onClose} data-autofocus>Done</Button>}>
        <p>
          Send this link to <strong>{created.email}</strong> to choose a password. It works once.
        </p>
        <CopyValue value={created.invite_url} what="invitation link" className="block" />
        <Callout tone="warning">Anyone with this link can set the password of this account; send it only to them.</Callout>
      </Dialog>
    );
  }
  return (
    <Dialog
      title="Create user"
      onClose={onClose}
      onSubmit={save}
      onEdit={() => action.setError(undefined)}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" busy={action.busy}>
            Create user
          </Button>
        </>
      }
    >
      <Field label="Email">{(id) => <input id={id} type="email" data-autofocus value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />}</Field>
      <Field label="Name">{(id) => <input id={id} value={name} maxLength={200} onChange={(e) => setName(e.target.value)} autoComplete="off" />}</Field>
      <label className="checkbox-row">
        <input type="checkbox" checked={platformAdmin} onChange={(e) => setPlatformAdmin(e.target.checked)} />
        <span>Platform administrator (manages APIs, roles, organizations and users)</span>
      </label>
      <p className="field-hint">The user gets an invitation link to choose their own password.</p>
      <ErrorText message={action.error} />
    </Dialog>
  );
}

function DeleteUserDialog({ user, onDeleted, onClose }: { user: User; onDeleted(): void; onClose(): void }) {
  const action = useAction();
  const remove = () =>
    action.run(async () => {
      await api.delete(`/users/${enc(user.id)}`);
      onDeleted();
    });
  return (
    <Dialog
      title={`Delete ${user.email}?`}
      tone="danger"
      onClose={onClose}
      onSubmit={remove}
      footer={
        <>
          <Button onClick={onClose} data-autofocus>
            Cancel
          </Button>
          <Button tone="danger" type="submit" busy={action.busy}>
            Delete user
          </Button>
        </>
      }
    >
      <Callout tone="danger">They can no longer sign in, and lose every organization membership.</Callout>
      <ErrorText message={action.error} />
    </Dialog>
  );
}
