import type { CatalogSnapshot } from '../catalog/catalog.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import type { AuthenticatedClient } from './client-authenticator.js';

/**
 * Token revocation (RFC 7009). A refresh token's whole family is revoked; an access
 * token is remembered by `jti` until it expires, and introspection and the management
 * API honour that. Only the owning client may revoke, or a client of the same
 * organization holding `clients:write` on the management API. Anything else —
 * unknown tokens, other clients' tokens — is ignored, and the answer is 200 either way
 * (§2.2), so the endpoint tells nobody which tokens exist.
 */
export class Revocation {
  constructor(
    private readonly verifier: AccessTokenVerifier,
    private readonly refreshTokens: RefreshTokenService,
    private readonly catalog: () => CatalogSnapshot,
    private readonly managementAudience: string,
  ) {}

  /**
   * `token_type_hint` is only an optimisation (RFC 7009 §2.1) and our two kinds are told apart
   * by their form (refresh tokens are `pcr_…`, access tokens JWTs), so it is not needed.
   */
  async revoke(caller: AuthenticatedClient, token: string): Promise<void> {
    const owner = await this.refreshTokens.ownerOf(token);
    if (owner) {
      if (await this.mayRevoke(caller, owner.clientId, undefined)) await this.refreshTokens.revokeFamily(owner.familyId);
      return;
    }
    const claims = await this.verifier.verify(token);
    if (claims && (await this.mayRevoke(caller, claims.client_id, claims.org_id))) await this.verifier.revoke(claims);
  }

  private async mayRevoke(caller: AuthenticatedClient, ownerClientId: string, ownerOrgId: string | undefined): Promise<boolean> {
    if (caller.client.clientId === ownerClientId) return true;
    const catalog = this.catalog();
    const management = catalog.apiByIdentifier(this.managementAudience);
    const canManage = management ? catalog.permissionsOn(management, caller.client.roles).includes('clients:write') : false;
    if (!canManage) return false;
    // Refresh tokens name no organization: the owner's client tells it.
    return ownerOrgId === undefined ? (await this.refreshTokens.orgOfClient(ownerClientId)) === caller.client.orgId : ownerOrgId === caller.client.orgId;
  }
}
