import { exportJWK, importSPKI } from 'jose';
import { KeyRound, Trash2 } from 'lucide-react';
import { useState } from 'react';
import { api, enc, type Client } from '../../api';
import { FormDialog } from '../../components/ActionDialog';
import { Button, Callout, ErrorText, Field } from '../../components/ui';
import { useAction } from '../../hooks';

/** A JWK Set (RFC 7517 §5) as the management API takes it. */
export interface JwkSet {
  keys: Record<string, unknown>[];
}

/** Members only a private JWK has (RFC 7518 §6): such a key is refused here, before it is sent anywhere. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'];

/**
 * Reads pasted keys: a JWK Set, one public JWK, or a PEM public key (SubjectPublicKeyInfo),
 * converted in the browser with jose for `alg`. The server checks the keys again.
 */
export async function parsePastedKeys(text: string, alg: string): Promise<JwkSet> {
  const trimmed = text.trim();
  if (!trimmed) throw new Error('Paste a public key: a JWK, a JWK Set or a PEM public key.');
  if (trimmed.startsWith('-----BEGIN')) {
    if (!trimmed.startsWith('-----BEGIN PUBLIC KEY-----')) throw new Error('That PEM is not a public key (“-----BEGIN PUBLIC KEY-----”). Paste the public key only, never the private one.');
    try {
      return { keys: [{ ...(await exportJWK(await importSPKI(trimmed, alg, { extractable: true }))), alg, use: 'sig' }] };
    } catch {
      throw new Error(`That PEM is not a ${alg} public key. Choose its algorithm.`);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    throw new Error('That is neither JSON (a JWK or a JWK Set) nor a PEM public key.');
  }
  const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  const keys = record && Array.isArray(record.keys) ? (record.keys as unknown[]) : record && 'kty' in record ? [record] : undefined;
  if (!keys) throw new Error('Paste a JWK (with “kty”) or a JWK Set (with “keys”).');
  return {
    keys: keys.map((key, i) => {
      if (typeof key !== 'object' || key === null || Array.isArray(key)) throw new Error(`Key ${i + 1} is not a JSON object.`);
      if (PRIVATE_MEMBERS.some((m) => m in key)) throw new Error(`Key ${i + 1} is a private key. Paste its public part only; the private key stays with the application.`);
      return key as Record<string, unknown>;
    }),
  };
}

/** The textarea and algorithm choice for pasted keys, in the create and replace dialogs. */
export function KeysInput({ text, alg, onText, onAlg }: { text: string; alg: string; onText(t: string): void; onAlg(a: string): void }) {
  const pem = text.trim().startsWith('-----BEGIN');
  return (
    <>
      <Field label="Public key" hint="A JWK, a JWK Set ({“keys”: […]}) or a PEM public key. The private key stays with the application.">
        {(id, hintId) => (
          <textarea
            id={id}
            aria-describedby={hintId}
            className="keys-input"
            rows={6}
            spellCheck={false}
            value={text}
            onChange={(e) => onText(e.target.value)}
            placeholder='{"kty":"EC","crv":"P-256","x":"…","y":"…"}'
          />
        )}
      </Field>
      {pem && (
        <Field label="Algorithm of the PEM key">
          {(id) => (
            <select id={id} value={alg} onChange={(e) => onAlg(e.target.value)}>
              {ALGS.map((a) => (
                <option key={a}>{a}</option>
              ))}
            </select>
          )}
        </Field>
      )}
    </>
  );
}

/** A client card's public keys for private_key_jwt and its DPoP setting. */
export function ClientKeysSection({ orgId, client, canEdit, onChanged }: { orgId: string; client: Client; canEdit: boolean; onChanged(c: Client): void }) {
  const [open, setOpen] = useState<'replace' | 'remove'>();
  /** Either dialog saved the client's keys: show the client as it is now, and close. */
  const saved = (c: Client) => {
    onChanged(c);
    setOpen(undefined);
  };
  const dpop = useAction();
  // The state asked for, shown at once while the PATCH runs; the server's answer replaces it.
  const [wanted, setWanted] = useState<boolean>();
  const secretless = client.secret_hint === null;
  const keys = client.jwks.keys;
  const toggleDpop = (require: boolean) => {
    setWanted(require);
    void dpop
      .run(async () => {
        onChanged(await api.patch<Client>(`/organizations/${enc(orgId)}/clients/${enc(client.client_id)}`, { require_dpop: require }));
      })
      .finally(() => setWanted(undefined));
  };
  return (
    <section className="client-keys" aria-label={`Public keys of ${client.name}`}>
      <div className="client-keys-head">
        <span className="label">Public keys</span>
        {canEdit && (
          <span className="client-keys-actions">
            <Button className="btn-small" onClick={() => setOpen('replace')} aria-label={`${keys.length > 0 ? 'Replace' : 'Add'} keys of ${client.name}`}>
              <KeyRound size={14} aria-hidden="true" /> {keys.length > 0 ? 'Replace' : 'Add'}
            </Button>
            {keys.length > 0 && (
              <Button
                className="btn-small"
                tone="danger-outline"
                disabled={secretless}
                title={secretless ? 'This client has no secret: its keys are how it authenticates, so they can be replaced but not removed.' : undefined}
                onClick={() => setOpen('remove')}
                aria-label={`Remove keys of ${client.name}`}
              >
                <Trash2 size={14} aria-hidden="true" /> Remove
              </Button>
            )}
          </span>
        )}
      </div>
      {keys.length === 0 ? (
        <p className="muted">None: it authenticates with its secret.</p>
      ) : (
        <ul className="key-list">
          {keys.map((k) => (
            <li key={k.kid}>
              <code className="key-kid" title="kid (the RFC 7638 thumbprint when the key had none)">
                {k.kid}
              </code>
              <span className="muted">{k.alg ?? k.kty}</span>
            </li>
          ))}
        </ul>
      )}
      {secretless && canEdit && <p className="field-hint">No secret: its keys are how it authenticates, so they can be replaced but not removed.</p>}
      <label className="checkbox-row">
        <input type="checkbox" checked={wanted ?? client.require_dpop} disabled={!canEdit || dpop.busy} onChange={(e) => toggleDpop(e.target.checked)} />
        <span>Require DPoP-bound tokens (RFC 9449)</span>
      </label>
      <ErrorText message={dpop.error} details={dpop.details} />
      {open === 'replace' && <ReplaceKeysDialog orgId={orgId} client={client} onClose={() => setOpen(undefined)} onSaved={saved} />}
      {open === 'remove' && <RemoveKeysDialog orgId={orgId} client={client} onClose={() => setOpen(undefined)} onSaved={saved} />}
    </section>
  );
}

function ReplaceKeysDialog({ orgId, client, onSaved, onClose }: { orgId: string; client: Client; onSaved(c: Client): void; onClose(): void }) {
  const [text, setText] = useState('');
  const [alg, setAlg] = useState('ES256');
  const action = useAction();
  const save = () =>
    action.run(async () => {
      onSaved(await api.put<Client>(`/organizations/${enc(orgId)}/clients/${enc(client.client_id)}/jwks`, await parsePastedKeys(text, alg)));
    });
  return (
    <FormDialog title="Replace public keys" icon={<KeyRound size={18} />} action={action} onSubmit={save} onClose={onClose} size="large">
      <Callout tone="warning">A key not in the new set stops working at once. To rotate without downtime, paste a JWK Set with both the old and the new key, then remove the old one later.</Callout>
      <KeysInput text={text} alg={alg} onText={setText} onAlg={setAlg} />
    </FormDialog>
  );
}

function RemoveKeysDialog({ orgId, client, onSaved, onClose }: { orgId: string; client: Client; onSaved(c: Client): void; onClose(): void }) {
  const action = useAction();
  const save = () =>
    action.run(async () => {
      onSaved(await api.put<Client>(`/organizations/${enc(orgId)}/clients/${enc(client.client_id)}/jwks`, { keys: [] }));
    });
  return (
    <FormDialog title="Remove public keys" tone="danger" action={action} onSubmit={save} onClose={onClose} submitLabel="Remove keys">
      <p>
        <strong>{client.name}</strong> will authenticate with its secret only: a JWT signed with one of these keys no longer gets a token.
      </p>
    </FormDialog>
  );
}
