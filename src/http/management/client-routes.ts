import { Type } from '@sinclair/typebox';
import type { ClientService } from '../../clients/client-service.js';
import { Client, ClientJwks, ClientPatch, ClientRoles, ClientWithSecret, errors, IdParam, NewClient, NoContent, PageOf, PageQuery, RotateAnswer, RotateBody } from '../../wire/management.js';
import { actorOf } from './access.js';
import type { TypedApp } from './index.js';

const OrgParams = Type.Object({ org: IdParam });
const ClientParams = Type.Object({ org: IdParam, client_id: IdParam });

/**
 * An organization's clients. Members (and tokens with clients:read) read; admins (and
 * tokens with clients:write) change. The secret is in the create and rotate answers only.
 */
export async function clientRoutes(app: TypedApp, { clients }: { clients: ClientService }): Promise<void> {
  const readers = { access: { org: 'member', permission: 'clients:read' } } as const;
  const writers = { access: { org: 'admin', permission: 'clients:write' } } as const;

  app.get(
    '/organizations/:org/clients',
    {
      config: readers,
      schema: {
        operationId: 'listClients',
        summary: "The organization's clients",
        tags: ['clients'],
        params: OrgParams,
        querystring: PageQuery,
        response: { 200: PageOf(Client), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      return clients.list(request.params.org, { limit: request.query.limit ?? 50, cursor: request.query.cursor });
    },
  );

  app.post(
    '/organizations/:org/clients',
    {
      config: writers,
      schema: {
        operationId: 'createClient',
        summary: 'Create a client; its secret is in this answer and never again',
        tags: ['clients'],
        params: OrgParams,
        body: NewClient,
        response: { 201: ClientWithSecret, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { client, ...secret } = await clients.create(request.params.org, request.body, actorOf(request));
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...client, ...secret });
    },
  );

  app.get(
    '/organizations/:org/clients/:client_id',
    { config: readers, schema: { operationId: 'getClient', summary: 'One client (never its secret)', tags: ['clients'], params: ClientParams, response: { 200: Client, ...errors(401, 403, 404) } } },
    async (request) => {
      return clients.get(request.params.org, request.params.client_id);
    },
  );

  app.patch(
    '/organizations/:org/clients/:client_id',
    {
      config: writers,
      schema: {
        operationId: 'updateClient',
        summary: 'Rename a client or change its settings',
        tags: ['clients'],
        params: ClientParams,
        body: ClientPatch,
        response: { 200: Client, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      return clients.update(request.params.org, request.params.client_id, request.body, actorOf(request));
    },
  );

  app.put(
    '/organizations/:org/clients/:client_id/roles',
    {
      config: writers,
      schema: {
        operationId: 'setClientRoles',
        summary: "Replace the client's roles",
        tags: ['clients'],
        params: ClientParams,
        body: ClientRoles,
        response: { 200: Client, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      return clients.setRoles(request.params.org, request.params.client_id, request.body.roles, actorOf(request));
    },
  );

  app.put(
    '/organizations/:org/clients/:client_id/jwks',
    {
      config: writers,
      schema: {
        operationId: 'putClientKeys',
        summary: "Replace the client's public keys for private_key_jwt; {keys: []} removes them",
        tags: ['clients'],
        params: ClientParams,
        body: ClientJwks,
        response: { 200: Client, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      return clients.setKeys(request.params.org, request.params.client_id, request.body, actorOf(request));
    },
  );

  app.post(
    '/organizations/:org/clients/:client_id/secret/rotate',
    {
      config: writers,
      schema: {
        operationId: 'rotateClientSecret',
        summary: 'Issue a new secret; the old one fails at once or after grace_period_seconds',
        tags: ['clients'],
        params: ClientParams,
        body: Type.Optional(RotateBody),
        response: { 200: RotateAnswer, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const rotated = await clients.rotateSecret(
        request.params.org,
        request.params.client_id,
        { gracePeriodSeconds: request.body?.grace_period_seconds ?? 0, retireWhenUnusedSeconds: request.body?.retire_when_unused_seconds },
        actorOf(request),
      );
      return reply.header('cache-control', 'no-store').send(rotated);
    },
  );

  app.delete(
    '/organizations/:org/clients/:client_id',
    {
      config: writers,
      schema: {
        operationId: 'deleteClient',
        summary: 'Delete a client: every application using it loses access at once',
        tags: ['clients'],
        params: ClientParams,
        response: { 204: NoContent, ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await clients.delete(request.params.org, request.params.client_id, actorOf(request));
      return reply.code(204).send();
    },
  );
}
