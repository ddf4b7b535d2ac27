import type { Executor } from '../executor.js';
import { ofOrg } from './clients.js';

/**
 * A client's secrets: hashes and hints, never a secret. A client has a current secret
 * (`expires_at` null) and, during a rotation's grace period, the previous one. Writes are
 * scoped through the client's organization (index client_secrets_client_idx).
 */
export class ClientSecretRepository {
  constructor(private readonly db: Executor) {}

  async insert(orgId: string, clientId: string, secret: { id: string; hash: Buffer; hint: string; createdAt: Date }): Promise<void> {
    // Inserted from the client's row, so a client of another organization gets no secret.
    await this.db
      .insertInto('client_secrets')
      .columns(['client_id', 'id', 'hash', 'hint', 'created_at'])
      .expression(
        ofOrg(this.db, orgId, clientId).select((eb) => [eb.val(secret.id).as('id'), eb.val(secret.hash).as('hash'), eb.val(secret.hint).as('hint'), eb.val(secret.createdAt).as('created_at')]),
      )
      .execute();
  }

  /** Drops the previous secret, if one is still in its grace period. */
  async dropPrevious(orgId: string, clientId: string): Promise<void> {
    await this.db
      .deleteFrom('client_secrets')
      .where('client_id', 'in', ofOrg(this.db, orgId, clientId))
      .where('expires_at', 'is not', null)
      .execute();
  }

  /** Gives the current secret an end: it becomes the previous one. */
  async expireCurrent(orgId: string, clientId: string, at: Date, retireWhenUnusedSeconds: number | null = null): Promise<void> {
    await this.db
      .updateTable('client_secrets')
      .set({ expires_at: at, retire_when_unused_seconds: retireWhenUnusedSeconds })
      .where('client_id', 'in', ofOrg(this.db, orgId, clientId))
      .where('expires_at', 'is', null)
      .execute();
  }

  async deleteAll(orgId: string, clientId: string): Promise<void> {
    await this.db
      .deleteFrom('client_secrets')
      .where('client_id', 'in', ofOrg(this.db, orgId, clientId))
      .execute();
  }
}
