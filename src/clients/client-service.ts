import type { Actor } from '../audit/actor.js';
import { diff } from '../audit/diff.js';
import { addSeconds, type Clock } from '../clock.js';
import { ConflictError, InvalidInputError, NotFoundError, type InputIssue } from '../errors/domain-errors.js';
import { newClientId, newId } from '../ids.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { Page, PageRequest } from '../store/pagination.js';
import type { Data, Tx } from '../store/repositories/index.js';
import type { Client, ClientJwks, ClientPatch, NewClient, RotateAnswer } from '../wire/management.js';
import { checkClientKeys, thumbprints } from './client-keys.js';
import { generateSecret, secretHint, type SecretHasher } from './secret.js';

/**
 * Organization clients and their secrets: the rules and the transactions. Every method takes
 * the organization id first, and so does every repository call: a client of another
 * organization is simply not found. Each change is one transaction with its audit event and
 * its change (store/change-feed.ts), which every process's caches apply.
 */
export class ClientService {
  constructor(
    private readonly data: Data,
    private readonly feed: ChangeFeed,
    private readonly hasher: SecretHasher,
    private readonly clock: Clock,
  ) {}

  async list(orgId: string, page: PageRequest): Promise<Page<Client>> {
    return this.data.read.clients.list(orgId, page);
  }

  async get(orgId: string, clientId: string): Promise<Client> {
    return found(await this.data.read.clients.find(orgId, clientId));
  }

  /**
   * Creates a client and its first secret; the plain secret is in this answer and nowhere else.
   * With `secret: false` the client has no secret and authenticates with its `jwks` only
   * (private_key_jwt), which must then hold at least one key.
   */
  async create(orgId: string, input: NewClient & { secret?: true }, actor: Actor): Promise<{ client: Client; client_secret: string }>;
  async create(orgId: string, input: NewClient, actor: Actor): Promise<{ client: Client; client_secret?: string }>;
  async create(orgId: string, input: NewClient, actor: Actor): Promise<{ client: Client; client_secret?: string }> {
    const withSecret = input.secret ?? true;
    const jwks = await checkClientKeys(input.jwks?.keys ?? [], ['jwks', 'keys']);
    if (!withSecret && jwks.length === 0) {
      throw new InvalidInputError('A client without a secret (secret: false) needs at least one public key in jwks to authenticate with.', [
        { path: ['secret'], message: 'false needs jwks with at least one key' },
      ]);
    }
    const secret = withSecret ? generateSecret() : undefined;
    const client = await this.data.transaction(async (tx) => {
      if (!(await tx.organizations.find(orgId))) throw new NotFoundError('Organization');
      const roles = await existingRoles(tx, input.roles);
      const clientId = newClientId();
      const now = this.clock.now();
      const refreshTokens = input.refresh_tokens ?? false;
      const requireDpop = input.require_dpop ?? false;
      await tx.clients.insert(orgId, { clientId, name: input.name, refreshTokens, requireDpop, jwks, now });
      await tx.clients.setRoles(orgId, clientId, roles);
      if (secret) await this.insertSecret(tx, orgId, clientId, secret, now);
      await tx.audit.record(orgId, actor, {
        action: 'client.created',
        target: { type: 'client', id: clientId },
        details: { name: input.name, roles, refresh_tokens: refreshTokens, require_dpop: requireDpop, secret: withSecret, key_thumbprints: await thumbprints(jwks) },
      });
      // Caches remember unknown client ids (clients/client-snapshots.ts): the new id must not stay one.
      await this.feed.publish(tx, { kind: 'client', clientId });
      return found(await tx.clients.find(orgId, clientId));
    });
    return secret ? { client, client_secret: secret } : { client };
  }

  async update(orgId: string, clientId: string, patch: ClientPatch, actor: Actor): Promise<Client> {
    return this.change(orgId, clientId, actor, 'client.updated', {}, async (tx) => {
      await tx.clients.update(orgId, clientId, { name: patch.name, refreshTokens: patch.refresh_tokens, requireDpop: patch.require_dpop, updatedAt: this.clock.now() });
    });
  }

  /**
   * Replaces the client's public keys for private_key_jwt; `[]` removes them, except from a
   * client without a secret, which would be left with no way to authenticate (409: rotate a
   * secret first). Assertions signed by a removed key fail at once on every node (the change feed).
   */
  async setKeys(orgId: string, clientId: string, jwks: ClientJwks, actor: Actor): Promise<Client> {
    const keys = await checkClientKeys(jwks.keys, ['keys']);
    return this.change(orgId, clientId, actor, 'client.keys_changed', { key_thumbprints: await thumbprints(keys) }, async (tx, before) => {
      if (keys.length === 0 && before.secret_hint === null) {
        throw new ConflictError('This client has no secret: removing its keys would leave it no way to authenticate. Rotate its secret first to give it one.');
      }
      await tx.clients.update(orgId, clientId, { jwks: keys, updatedAt: this.clock.now() });
    });
  }

  /** Replaces the client's roles; tokens issued from now on carry the new permissions. */
  async setRoles(orgId: string, clientId: string, roleIds: string[], actor: Actor): Promise<Client> {
    return this.change(orgId, clientId, actor, 'client.roles_changed', {}, async (tx) => {
      await tx.clients.setRoles(orgId, clientId, await existingRoles(tx, roleIds));
      await tx.clients.update(orgId, clientId, { updatedAt: this.clock.now() });
    });
  }

  /**
   * Issues a new secret (a client without one gets its first: it may then use either). With `gracePeriodSeconds` 0 the old secret fails at once; otherwise
   * it keeps working until then. A client has at most two secrets: an older previous secret
   * still in its grace period is dropped by a second rotation.
   */
  async rotateSecret(orgId: string, clientId: string, opts: { gracePeriodSeconds: number }, actor: Actor): Promise<RotateAnswer> {
    const secret = generateSecret();
    const now = this.clock.now();
    const previousExpiresAt = opts.gracePeriodSeconds > 0 ? addSeconds(now, opts.gracePeriodSeconds) : null;
    const details = { grace_period_seconds: opts.gracePeriodSeconds, secret_hint: secretHint(secret) };
    await this.change(orgId, clientId, actor, 'client.secret_rotated', details, async (tx) => {
      await tx.clientSecrets.dropPrevious(orgId, clientId);
      if (previousExpiresAt) await tx.clientSecrets.expireCurrent(orgId, clientId, previousExpiresAt);
      else await tx.clientSecrets.deleteAll(orgId, clientId);
      await this.insertSecret(tx, orgId, clientId, secret, now);
      await tx.clients.update(orgId, clientId, { updatedAt: now });
    });
    return { client_secret: secret, secret_hint: secretHint(secret), previous_secret_expires_at: previousExpiresAt };
  }

  /** Deletes the client; its secrets go with it and every process forgets its snapshot. */
  async delete(orgId: string, clientId: string, actor: Actor): Promise<void> {
    await this.data.transaction(async (tx) => {
      const before = found(await tx.clients.find(orgId, clientId));
      await tx.clients.delete(orgId, clientId);
      await tx.audit.record(orgId, actor, { action: 'client.deleted', target: { type: 'client', id: clientId }, details: { name: before.name } });
      await this.feed.publish(tx, { kind: 'client', clientId });
    });
  }

  /** One change to an existing client: lock it (it must be this organization's), apply, audit with a diff and `details`, publish. */
  private async change(orgId: string, clientId: string, actor: Actor, action: string, details: Record<string, unknown>, apply: (tx: Tx, before: Client) => Promise<void>): Promise<Client> {
    return this.data.transaction(async (tx) => {
      if (!(await tx.clients.lock(orgId, clientId))) throw new NotFoundError('Client');
      const before = found(await tx.clients.find(orgId, clientId));
      await apply(tx, before);
      const after = found(await tx.clients.find(orgId, clientId));
      await tx.audit.record(orgId, actor, { action, target: { type: 'client', id: clientId }, details: { ...diff(before, after, ['name', 'refresh_tokens', 'require_dpop', 'roles']), ...details } });
      await this.feed.publish(tx, { kind: 'client', clientId });
      return after;
    });
  }

  private async insertSecret(tx: Tx, orgId: string, clientId: string, secret: string, now: Date): Promise<void> {
    await tx.clientSecrets.insert(orgId, clientId, { id: newId('sec'), hash: this.hasher.hash(secret), hint: secretHint(secret), createdAt: now });
  }
}

function found(client: Client | undefined): Client {
  if (!client) throw new NotFoundError('Client');
  return client;
}

/** The given role ids, deduplicated, after checking each exists; unknown ones are named by their place in the input. */
async function existingRoles(tx: Tx, roleIds: readonly string[]): Promise<string[]> {
  const wanted = [...new Set(roleIds)];
  const existing = await tx.catalog.existingRoleIds(wanted);
  const issues: InputIssue[] = [];
  roleIds.forEach((id, i) => {
    if (!existing.has(id)) issues.push({ path: ['roles', i], message: `no role "${id}"` });
  });
  if (issues.length > 0) throw new InvalidInputError(`Unknown roles: ${[...new Set(roleIds.filter((id) => !existing.has(id)))].join(', ')}.`, issues);
  return wanted;
}
