import { KeyRound, Pencil, Plus, Trash2 } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Api, type Page, type Role } from '../../api';
import { ConfirmDeleteDialog, FormDialog } from '../../components/ActionDialog';
import { DataTable, ListView } from '../../components/ListView';
import { Button, Callout, EmptyState, Field, IconButton, PageHeader } from '../../components/ui';
import { PermissionList } from '../../components/PermissionList';
import { useAction, useResource } from '../../hooks';

const key = (api: string, value: string) => `${api} ${value}`;

export function RolesPage() {
  const roles = useResource(() => api.get<Page<Role>>('/roles').then((p) => p.data), 'roles');
  const apis = useResource(() => api.get<Page<Api>>('/apis').then((p) => p.data), 'apis');
  const [editing, setEditing] = useState<Role | 'new'>();
  const [deleting, setDeleting] = useState<Role>();
  return (
    <>
      <PageHeader
        title="Roles"
        description="Named bundles of API permissions. Organizations give roles to their clients."
        actions={
          <Button tone="primary" onClick={() => setEditing('new')}>
            <Plus size={16} aria-hidden="true" /> Create role
          </Button>
        }
      />
      <ListView items={roles.data} loading={roles.loading} error={roles.error ?? apis.error} what="roles" empty={<EmptyState icon={<KeyRound size={28} />} title="No roles yet" />}>
        {(items) => (
          <DataTable
            label="Roles"
            columns={['Role', 'ID', 'Permissions']}
            actions
            items={items}
            rowKey={(r) => r.id}
            row={(r) => (
              <>
                <td>
                  <strong>{r.name}</strong>
                  {r.description && <div className="muted small">{r.description}</div>}
                </td>
                <td className="nowrap">
                  <code className="small">{r.id}</code>
                </td>
                <td>
                  <PermissionList permissions={r.permissions} apis={apis.data} />
                </td>
                <td className="cell-actions">
                  <IconButton label={`Edit ${r.name}`} icon={<Pencil size={16} aria-hidden="true" />} onClick={() => setEditing(r)} />
                  <IconButton label={`Delete ${r.name}`} tone="danger" icon={<Trash2 size={16} aria-hidden="true" />} onClick={() => setDeleting(r)} />
                </td>
              </>
            )}
          />
        )}
      </ListView>
      {editing && (
        <RoleDialog
          existing={editing === 'new' ? undefined : editing}
          apis={apis.data ?? []}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            roles.reload();
          }}
        />
      )}
      {deleting && (
        <ConfirmDeleteDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete role"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api.delete(`/roles/${enc(deleting.id)}`);
            setDeleting(undefined);
            roles.reload();
          }}
        >
          <Callout tone="danger">Every client holding this role loses its permissions at once.</Callout>
        </ConfirmDeleteDialog>
      )}
    </>
  );
}

function RoleDialog({ existing, apis, onSaved, onClose }: { existing: Role | undefined; apis: Api[]; onSaved(): void; onClose(): void }) {
  const [name, setName] = useState(existing?.name ?? '');
  const [id, setId] = useState('');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [chosen, setChosen] = useState<Set<string>>(new Set(existing?.permissions.map((p) => key(p.api, p.value))));
  const action = useAction();
  const toggle = (k: string) =>
    setChosen((c) => {
      const next = new Set(c);
      if (next.has(k)) next.delete(k);
      else next.add(k);
      return next;
    });
  const save = () =>
    action.run(async () => {
      if (!name.trim()) throw new Error('Give the role a name.');
      const permissions = apis.flatMap((a) => a.permissions.filter((p) => chosen.has(key(a.identifier, p.value))).map((p) => ({ api: a.identifier, value: p.value })));
      const body = { name: name.trim(), description: description.trim(), permissions };
      if (existing) await api.patch<Role>(`/roles/${enc(existing.id)}`, body);
      else await api.post<Role>('/roles', id.trim() ? { ...body, id: id.trim() } : body);
      onSaved();
    });
  return (
    <FormDialog title={existing ? `Edit ${existing.name}` : 'Create role'} action={action} onSubmit={save} onClose={onClose} size="large">
      {existing && <Callout tone="warning">Changing a role changes what every client holding it can access.</Callout>}
      <div className="field-grid">
        <Field label="Name">{(fid) => <input id={fid} data-autofocus value={name} maxLength={200} onChange={(e) => setName(e.target.value)} />}</Field>
        {existing ? (
          <Field label="ID">{(fid) => <input id={fid} value={existing.id} readOnly />}</Field>
        ) : (
          <Field label="ID (optional)" hint="Lowercase letters, digits and dashes; derived from the name when empty.">
            {(fid, hintId) => <input id={fid} aria-describedby={hintId} value={id} placeholder="meter-reader" onChange={(e) => setId(e.target.value)} />}
          </Field>
        )}
      </div>
      <Field label="Description">{(fid) => <input id={fid} value={description} maxLength={1000} onChange={(e) => setDescription(e.target.value)} />}</Field>
      <fieldset className="choice-list">
        <legend>Permissions</legend>
        {apis.length === 0 && <p className="muted">Create an API first: its permissions appear here.</p>}
        {apis.map((a) => (
          <div key={a.id} className="permission-group">
            <h3>
              {a.name} <span className="muted small">{a.identifier}</span>
            </h3>
            {a.permissions.length === 0 && <p className="muted small">This API has no permissions.</p>}
            <div className="checkbox-grid">
              {a.permissions.map((p) => (
                <label key={p.value} className="checkbox-row">
                  <input type="checkbox" checked={chosen.has(key(a.identifier, p.value))} onChange={() => toggle(key(a.identifier, p.value))} aria-label={`${a.name}: ${p.value}`} />
                  <span>
                    <code>{p.value}</code> {p.description && <span className="muted small">{p.description}</span>}
                  </span>
                </label>
              ))}
            </div>
          </div>
        ))}
      </fieldset>
    </FormDialog>
  );
}
