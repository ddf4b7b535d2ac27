import { KeyRound, Pencil, Plus, RotateCw, Trash2 } from 'lucide-react';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { api, enc, type Api, type Client, type Page, type Role, type Rotated } from '../../api';
import { DataTable, ListView, LoadMore } from '../../components/ListView';
import { Badge, Button, Callout, CopyButton, CopyValue, EmptyState, IconButton, PageHeader, formatDate, relativeTime } from '../../components/ui';
import { PermissionList } from '../../components/PermissionList';
import { useResource } from '../../hooks';
import { Link } from '../../router';
import type { OrgChoice } from '../../session';
import { CreateClientDialog, DeleteClientDialog, RolesDialog, RotateSecretDialog } from './client-dialogs';
import { ClientSparkline, ExpiringSecretsNotice, SecretFacts } from './client-extras';
import { EditClientDialog } from './client-settings';
import { ClientKeysSection } from './client-keys';

/** A secret this page received (create or rotate): shown until the page is left or reloaded, never stored. */
interface Revealed {
  /** Absent for a client created with public keys and no secret: nothing to copy. */
  secret?: string;
  kind: 'created' | 'rotated';
  previousExpiresAt: string | null;
}

type Open = { kind: 'create' } | { kind: 'rotate' | 'delete' | 'roles' | 'edit'; client: Client } | undefined;

export function ApiPage({ org, tab }: { org: OrgChoice; tab: 'clients' | 'roles' }) {
  const base = `/organizations/${encodeURIComponent(org.id)}/api`;
  return (
    <>
      <PageHeader title="API" description="The applications of your organization that call the platform's APIs, and the roles they can hold." />
      <div className="tabs" role="tablist" aria-label="API">
        <Link to={base} role="tab" aria-selected={tab === 'clients'} className={`tab${tab === 'clients' ? ' is-active' : ''}`}>
          Clients
        </Link>
        <Link to={`${base}/roles`} role="tab" aria-selected={tab === 'roles'} className={`tab${tab === 'roles' ? ' is-active' : ''}`}>
          Roles
        </Link>
      </div>
      <div role="tabpanel" aria-label={tab === 'clients' ? 'Clients' : 'Roles'}>
        {tab === 'clients' ? <ClientsTab org={org} /> : <RolesTab org={org} />}
      </div>
    </>
  );
}

async function allClients(orgId: string, cursor?: string | null): Promise<Page<Client>> {
  return api.get<Page<Client>>(`/organizations/${enc(orgId)}/clients?limit=100${cursor ? `&cursor=${enc(cursor)}` : ''}`);
}

/**
 * An organization's clients with every action on them (create, rotate, roles, delete): on the
 * API page's Clients tab and on Settings → Developers → OAuth2, which adds `cardExtra` to each card.
 */
export function ClientsTab({ org, cardExtra }: { org: OrgChoice; cardExtra?: (client: Client, roles: Role[]) => ReactNode }) {
  const canEdit = org.role === 'admin';
  const clients = useResource(() => allClients(org.id), org.id);
  const roles = useResource(() => api.get<Page<Role>>(`/organizations/${enc(org.id)}/roles`).then((p) => p.data), org.id);
  const [revealed, setRevealed] = useState<Record<string, Revealed>>({});
  const [open, setOpen] = useState<Open>();
  const [fresh, setFresh] = useState<string>();
  const close = () => setOpen(undefined);

  const replace = (client: Client) => clients.update((p) => ({ ...p, data: p.data.map((c) => (c.client_id === client.client_id ? client : c)) }));

  const createButton = canEdit && (
    <Button tone="primary" onClick={() => setOpen({ kind: 'create' })}>
      <Plus size={16} aria-hidden="true" /> Create client
    </Button>
  );

  return (
    <section aria-labelledby="clients-heading">
      <div className="toolbar">
        <div>
          <h2 id="clients-heading">Clients</h2>
          <p className="muted">Each client has a client ID and a secret (or public keys), and gets access tokens with the permissions of its roles.</p>
        </div>
        {createButton || <span className="read-only-note">View only: organization admins change clients</span>}
      </div>
      {clients.data && <ExpiringSecretsNotice clients={clients.data.data} />}
      <ListView
        items={clients.data?.data}
        loading={clients.loading}
        error={clients.error}
        what="clients"
        empty={
          <EmptyState icon={<KeyRound size={28} />} title="No clients yet" action={createButton || undefined}>
            {canEdit
              ? 'Create a client for each application that calls your APIs: it gets its own client ID and secret, and only the roles you give it.'
              : 'An organization admin can create clients for the applications that call your APIs.'}
          </EmptyState>
        }
      >
        {(items) => (
          <ul className="client-list" aria-label="Clients">
            {items.map((client) => (
              <ClientCard
                key={client.client_id}
                client={client}
                orgId={org.id}
                canEdit={canEdit}
                revealed={revealed[client.client_id]}
                highlight={fresh === client.client_id}
                onRotate={() => setOpen({ kind: 'rotate', client })}
                onDelete={() => setOpen({ kind: 'delete', client })}
                onEditRoles={() => setOpen({ kind: 'roles', client })}
                onEdit={() => setOpen({ kind: 'edit', client })}
                keys={<ClientKeysSection orgId={org.id} client={client} canEdit={canEdit} onChanged={replace} />}
              >
                {cardExtra?.(client, roles.data ?? [])}
              </ClientCard>
            ))}
          </ul>
        )}
      </ListView>
      <LoadMore label="Show more clients" pages={clients} fetchPage={(cursor) => allClients(org.id, cursor)} />

      {open?.kind === 'create' && (
        <CreateClientDialog
          orgId={org.id}
          roles={roles.data ?? []}
          existingNames={clients.data?.data.map((c) => c.name) ?? []}
          onClose={close}
          onCreated={({ client_secret, ...client }) => {
            clients.update((p) => ({ ...p, data: [client, ...p.data] }));
            setRevealed((r) => ({ ...r, [client.client_id]: { ...(client_secret !== undefined ? { secret: client_secret } : {}), kind: 'created', previousExpiresAt: null } }));
            setFresh(client.client_id);
            close();
          }}
        />
      )}
      {open?.kind === 'rotate' && (
        <RotateSecretDialog
          orgId={org.id}
          client={open.client}
          onClose={close}
          onRotated={(r: Rotated) => {
            replace({ ...open.client, secret_hint: r.secret_hint, previous_secret: r.previous_secret });
            // The new secret's expiry comes with the client, not with the rotation's answer.
            void api.get<Client>(`/organizations/${enc(org.id)}/clients/${enc(open.client.client_id)}`).then(replace, () => undefined);
            setRevealed((all) => ({ ...all, [open.client.client_id]: { secret: r.client_secret, kind: 'rotated', previousExpiresAt: r.previous_secret_expires_at } }));
            close();
          }}
        />
      )}
      {open?.kind === 'delete' && (
        <DeleteClientDialog
          orgId={org.id}
          client={open.client}
          onClose={close}
          onDeleted={() => {
            clients.update((p) => ({ ...p, data: p.data.filter((c) => c.client_id !== open.client.client_id) }));
            close();
          }}
        />
      )}
      {open?.kind === 'edit' && (
        <EditClientDialog
          orgId={org.id}
          client={open.client}
          onClose={close}
          onSaved={(client) => {
            replace(client);
            close();
          }}
        />
      )}
      {open?.kind === 'roles' && (
        <RolesDialog
          orgId={org.id}
          client={open.client}
          roles={roles.data ?? []}
          onClose={close}
          onSaved={(client) => {
            replace(client);
            close();
          }}
        />
      )}
    </section>
  );
}

function ClientCard({
  client,
  orgId,
  canEdit,
  revealed,
  highlight,
  onRotate,
  onDelete,
  onEditRoles,
  keys,
  children,
  onEdit,
}: {
  client: Client;
  orgId: string;
  canEdit: boolean;
  revealed: Revealed | undefined;
  highlight: boolean;
  onRotate(): void;
  onDelete(): void;
  onEditRoles(): void;
  /** The public keys section (client-keys.tsx). */
  keys?: ReactNode;
  children?: ReactNode;
  onEdit(): void;
}) {
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (highlight) ref.current?.scrollIntoView({ block: 'nearest' });
  }, [highlight]);
  const headingId = `client-${client.client_id}`;
  return (
    <li ref={ref} className={`card client-card${highlight ? ' is-fresh' : ''}`} aria-labelledby={headingId} data-client-id={client.client_id}>
      <div className="client-head">
        <h3 id={headingId}>{client.name}</h3>
        {canEdit && (
          <Button className="btn-small" onClick={onEdit} aria-label={`Edit ${client.name}`}>
            <Pencil size={15} aria-hidden="true" /> Edit
          </Button>
        )}
        {canEdit && (
          <Button tone="danger-outline" className="btn-small" onClick={onDelete} aria-label={`Delete ${client.name}`}>
            <Trash2 size={15} aria-hidden="true" /> Delete
          </Button>
        )}
      </div>
      <div className="client-roles">
        <span className="label">Roles</span>
        {client.roles.length === 0 ? (
          <span className="muted">No roles</span>
        ) : (
          client.roles.map((r) => (
            <Badge key={r.id} tone="blue">
              {r.name}
            </Badge>
          ))
        )}
        {canEdit && <IconButton label={`Edit roles of ${client.name}`} icon={<Pencil size={15} aria-hidden="true" />} onClick={onEditRoles} />}
      </div>
      <dl className="client-facts">
        <div>
          <dt>Client ID</dt>
          <dd>
            <CopyValue value={client.client_id} what="client ID" />
          </dd>
        </div>
        <div>
          <dt>Client secret</dt>
          <dd className="secret-row">
            {client.secret_hint === null ? (
              <span className="muted">None: it authenticates with its public keys</span>
            ) : (
              <code className="secret-hint">
                <span aria-hidden="true">pcs_••••••••</span>
                <span className="sr-only">Secret ending in </span>
                {client.secret_hint}
              </code>
            )}
            {canEdit && client.secret_hint !== null && (
              <Button className="btn-small" onClick={onRotate} aria-label={`Rotate secret of ${client.name}`}>
                <RotateCw size={14} aria-hidden="true" /> Rotate
              </Button>
            )}
          </dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDate(client.created_at)}</dd>
        </div>
        <div>
          <dt>Last used</dt>
          <dd>{relativeTime(client.last_used_at)}</dd>
        </div>
        <SecretFacts client={client} />
      </dl>
      <ClientSparkline orgId={orgId} client={client} />
      {keys}
      {revealed && <RevealedSecret revealed={revealed} />}
      {children}
    </li>
  );
}

function RevealedSecret({ revealed }: { revealed: Revealed }) {
  if (revealed.secret === undefined)
    return (
      <div className="revealed" data-testid="no-secret">
        <Callout tone="success" title="Created without a secret">
          There is no secret to copy: this client gets tokens with a JWT signed by its private key (private_key_jwt), which never leaves the application.
        </Callout>
      </div>
    );
  return (
    <div className="revealed" data-testid="revealed-secret">
      <Callout tone="warning" title={revealed.kind === 'created' ? 'Copy the client secret now' : 'Copy the new client secret now'}>
        This is the only time it is shown. It is gone once you refresh or leave this page; if it is lost, rotate the secret.
        {revealed.kind === 'rotated' &&
          (revealed.previousExpiresAt ? ` The previous secret keeps working until ${formatDate(revealed.previousExpiresAt)}.` : ' The previous secret has stopped working.')}
      </Callout>
      <div className="secret-value">
        <span className="label">Client secret</span>
        <code data-testid="client-secret">{revealed.secret}</code>
        <CopyButton value={revealed.secret} what="client secret" />
      </div>
    </div>
  );
}

function RolesTab({ org }: { org: OrgChoice }) {
  const roles = useResource(() => api.get<Page<Role>>(`/organizations/${enc(org.id)}/roles`).then((p) => p.data), org.id);
  const apis = useResource(() => api.get<Page<Api>>('/apis').then((p) => p.data), 'apis');
  return (
    <section aria-labelledby="roles-heading">
      <div className="toolbar">
        <div>
          <h2 id="roles-heading">Roles</h2>
          <p className="muted">The roles your clients can hold, and the API permissions each one grants.</p>
        </div>
      </div>
      <ListView
        items={roles.data}
        loading={roles.loading}
        error={roles.error}
        what="roles"
        empty={
          <EmptyState icon={<KeyRound size={28} />} title="No roles yet">
            A platform administrator defines the roles organizations can assign.
          </EmptyState>
        }
      >
        {(items) => (
          <DataTable
            card={false}
            columns={['Role', 'Permissions']}
            items={items}
            rowKey={(role) => role.id}
            row={(role) => (
              <>
                <td>
                  <strong>{role.name}</strong>
                  <div className="muted small">{role.description || role.id}</div>
                </td>
                <td>
                  <PermissionList permissions={role.permissions} apis={apis.data} />
                </td>
              </>
            )}
          />
        )}
      </ListView>
    </section>
  );
}
