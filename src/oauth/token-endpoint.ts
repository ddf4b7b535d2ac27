import { InvalidDpopProofError, InvalidRequestError, UnsupportedGrantTypeError } from '../errors/oauth-error.js';
import type { ClientAuthenticator } from './client-authenticator.js';
import type { DpopVerifier } from './dpop.js';
import type { PresentedCredentials } from './client-credentials-parser.js';
import type { GrantHandler, TokenParams, TokenResponse } from './grants/grant.js';

export interface TokenRequest {
  /** Parsed by the caller (oauth/client-credentials-parser.ts); undefined when none were sent. */
  credentials: PresentedCredentials | undefined;
  body: TokenParams;
  ip: string;
  /** The `DPoP` header (RFC 9449 §4.1), undefined when absent; the caller refuses it sent twice. */
  dpop: string | undefined;
  /** This endpoint's URL (ISSUER + path), which a proof's `htu` must name. */
  url: string;
}

/**
 * `POST /oauth/token` without HTTP: find the grant type, authenticate the client,
 * and hand over to the grant (RFC 6749 §3.2). Grants are registered by type, so a
 * new one (refresh_token) is one more entry, not one more branch.
 */
export class TokenEndpoint {
  constructor(
    private readonly authenticator: ClientAuthenticator,
    private readonly grants: ReadonlyMap<string, GrantHandler>,
    private readonly dpop: DpopVerifier,
  ) {}

  /** With DPOP_NONCE: the nonce to hand out in the `DPoP-Nonce` header of token answers (RFC 9449 §8.1). */
  currentDpopNonce(): string | undefined {
    return this.dpop.nonces?.current();
  }

  get grantTypes(): string[] {
    return [...this.grants.keys()];
  }

  async handle(req: TokenRequest): Promise<TokenResponse> {
    const grantType = req.body.grant_type;
    if (grantType === undefined || grantType === '') throw new InvalidRequestError('grant_type is required.');
    const grant = this.grants.get(grantType);
    if (!grant) throw new UnsupportedGrantTypeError(grantType);
    const client = await this.authenticator.authenticate(req.credentials, req.ip);
    const jkt = req.dpop === undefined ? undefined : await this.dpop.verify(req.dpop, 'POST', req.url);
    if (jkt === undefined && client.client.requireDpop) {
      throw new InvalidDpopProofError('This client must send a DPoP proof (require_dpop).');
    }
    return grant(client, req.body, jkt);
  }
}
