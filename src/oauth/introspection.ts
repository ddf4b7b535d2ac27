import type { CatalogSnapshot } from '../catalog/catalog.js';
import type { ClientSnapshotCache } from '../clients/client-snapshots.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import type { AuthenticatedClient } from './client-authenticator.js';

export type IntrospectionAnswer = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: IntrospectionAnswer = { active: false };

/**
 * Token introspection (RFC 7662) for resource servers that must see revocations at once.
 * A token is active only if it is ours, unexpired, unrevoked, issued to a client that
 * still exists, and of the caller's organization; anything else, including a token of
 * another organization, is simply `{"active": false}` (§2.2), never an error.
 */
export class Introspection {
  constructor(
    private readonly issuer: string,
    private readonly verifier: AccessTokenVerifier,
    private readonly refreshTokens: RefreshTokenService,
    private readonly clients: ClientSnapshotCache,
    private readonly catalog: () => CatalogSnapshot,
  ) {}

  /** `token_type_hint` is not needed (RFC 7662 §2.1 makes it optional): refresh tokens are `pcr_…`, access tokens JWTs. */
  async introspect(caller: AuthenticatedClient, token: string): Promise<IntrospectionAnswer> {
    const answer = (await this.asRefreshToken(caller, token)) ?? (await this.asAccessToken(caller, token)) ?? INACTIVE;
    if (answer.active) this.answers.active++;
    else this.answers.inactive++;
    return answer;
  }

  /** Answers so far, by `active` (the metrics). */
  readonly answers = { active: 0, inactive: 0 };

  /** Undefined when `token` is not a live access token of ours; INACTIVE when it is ours but not for this caller. */
  private async asAccessToken(caller: AuthenticatedClient, token: string): Promise<IntrospectionAnswer | undefined> {
    const claims = await this.verifier.verify(token);
    if (!claims) return undefined;
    if (claims.org_id !== caller.client.orgId) return INACTIVE;
    const owner = await this.clients.get(claims.client_id);
    if (!owner || owner.orgId !== claims.org_id) return INACTIVE;
    if (await this.verifier.isRevoked(claims.jti)) return INACTIVE;
    return {
      active: true,
      token_type: claims.cnf ? 'DPoP' : 'Bearer',
      ...(claims.cnf ? { cnf: { jkt: claims.cnf.jkt } } : {}),
      client_id: claims.client_id,
      org_id: claims.org_id,
      scope: claims.scope,
      roles: claims.roles,
      aud: claims.aud,
      iss: claims.iss,
      sub: claims.sub,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
    };
  }

  private async asRefreshToken(caller: AuthenticatedClient, token: string): Promise<IntrospectionAnswer | undefined> {
    const facts = await this.refreshTokens.find(token);
    if (!facts) return undefined;
    if (facts.orgId !== caller.client.orgId) return INACTIVE;
    const owner = await this.clients.get(facts.clientId);
    if (!owner) return INACTIVE;
    const catalog = this.catalog();
    const api = catalog.apiByIdentifier(facts.audience);
    const held = api ? catalog.permissionsOn(api, owner.roles) : [];
    return {
      active: true,
      token_type: 'refresh_token',
      client_id: facts.clientId,
      org_id: facts.orgId,
      scope: (facts.scope ? held.filter((p) => facts.scope?.includes(p)) : held).join(' '),
      aud: facts.audience,
      iss: this.issuer,
      sub: facts.clientId,
      exp: Math.floor(facts.expiresAt.getTime() / 1000),
      iat: Math.floor(facts.createdAt.getTime() / 1000),
      jti: facts.id,
      // RFC 9449 §6.2: the key the family is bound to.
      ...(facts.jkt ? { cnf: { jkt: facts.jkt } } : {}),
    };
  }
}
