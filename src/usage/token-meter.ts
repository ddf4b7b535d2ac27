import type { CatalogSnapshot } from '../catalog/catalog.js';
import type { ClientSnapshot, ClientSnapshotCache } from '../clients/client-snapshots.js';
import { oauthErrorOf } from '../oauth/oauth-answer.js';
import type { QuotaWindow } from './quota-store.js';
import type { Quotas } from './quotas.js';
import type { UsageCounter } from './usage-counter.js';

const NONE: readonly QuotaWindow[] = Object.freeze([]);

/**
 * What the token endpoint tells usage and quotas, at three points: a client authenticated
 * (`admit`: its quota, which may refuse), a token signed (`issued`, from the issuer), a request
 * refused (`refused`). A refusal counts for a client when it can be attributed to one: the
 * authenticated client, or the client a request named when that client exists (a wrong secret
 * for a known client counts for it). Refusals of made-up client ids belong to no organization.
 */
export class TokenMeter {
  constructor(
    private readonly counter: UsageCounter,
    private readonly quotas: Quotas,
    private readonly snapshots: ClientSnapshotCache,
    private readonly catalog: () => CatalogSnapshot,
  ) {}

  admit(client: ClientSnapshot): readonly QuotaWindow[] | Promise<readonly QuotaWindow[]> {
    return this.quotas.admit(client);
  }

  issued(client: ClientSnapshot, audience: string, ttlSeconds: number): void {
    this.counter.issued(client.orgId, client.clientId, audience, ttlSeconds);
  }

  async refused(
    err: unknown,
    client: ClientSnapshot | undefined,
    namedClientId: string | undefined,
    params: { audience?: string | undefined; resource?: string | undefined },
    admitted = NONE,
  ): Promise<void> {
    if (admitted.length > 0) await this.quotas.giveBack(admitted);
    const who = client ?? (namedClientId === undefined ? undefined : this.snapshots.peek(namedClientId));
    if (!who) return;
    const named = params.audience ?? params.resource;
    const api = named !== undefined && this.catalog().apiByIdentifier(named) ? named : '';
    this.counter.failed(who.orgId, who.clientId, api, oauthErrorOf(err)?.error ?? 'server_error');
  }
}
