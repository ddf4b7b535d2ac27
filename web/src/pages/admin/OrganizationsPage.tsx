import { ArrowRight, Building2, Pencil, Plus, Trash2 } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Organization, type Page } from '../../api';
import { ConfirmDeleteDialog, FormDialog } from '../../components/ActionDialog';
import { DataTable, ListView } from '../../components/ListView';
import { Button, Callout, CopyValue, EmptyState, Field, IconButton, PageHeader, formatDate } from '../../components/ui';
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
      <ListView
        items={orgs.data}
        loading={orgs.loading}
        error={orgs.error}
        what="organizations"
        empty={
          <EmptyState icon={<Building2 size={28} />} title="No organizations yet">
            Create one for each customer; then add its first admin under Members.
          </EmptyState>
        }
      >
        {(items) => (
          <DataTable
            label="Organizations"
            columns={['Name', 'ID', 'Created']}
            actions
            items={items}
            rowKey={(o) => o.id}
            row={(o) => (
              <>
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
              </>
            )}
          />
        )}
      </ListView>
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
        <ConfirmDeleteDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete organization"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api.delete(`/organizations/${enc(deleting.id)}`);
            setDeleting(undefined);
            changed();
          }}
        >
          <Callout tone="danger" title="Every client of this organization loses access to the APIs.">
            Its members lose access to it, and its clients, secrets and audit log are deleted. This cannot be undone.
          </Callout>
        </ConfirmDeleteDialog>
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
    <FormDialog title={existing ? `Rename ${existing.name}` : 'Create organization'} action={action} onSubmit={save} onClose={onClose}>
      <Field label="Name">{(id) => <input id={id} data-autofocus value={name} maxLength={200} onChange={(e) => setName(e.target.value)} />}</Field>
    </FormDialog>
  );
}
