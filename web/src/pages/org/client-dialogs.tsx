import { Minus, Plus, RotateCw, Trash2, TriangleAlert } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Client, type Role, type Rotated } from '../../api';
import { ConfirmDeleteDialog, FormDialog } from '../../components/ActionDialog';
import { Callout, Field } from '../../components/ui';
import { useAction } from '../../hooks';
import { ClaimsFields, QuotaFields, claimRows, claimsValue, quotaDraft, quotaValue, shownByFields } from './client-settings';
import { KeysInput, parsePastedKeys } from './client-keys';

/** A client created without a secret (with public keys) has no `client_secret`. */
type Created = Client & { client_secret?: string };

/** What a role list shows of a role: a role the client holds but can no longer be assigned lacks its permissions. */
type RoleShown = Pick<Role, 'id' | 'name' | 'description'> & Partial<Pick<Role, 'permissions'>>;

function RoleSummary({ role }: { role: RoleShown }) {
  const perms = (role.permissions ?? []).map((p) => p.value);
  return (
    <span className="role-summary">
      <span className="role-name">{role.name}</span>
      {role.description && <span className="role-description">{role.description}</span>}
      {perms.length > 0 && <span className="role-perms">{perms.join(' · ')}</span>}
    </span>
  );
}

/** What may be a mistake in a new client, said before it is created; the person can create it anyway. */
function creationWarnings(name: string, chosen: readonly string[], existingNames: readonly string[]): string[] {
  const warnings: string[] = [];
  if (chosen.length === 0) warnings.push('It has no roles, so it can get no token until you give it one.');
  const wanted = name.trim().toLocaleLowerCase();
  if (wanted && existingNames.some((n) => n.trim().toLocaleLowerCase() === wanted)) warnings.push(`A client named “${name.trim()}” exists already: two clients of one name are easy to mix up.`);
  return warnings;
}

export function CreateClientDialog({
  orgId,
  roles,
  existingNames,
  onCreated,
  onClose,
}: {
  orgId: string;
  roles: Role[];
  /** The names of the organization's clients the page has loaded: a duplicate is warned about. */
  existingNames: readonly string[];
  onCreated(client: Created): void;
  onClose(): void;
}) {
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  // The warnings the person has seen: Save again creates the client as it is.
  const [warned, setWarned] = useState<string>();
  const [quota, setQuota] = useState(() => quotaDraft(null));
  const [claims, setClaims] = useState(() => claimRows({}));
  const [failure, setFailure] = useState<unknown>();
  const [useKey, setUseKey] = useState(false);
  const [keyText, setKeyText] = useState('');
  const [keyAlg, setKeyAlg] = useState('ES256');
  const action = useAction();
  const toggle = (id: string) => setChosen((c) => (c.includes(id) ? c.filter((x) => x !== id) : [...c, id]));
  const warnings = creationWarnings(name, chosen, existingNames);
  const warningKey = warnings.join('\n');
  const shown = warnings.length > 0 && warned === warningKey;
  const save = () =>
    action.run(async () => {
      setFailure(undefined);
      try {
        if (!name.trim()) throw new Error('Give the client a name, for example the application that will use it.');
        if (warnings.length > 0 && !shown) {
          setWarned(warningKey);
          return;
        }
        const keys = useKey ? { jwks: await parsePastedKeys(keyText, keyAlg), secret: false } : {};
        const body = { name: name.trim(), roles: chosen, token_quota: quotaValue(quota), token_claims: claimsValue(claims), ...keys };
        onCreated(await api.post<Created>(`/organizations/${enc(orgId)}/clients`, body));
      } catch (err) {
        setFailure(err);
        if (!shownByFields(err)) throw err;
      }
    });
  return (
    <FormDialog
      title="Create client"
      action={action}
      onSubmit={save}
      onClose={onClose}
      size="large"
      submitLabel={shown ? 'Create anyway' : 'Save'}
      notice={
        shown && (
          <div role="alert" data-testid="create-warnings">
            <Callout tone="warning" title="Check before creating">
              {warnings.map((w) => (
                <p key={w}>{w}</p>
              ))}
            </Callout>
          </div>
        )
      }
    >
      <Field label="Name" hint="Who will use it, e.g. “Billing exporter”. You can change it later.">
        {(id, hintId) => <input id={id} aria-describedby={hintId} data-autofocus required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />}
      </Field>
      <fieldset className="choice-list">
        <legend>Available roles</legend>
        <p className="field-hint">The roles decide which APIs the client can call and with which permissions.</p>
        {roles.length === 0 && <p className="muted">No roles are available yet; a platform administrator creates them. You can add roles later.</p>}
        {roles.map((role) => (
          <label key={role.id} className={`choice${chosen.includes(role.id) ? ' is-selected' : ''}`}>
            <input type="checkbox" checked={chosen.includes(role.id)} onChange={() => toggle(role.id)} />
            <RoleSummary role={role} />
          </label>
        ))}
      </fieldset>
      <QuotaFields draft={quota} onChange={setQuota} error={failure} />
      <ClaimsFields rows={claims} onChange={setClaims} error={failure} />
      <label className="checkbox-row">
        <input type="checkbox" checked={useKey} onChange={(e) => setUseKey(e.target.checked)} />
        <span>Use a public key instead of a secret (private_key_jwt)</span>
      </label>
      {useKey && <KeysInput text={keyText} alg={keyAlg} onText={setKeyText} onAlg={setKeyAlg} />}
    </FormDialog>
  );
}

export function RotateSecretDialog({ orgId, client, onRotated, onClose }: { orgId: string; client: Client; onRotated(r: Rotated): void; onClose(): void }) {
  const [keepOld, setKeepOld] = useState(false);
  const [minutes, setMinutes] = useState('60');
  const [retire, setRetire] = useState(false);
  const [unusedMinutes, setUnusedMinutes] = useState('10');
  const action = useAction();
  const rotate = () =>
    action.run(async () => {
      const body: { grace_period_seconds: number; retire_when_unused_seconds?: number } = { grace_period_seconds: 0 };
      if (keepOld) {
        const n = Number(minutes);
        if (!Number.isInteger(n) || n < 1 || n > 43200) throw new Error('Enter the grace period as a whole number of minutes between 1 and 43200 (30 days).');
        body.grace_period_seconds = n * 60;
        if (retire) {
          // At least two minutes: the server learns of another node's use of the old secret within about a minute.
          const u = Number(unusedMinutes);
          if (!Number.isInteger(u) || u < 2 || u > 43200) throw new Error('Enter the unused time as a whole number of minutes between 2 and 43200 (30 days).');
          body.retire_when_unused_seconds = u * 60;
        }
      }
      onRotated(await api.post<Rotated>(`/organizations/${enc(orgId)}/clients/${enc(client.client_id)}/secret/rotate`, body));
    });
  return (
    <FormDialog title="Rotate client secret" icon={<RotateCw size={18} />} action={action} onSubmit={rotate} onClose={onClose} submitLabel="Rotate secret">
      <p>
        Portcullis will create a new secret for <strong>{client.name}</strong> and show it once. Every application using this client must then be given the new secret.
      </p>
      <label className="checkbox-row">
        <input type="checkbox" checked={keepOld} onChange={(e) => setKeepOld(e.target.checked)} data-autofocus />
        <span>Keep the old secret valid for a grace period</span>
      </label>
      <div className={`inline-field${keepOld ? '' : ' is-disabled'}`}>
        <label htmlFor="grace-minutes">Grace period (minutes)</label>
        <input id="grace-minutes" type="number" inputMode="numeric" min={1} max={43200} step={1} disabled={!keepOld} value={minutes} onChange={(e) => setMinutes(e.target.value)} />
      </div>
      <label className={`checkbox-row${keepOld ? '' : ' is-disabled'}`}>
        <input type="checkbox" checked={retire && keepOld} disabled={!keepOld} onChange={(e) => setRetire(e.target.checked)} />
        <span>Retire the old secret sooner, once it has gone unused for a while</span>
      </label>
      <div className={`inline-field${keepOld && retire ? '' : ' is-disabled'}`}>
        <label htmlFor="retire-minutes">Retire the old secret once unused for (minutes)</label>
        <input
          id="retire-minutes"
          type="number"
          inputMode="numeric"
          min={2}
          max={43200}
          step={1}
          disabled={!keepOld || !retire}
          value={unusedMinutes}
          onChange={(e) => setUnusedMinutes(e.target.value)}
        />
      </div>
      <p className="field-hint">
        {!keepOld
          ? 'Without a grace period the old secret stops working at once.'
          : retire
            ? 'Both secrets work until the grace period ends, or until the old one has not been used for that long, whichever comes first: once every application has the new secret, the old one goes away by itself.'
            : 'Both secrets work until the grace period ends; then only the new one.'}
      </p>
    </FormDialog>
  );
}

export function DeleteClientDialog({ orgId, client, onDeleted, onClose }: { orgId: string; client: Client; onDeleted(): void; onClose(): void }) {
  return (
    <ConfirmDeleteDialog
      title={`Delete ${client.name}?`}
      icon={<TriangleAlert size={18} />}
      confirmLabel="Delete client"
      confirmIcon={<Trash2 size={16} aria-hidden="true" />}
      onClose={onClose}
      onConfirm={async () => {
        await api.delete(`/organizations/${enc(orgId)}/clients/${enc(client.client_id)}`);
        onDeleted();
      }}
    >
      <Callout tone="danger" title="Every application using this client will lose access to the API.">
        Its secret stops working at once and the tokens already issued to it are no longer accepted. This cannot be undone.
      </Callout>
      <dl className="facts">
        <dt>Client ID</dt>
        <dd>
          <code>{client.client_id}</code>
        </dd>
      </dl>
    </ConfirmDeleteDialog>
  );
}

export function RolesDialog({ orgId, client, roles, onSaved, onClose }: { orgId: string; client: Client; roles: Role[]; onSaved(c: Client): void; onClose(): void }) {
  const [selected, setSelected] = useState<string[]>(client.roles.map((r) => r.id));
  const action = useAction();
  const byId = new Map<string, RoleShown>(roles.map((r) => [r.id, r]));
  // A role the client holds that this organization can no longer assign still shows, so it can be removed.
  for (const r of client.roles) if (!byId.has(r.id)) byId.set(r.id, { id: r.id, name: r.name, description: '' });
  const available = roles.filter((r) => !selected.includes(r.id));
  const save = () =>
    action.run(async () => {
      onSaved(await api.put<Client>(`/organizations/${enc(orgId)}/clients/${enc(client.client_id)}/roles`, { roles: selected }));
    });
  return (
    <FormDialog title="Roles" action={action} onSubmit={save} onClose={onClose} size="large">
      <p className="dialog-lead">
        Roles of <strong>{client.name}</strong>
      </p>
      <Callout tone="warning">Changing roles changes what this client can access. New tokens carry the new permissions; tokens issued before keep theirs until they expire.</Callout>
      <div className="transfer">
        <section className="transfer-column" aria-labelledby="available-roles-heading">
          <h3 id="available-roles-heading">Available roles</h3>
          <ul>
            {available.length === 0 && <li className="transfer-empty">No more roles to add</li>}
            {available.map((role) => (
              <li key={role.id}>
                <button type="button" className="transfer-item" aria-label={`Add ${role.name}`} onClick={() => setSelected((s) => [...s, role.id])}>
                  <RoleSummary role={role} />
                  <Plus size={16} aria-hidden="true" className="transfer-icon" />
                </button>
              </li>
            ))}
          </ul>
        </section>
        <section className="transfer-column" aria-labelledby="selected-roles-heading">
          <h3 id="selected-roles-heading">Selected roles</h3>
          <ul>
            {selected.length === 0 && <li className="transfer-empty">No roles: the client can get no tokens</li>}
            {selected.map((id) => {
              const role = byId.get(id);
              if (!role) return null;
              return (
                <li key={id}>
                  <button type="button" className="transfer-item is-selected" aria-label={`Remove ${role.name}`} onClick={() => setSelected((s) => s.filter((x) => x !== id))}>
                    <RoleSummary role={role} />
                    <Minus size={16} aria-hidden="true" className="transfer-icon" />
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      </div>
    </FormDialog>
  );
}
