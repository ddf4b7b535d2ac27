import { Pencil, Plug, Plus, Trash2, X } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Api, type Page } from '../../api';
import { ConfirmDeleteDialog, FormDialog } from '../../components/ActionDialog';
import { ListView } from '../../components/ListView';
import { Badge, Button, Callout, CopyValue, EmptyState, Field, IconButton, PageHeader } from '../../components/ui';
import { useAction, useResource } from '../../hooks';

export function ApisPage() {
  const apis = useResource(() => api.get<Page<Api>>('/apis').then((p) => p.data), 'apis');
  const [editing, setEditing] = useState<Api | 'new'>();
  const [deleting, setDeleting] = useState<Api>();
  return (
    <>
      <PageHeader
        title="APIs"
        description="The resource servers that accept Portcullis tokens. The identifier is the token's audience; permissions become its scope."
        actions={
          <Button tone="primary" onClick={() => setEditing('new')}>
            <Plus size={16} aria-hidden="true" /> Create API
          </Button>
        }
      />
      <ListView items={apis.data} loading={apis.loading} error={apis.error} what="APIs" empty={<EmptyState icon={<Plug size={28} />} title="No APIs yet" />}>
        {(items) => (
          <div className="card-list">
            {items.map((a) => (
              <article key={a.id} className="card" aria-labelledby={`api-${a.id}`}>
                <div className="card-head">
                  <div>
                    <h2 id={`api-${a.id}`} className="card-title">
                      {a.name} {a.built_in && <Badge tone="amber">Built in</Badge>}
                    </h2>
                    <CopyValue value={a.identifier} what={`identifier of ${a.name}`} />
                  </div>
                  {!a.built_in && (
                    <div className="card-actions">
                      <IconButton label={`Edit ${a.name}`} icon={<Pencil size={16} aria-hidden="true" />} onClick={() => setEditing(a)} />
                      <IconButton label={`Delete ${a.name}`} tone="danger" icon={<Trash2 size={16} aria-hidden="true" />} onClick={() => setDeleting(a)} />
                    </div>
                  )}
                </div>
                <p className="muted small">Token lifetime: {a.access_token_ttl ? `${a.access_token_ttl} seconds` : 'server default'}</p>
                <table className="compact" aria-label={`Permissions of ${a.name}`}>
                  <thead>
                    <tr>
                      <th scope="col">Permission</th>
                      <th scope="col">Description</th>
                    </tr>
                  </thead>
                  <tbody>
                    {a.permissions.length === 0 && (
                      <tr>
                        <td colSpan={2} className="muted">
                          No permissions
                        </td>
                      </tr>
                    )}
                    {a.permissions.map((p) => (
                      <tr key={p.value}>
                        <td>
                          <code>{p.value}</code>
                        </td>
                        <td>{p.description}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </article>
            ))}
          </div>
        )}
      </ListView>
      {editing && (
        <ApiDialog
          existing={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            apis.reload();
          }}
        />
      )}
      {deleting && (
        <ConfirmDeleteDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete API"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api.delete(`/apis/${enc(deleting.id)}`);
            setDeleting(undefined);
            apis.reload();
          }}
        >
          <Callout tone="danger">No client can get a token for {deleting.identifier} any more, and roles lose its permissions.</Callout>
        </ConfirmDeleteDialog>
      )}
    </>
  );
}

interface PermissionRow {
  key: number;
  value: string;
  description: string;
}

let rowKey = 0;

function ApiDialog({ existing, onSaved, onClose }: { existing: Api | undefined; onSaved(): void; onClose(): void }) {
  const [name, setName] = useState(existing?.name ?? '');
  const [identifier, setIdentifier] = useState(existing?.identifier ?? '');
  const [ttl, setTtl] = useState(existing?.access_token_ttl ? String(existing.access_token_ttl) : '');
  const [rows, setRows] = useState<PermissionRow[]>(existing?.permissions.length ? existing.permissions.map((p) => ({ key: ++rowKey, ...p })) : [{ key: ++rowKey, value: '', description: '' }]);
  const action = useAction();
  const setRow = (key: number, patch: Partial<PermissionRow>) => setRows((rs) => rs.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  const save = () =>
    action.run(async () => {
      if (!name.trim()) throw new Error('Give the API a name.');
      if (!existing && !identifier.trim()) throw new Error('Enter the identifier, usually the API’s base URL, e.g. https://meters.example.com/.');
      let accessTokenTtl: number | null = null;
      if (ttl.trim()) {
        accessTokenTtl = Number(ttl);
        if (!Number.isInteger(accessTokenTtl) || accessTokenTtl < 60 || accessTokenTtl > 86400) throw new Error('Token lifetime must be a whole number of seconds between 60 and 86400, or empty.');
      }
      const permissions = rows.filter((r) => r.value.trim()).map((r) => ({ value: r.value.trim(), description: r.description.trim() }));
      const body = { name: name.trim(), permissions, access_token_ttl: accessTokenTtl };
      if (existing) await api.patch<Api>(`/apis/${enc(existing.id)}`, body);
      else await api.post<Api>('/apis', { ...body, identifier: identifier.trim() });
      onSaved();
    });
  return (
    <FormDialog title={existing ? `Edit ${existing.name}` : 'Create API'} action={action} onSubmit={save} onClose={onClose} size="large">
      <div className="field-grid">
        <Field label="Name">{(id) => <input id={id} data-autofocus value={name} maxLength={200} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Identifier" hint={existing ? 'The identifier cannot change: tokens name it as their audience.' : 'The audience of its tokens, usually its base URL.'}>
          {(id, hintId) => (
            <input id={id} aria-describedby={hintId} value={identifier} readOnly={!!existing} placeholder="https://meters.example.com/" onChange={(e) => setIdentifier(e.target.value)} />
          )}
        </Field>
      </div>
      <Field label="Token lifetime (seconds)" hint="Empty: the server's ACCESS_TOKEN_TTL.">
        {(id, hintId) => <input id={id} aria-describedby={hintId} inputMode="numeric" value={ttl} onChange={(e) => setTtl(e.target.value)} className="narrow" />}
      </Field>
      <fieldset className="permission-rows">
        <legend>Permissions</legend>
        {rows.map((r, i) => (
          <div key={r.key} className="permission-row">
            <input aria-label={`Permission ${i + 1}`} placeholder="meters:read" value={r.value} onChange={(e) => setRow(r.key, { value: e.target.value })} />
            <input aria-label={`Description of permission ${i + 1}`} placeholder="Read meter readings" value={r.description} onChange={(e) => setRow(r.key, { description: e.target.value })} />
            <IconButton label={`Remove permission ${i + 1}`} icon={<X size={16} aria-hidden="true" />} onClick={() => setRows((rs) => rs.filter((x) => x.key !== r.key))} />
          </div>
        ))}
        <Button className="btn-small" onClick={() => setRows((rs) => [...rs, { key: ++rowKey, value: '', description: '' }])}>
          <Plus size={14} aria-hidden="true" /> Add permission
        </Button>
      </fieldset>
    </FormDialog>
  );
}
