import { ArrowRight, Building2, Pencil, Plus, Trash2 } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Organization, type Page } from '../../api';
import { Dialog } from '../../components/Dialog';
import { Button, Callout, CopyValue, EmptyState, ErrorText, Field, IconButton, Loading, PageHeader, formatDate } from '../../components/ui';
import { useAction, useResource } from '../../hooks';
import { navigate } from '../../router';
import { rememberOrg, useSession } from '../../session';

export function OrganizationsPage() {
  const { refresh } = useSession();
  const orgs = useResource(() => api.get<Page<Organization>>('/organizations?limit=200').then((p) => p.data), 'orgs');
  const [editing, setEditing] = useState<Organization | 'new'>();
  const [deleting, setDeleting] = useState<Organization>();
  const changed = () => {
    orgs.reload();
    void refresh();
  };
  return (
    <>
      <PageHeader
        title="Organizations"
        description="Your customers. Each organization has its own members and clients."
        actions={
          <Button tone="primary" onClick={() => setEditing('new')}>
            <Plus size={16} aria-hidden="true" /> Create organization
          </Button>
        }
      />
      {orgs.loading && !orgs.data && <Loading what="organizations" />}
      <ErrorText message={orgs.error} />
      {orgs.data?.length === 0 && (
        <EmptyState icon={<Building2 size={28} />} title="No organizations yet">
          Create one for each customer; then add its first admin under Members.
        </EmptyState>
      )}
      {orgs.data && orgs.data.length > 0 && (
        <div className="table-wrap card">
          <table aria-label="Organizations">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">ID</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {orgs.data.map((o) => (
                <tr key={o.id}>
                  <td>
                    <strong>{o.name}</strong>
                  </td>
                  <td>
                    <CopyValue value={o.id} what={`ID of ${o.name}`} />
                  </td>
                  <td className="muted">{formatDate(o.created_at)}</td>
                  <td className="cell-actions">
                    <Button
                      className="btn-small"
                      aria-label={`Open ${o.name}`}
                      onClick={() => {
                        rememberOrg(o.id);
                        navigate(`/organizations/${encodeURIComponent(o.id)}/api`);
                      }}
                    >
                      Open <ArrowRight size={14} aria-hidden="true" />
                    </Button>
                    <IconButton label={`Rename ${o.name}`} icon={<Pencil size={16} aria-hidden="true" />} onClick={() => setEditing(o)} />
                    <IconButton label={`Delete ${o.name}`} tone="danger" icon={<Trash2 size={16} aria-hidden="true" />} onClick={() => setDeleting(o)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <OrganizationDialog
          existing={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            changed();
          }}
        />
      )}
      {deleting && (
        <DeleteOrganizationDialog
          org={deleting}
          onClose={() => setDeleting(undefined)}
          onDeleted={() => {
            setDeleting(undefined);
            changed();
          }}
        />
      )}
    </>
  );
}

function OrganizationDialog({ existing, onSaved, onClose }: { existing: Organization | undefined; onSaved(): void; onClose(): void }) {
  const [name, setName] = useState(existing?.name ?? '');
  const action = useAction();
  const save = () =>
    action.run(async () => {
      if (!name.trim()) throw new Error('Give the organization a name.');
      if (existing) await api.patch(`/organizations/${enc(existing.id)}`, { name: name.trim() });
      else await api.post('/organizations', { name: name.trim() });
      onSaved();
    });
  return (
    <Dialog
      title={existing ? `Rename ${existing.name}` : 'Create organization'}
      onClose={onClose}
      onSubmit={save}
      onEdit={() => action.setError(undefined)}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" busy={action.busy}>
            Save
          </Button>
        </>
      }
    >
      <Field label="Name">{(id) => <input id={id} data-autofocus value={name} maxLength={200} onChange={(e) => setName(e.target.value)} />}</Field>
      <ErrorText message={action.error} />
    </Dialog>
  );
}

function DeleteOrganizationDialog({ org, onDeleted, onClose }: { org: Organization; onDeleted(): void; onClose(): void }) {
  const action = useAction();
  const remove = () =>
    action.run(async () => {
      await api.delete(`/organizations/${enc(org.id)}`);
      onDeleted();
    });
  return (
    <Dialog
      title={`Delete ${org.name}?`}
      tone="danger"
      onClose={onClose}
      onSubmit={remove}
      footer={
        <>
          <Button onClick={onClose} data-autofocus>
            Cancel
          </Button>
          <Button tone="danger" type="submit" busy={action.busy}>
            Delete organization
          </Button>
        </>
      }
    >
      <Callout tone="danger" title="Every client of this organization loses access to the APIs.">
        Its members lose access to it, and its clients, secrets and audit log are deleted. This cannot be undone.
      </Callout>
      <ErrorText message={action.error} />
    </Dialog>
  );
}
