import { Plus, Trash2 } from 'lucide-react';
import { useId, useState } from 'react';
import { ApiFailure, api, enc, type Client, type TokenClaims, type TokenQuota } from '../../api';
import { FormDialog } from '../../components/ActionDialog';
import { Button, ErrorText, Field, IconButton } from '../../components/ui';
import { useAction } from '../../hooks';

/**
 * The token quota and custom claims of a client, as form state: text the person types, turned
 * into the wire shape (and checked) only on Save, so a half-typed number is not lost.
 */
export interface QuotaDraft {
  on: boolean;
  limit: string;
  per: 'hour' | 'day';
}

type ClaimType = 'string' | 'number' | 'boolean';
export interface ClaimRow {
  key: string;
  name: string;
  type: ClaimType;
  value: string;
}

let rowKeys = 0;
const newRow = (name = '', type: ClaimType = 'string', value = ''): ClaimRow => ({ key: `claim-${++rowKeys}`, name, type, value });

export function quotaDraft(quota: TokenQuota | null): QuotaDraft {
  return quota ? { on: true, limit: String(quota.limit), per: quota.per } : { on: false, limit: '1000', per: 'hour' };
}

export function claimRows(claims: TokenClaims): ClaimRow[] {
  return Object.entries(claims).map(([name, v]) => newRow(name, typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string', String(v)));
}

/** A refusal by the browser before the server sees it, shown next to the field like the server's. */
export class FieldProblem extends Error {
  constructor(
    readonly field: 'token_quota' | 'token_claims',
    message: string,
  ) {
    super(message);
  }
}

export function quotaValue(d: QuotaDraft): TokenQuota | null {
  if (!d.on) return null;
  const limit = Number(d.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000_000) throw new FieldProblem('token_quota', 'Enter the quota as a whole number of tokens between 1 and 1000000000.');
  return { limit, per: d.per };
}

export function claimsValue(rows: ClaimRow[]): TokenClaims {
  const claims: TokenClaims = {};
  for (const row of rows) {
    const name = row.name.trim();
    if (!name && !row.value) continue;
    if (!name) throw new FieldProblem('token_claims', 'Every claim needs a name.');
    if (name in claims) throw new FieldProblem('token_claims', `The claim “${name}” is there twice.`);
    if (row.type === 'number') {
      const n = Number(row.value);
      if (row.value.trim() === '' || !Number.isFinite(n)) throw new FieldProblem('token_claims', `The claim “${name}” must be a number.`);
      claims[name] = n;
    } else if (row.type === 'boolean') claims[name] = row.value === 'true';
    else claims[name] = row.value;
  }
  return claims;
}

/** The message of a refusal that concerns `field`: the browser's own, or the server's `details`. */
function problemOf(error: unknown, field: 'token_quota' | 'token_claims'): string | undefined {
  if (error instanceof FieldProblem) return error.field === field ? error.message : undefined;
  if (error instanceof ApiFailure) {
    const mine = error.fieldErrors.filter((d) => d.field.startsWith(`/body/${field}`));
    if (mine.length === 0) return undefined;
    return mine
      .map((d) => {
        const claim = d.field.split('/')[3];
        return claim ? `“${claim}”: ${d.message}` : d.message;
      })
      .join('; ');
  }
  return undefined;
}

/**
 * Whether a failed Save is shown next to the quota or the claims: then the dialog does not
 * repeat it by Save (one message, where it belongs).
 */
export function shownByFields(err: unknown): boolean {
  return problemOf(err, 'token_quota') !== undefined || problemOf(err, 'token_claims') !== undefined;
}

export function QuotaFields({ draft, onChange, error, of = 'client' }: { draft: QuotaDraft; onChange(d: QuotaDraft): void; error: unknown; of?: 'client' | 'organization' }) {
  const id = useId();
  const problem = problemOf(error, 'token_quota');
  return (
    <fieldset className="quota-fields" aria-describedby={`${id}-hint`}>
      <legend>Token quota</legend>
      <label className="checkbox-row">
        <input type="checkbox" checked={draft.on} onChange={(e) => onChange({ ...draft, on: e.target.checked })} />
        <span>{of === 'client' ? 'Limit the tokens this client may get' : 'Limit the tokens all clients of the organization may get together'}</span>
      </label>
      <div className={`quota-row${draft.on ? '' : ' is-disabled'}`}>
        <input aria-label="Quota limit" type="number" inputMode="numeric" min={1} step={1} disabled={!draft.on} value={draft.limit} onChange={(e) => onChange({ ...draft, limit: e.target.value })} />
        <span>tokens per</span>
        <select aria-label="Quota period" disabled={!draft.on} value={draft.per} onChange={(e) => onChange({ ...draft, per: e.target.value === 'day' ? 'day' : 'hour' })}>
          <option value="hour">hour</option>
          <option value="day">day</option>
        </select>
      </div>
      <p className="field-hint" id={`${id}-hint`}>
        {draft.on
          ? 'Beyond it the token endpoint answers 429 until the UTC hour or day ends.'
          : of === 'client'
            ? 'No quota of its own; the organization’s quota, if any, still applies.'
            : 'No quota: the organization’s clients get as many tokens as they ask for.'}
      </p>
      <ErrorText message={problem} />
    </fieldset>
  );
}

export function ClaimsFields({ rows, onChange, error }: { rows: ClaimRow[]; onChange(rows: ClaimRow[]): void; error: unknown }) {
  const problem = problemOf(error, 'token_claims');
  const set = (key: string, patch: Partial<ClaimRow>) => onChange(rows.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  return (
    <fieldset className="claims-fields">
      <legend>Token claims</legend>
      <p className="field-hint">Extra claims copied into every access token of this client, e.g. a tenant ID the API reads.</p>
      {rows.length > 0 && (
        <ul className="claim-rows" aria-label="Claims">
          {rows.map((row, i) => (
            <li key={row.key} className="claim-row">
              <input aria-label={`Claim ${i + 1} name`} placeholder="name" value={row.name} maxLength={100} autoComplete="off" onChange={(e) => set(row.key, { name: e.target.value })} />
              <select
                aria-label={`Claim ${i + 1} type`}
                value={row.type}
                onChange={(e) => set(row.key, { type: e.target.value as ClaimType, value: e.target.value === 'boolean' ? 'true' : row.value })}
              >
                <option value="string">text</option>
                <option value="number">number</option>
                <option value="boolean">true/false</option>
              </select>
              {row.type === 'boolean' ? (
                <select aria-label={`Claim ${i + 1} value`} value={row.value} onChange={(e) => set(row.key, { value: e.target.value })}>
                  <option value="true">true</option>
                  <option value="false">false</option>
                </select>
              ) : (
                <input
                  aria-label={`Claim ${i + 1} value`}
                  placeholder="value"
                  inputMode={row.type === 'number' ? 'decimal' : undefined}
                  value={row.value}
                  autoComplete="off"
                  onChange={(e) => set(row.key, { value: e.target.value })}
                />
              )}
              <IconButton label={`Remove claim ${i + 1}`} tone="danger" icon={<Trash2 size={15} aria-hidden="true" />} onClick={() => onChange(rows.filter((r) => r.key !== row.key))} />
            </li>
          ))}
        </ul>
      )}
      <Button className="btn-small" onClick={() => onChange([...rows, newRow()])}>
        <Plus size={14} aria-hidden="true" /> Add claim
      </Button>
      <ErrorText message={problem} />
    </fieldset>
  );
}

/** Name, token quota and claims of an existing client (PATCH). */
export function EditClientDialog({ orgId, client, onSaved, onClose }: { orgId: string; client: Client; onSaved(c: Client): void; onClose(): void }) {
  const [name, setName] = useState(client.name);
  const [quota, setQuota] = useState(() => quotaDraft(client.token_quota));
  const [claims, setClaims] = useState(() => claimRows(client.token_claims));
  const [failure, setFailure] = useState<unknown>();
  const action = useAction();
  const save = () =>
    action.run(async () => {
      setFailure(undefined);
      try {
        if (!name.trim()) throw new Error('Give the client a name.');
        const body = { name: name.trim(), token_quota: quotaValue(quota), token_claims: claimsValue(claims) };
        onSaved(await api.patch<Client>(`/organizations/${enc(orgId)}/clients/${enc(client.client_id)}`, body));
      } catch (err) {
        setFailure(err);
        if (!shownByFields(err)) throw err;
      }
    });
  return (
    <FormDialog title={`Edit ${client.name}`} action={action} onSubmit={save} onClose={onClose} size="large">
      <Field label="Name">{(id) => <input id={id} data-autofocus required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />}</Field>
      <QuotaFields draft={quota} onChange={setQuota} error={failure} />
      <ClaimsFields rows={claims} onChange={setClaims} error={failure} />
    </FormDialog>
  );
}
