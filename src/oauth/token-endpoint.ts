import type { Tracer } from '@opentelemetry/api';
import { InvalidDpopProofError, InvalidRequestError, UnsupportedGrantTypeError } from '../errors/oauth-error.js';
import { inSpan } from '../telemetry/tracing.js';
import type { TokenMeter } from '../usage/token-meter.js';
import type { AuthenticatedClient, ClientAuthenticator } from './client-authenticator.js';
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
    /** Usage and quotas (src/usage/): the quota check, and the count of refusals. */
    private readonly meter: TokenMeter,
    /** Set when tracing is on: authentication and the grant become spans of the request's trace. */
    private readonly tracer?: Tracer,
  ) {}

  /** With DPOP_NONCE: the nonce to hand out in the `DPoP-Nonce` header of token answers (RFC 9449 §8.1). */
  currentDpopNonce(): string | undefined {
    return this.dpop.nonces?.current();
  }

  get grantTypes(): string[] {
    return [...this.grants.keys()];
  }

  async handle(req: TokenRequest): Promise<TokenResponse> {
    let client: AuthenticatedClient | undefined;
    let admitted: Awaited<ReturnType<TokenMeter['admit']>> | undefined;
    try {
      const grantType = req.body.grant_type;
      if (grantType === undefined || grantType === '') throw new InvalidRequestError('grant_type is required.');
      const grant = this.grants.get(grantType);
      if (!grant) throw new UnsupportedGrantTypeError(grantType);
      const tracer = this.tracer;
      if (!tracer) {
        client = await this.authenticator.authenticate(req.credentials, req.ip);
      } else {
        // The client_id only once authenticated: before, it is whatever the caller wrote.
        client = await inSpan(tracer, 'oauth.authenticate', { 'oauth.grant_type': grantType, 'oauth.client_auth_method': req.credentials?.method ?? 'none' }, () =>
          this.authenticator.authenticate(req.credentials, req.ip),
        );
      }
      const jkt = req.dpop === undefined ? undefined : await this.dpop.verify(req.dpop, 'POST', req.url);
      if (jkt === undefined && client.client.requireDpop) {
        throw new InvalidDpopProofError('This client must send a DPoP proof (require_dpop).');
      }
      // No promise unless a quota store is remote: the token path stays one await shorter.
      const admitting = this.meter.admit(client.client);
      admitted = admitting instanceof Promise ? await admitting : admitting;
      const authenticated = client;
      return await (tracer
        ? inSpan(tracer, 'oauth.grant', { 'oauth.grant_type': grantType, 'oauth.client_id': authenticated.client.clientId }, () => grant(authenticated, req.body, jkt))
        : grant(authenticated, req.body, jkt));
    } catch (err) {
      await this.meter.refused(err, client?.client, req.credentials?.clientId, req.body, admitted);
      throw err;
    }
  }
}
