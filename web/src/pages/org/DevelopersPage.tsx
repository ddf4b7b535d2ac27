import { TerminalSquare } from 'lucide-react';
import type { Client, Role } from '../../api';
import { CopyButton, CopyValue, ErrorText, Loading, PageHeader } from '../../components/ui';
import { useResource } from '../../hooks';
import type { OrgChoice } from '../../session';
import { ClientsTab } from './ApiPage';

/** The part of the RFC 8414 metadata document this page needs. */
interface ServerMetadata {
  issuer: string;
  token_endpoint: string;
}

/** The issuer as the server names it (its ISSUER setting), not the address the browser happens to use. */
function useMetadata() {
  return useResource(async () => {
    const res = await fetch('/.well-known/oauth-authorization-server', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`The server's metadata could not be read (HTTP ${res.status}). Reload the page to try again.`);
    return (await res.json()) as ServerMetadata;
  }, 'metadata');
}

/** The endpoints of both flavours: RFC 8414's `token_endpoint`, and the same endpoint at the path some platforms expect. */
function tokenEndpoints(meta: ServerMetadata) {
  return { oauth: meta.token_endpoint, oauth2: `${meta.issuer.replace(/\/$/, '')}/oauth2/token` };
}

/** The API a client's roles grant permissions on, for the `audience` of the examples (the first, when several). */
function audienceOf(client: Client, roles: readonly Role[]): string | undefined {
  const held = new Set(client.roles.map((r) => r.id));
  return roles.filter((r) => held.has(r.id)).flatMap((r) => r.permissions.map((p) => p.api))[0];
}

const SECRET_PLACEHOLDER = '<client secret>';

/**
 * A client credentials request (RFC 6749 §4.4) each way an application may send it: the
 * credentials in the body (client_secret_post) to /oauth/token, or in a Basic header
 * (client_secret_basic, RFC 6749 §2.3.1) to /oauth2/token. The secret stays a placeholder:
 * it is shown only once, when created or rotated.
 */
function curlExamples(endpoints: { oauth: string; oauth2: string }, clientId: string, audience: string) {
  return {
    oauth: [
      `curl --request POST --url '${endpoints.oauth}' \\`,
      `  --header 'content-type: application/x-www-form-urlencoded' \\`,
      `  --data grant_type=client_credentials \\`,
      `  --data-urlencode 'client_id=${clientId}' \\`,
      `  --data-urlencode 'client_secret=${SECRET_PLACEHOLDER}' \\`,
      `  --data-urlencode 'audience=${audience}'`,
    ].join('\n'),
    oauth2: [
      `curl --request POST --url '${endpoints.oauth2}' \\`,
      `  --user '${clientId}:${SECRET_PLACEHOLDER}' \\`,
      `  --data grant_type=client_credentials \\`,
      `  --data-urlencode 'audience=${audience}'`,
    ].join('\n'),
  };
}

function Example({ title, code, what }: { title: string; code: string; what: string }) {
  return (
    <div className="code-example">
      <div className="code-example-head">
        <span>{title}</span>
        <CopyButton value={code} what={what} />
      </div>
      <pre>
        <code>{code}</code>
      </pre>
    </div>
  );
}

function ClientExamples({ client, roles, meta }: { client: Client; roles: readonly Role[]; meta: ServerMetadata | undefined }) {
  if (!meta) return null;
  const examples = curlExamples(tokenEndpoints(meta), client.client_id, audienceOf(client, roles) ?? '<API identifier>');
  return (
    <details className="client-examples">
      <summary>
        <TerminalSquare size={15} aria-hidden="true" /> Get a token with curl
      </summary>
      <Example title="/oauth/token, credentials in the body" code={examples.oauth} what={`curl example for /oauth/token of ${client.name}`} />
      <Example title="/oauth2/token, credentials in a Basic header" code={examples.oauth2} what={`curl example for /oauth2/token of ${client.name}`} />
      <p className="field-hint">Replace {SECRET_PLACEHOLDER} with the client's secret: it is shown only when the client is created or its secret rotated.</p>
    </details>
  );
}

/** Settings → Developers → OAuth2: the current organization's client IDs and secrets, and where and how to get a token. */
export function DevelopersPage({ org }: { org: OrgChoice }) {
  const meta = useMetadata();
  const endpoints = meta.data && tokenEndpoints(meta.data);
  return (
    <>
      <PageHeader title="OAuth2" description={`The client IDs and secrets of ${org.name}, and the token endpoint your applications send them to.`} />
      <section className="card endpoints" aria-labelledby="endpoints-heading">
        <h2 id="endpoints-heading">Token endpoint</h2>
        <p className="muted">Both addresses are the same endpoint (OAuth 2.0 client credentials grant); use the one your platform expects.</p>
        {meta.loading && !meta.data && <Loading what="the endpoints" />}
        <ErrorText message={meta.error} />
        {endpoints && (
          <dl className="facts endpoint-facts">
            <dt>OAuth</dt>
            <dd>
              <CopyValue value={endpoints.oauth} what="/oauth/token URL" />
            </dd>
            <dt>OAuth2</dt>
            <dd>
              <CopyValue value={endpoints.oauth2} what="/oauth2/token URL" />
            </dd>
          </dl>
        )}
      </section>
      <ClientsTab org={org} cardExtra={(client, roles) => <ClientExamples client={client} roles={roles} meta={meta.data} />} />
    </>
  );
}
