import { Type } from '@sinclair/typebox';
import type { CatalogService } from '../../catalog/catalog-service.js';
import type { PolicyCache } from '../../usage/policy-cache.js';
import { Api, ApiPatch, errors, IdParam, NewApi, NewRole, NoContent, PageOf, Role, RoleId, RolePatch } from '../../wire/management.js';
import { actorOf } from './access.js';
import type { TypedApp } from './index.js';

const ApiParams = Type.Object({ api: IdParam });
const RoleParams = Type.Object({ role: RoleId });
const OrgParams = Type.Object({ org: IdParam });
const readers = { access: { signedIn: true, permission: 'roles:read' } } as const;
const platformAdmin = { access: { platformAdmin: true } } as const;

/** The catalog: APIs and roles. Platform administrators change it; every user (and a token with roles:read) reads it. */
export async function catalogRoutes(app: TypedApp, { catalog, policies }: { catalog: CatalogService; policies: PolicyCache }): Promise<void> {
  // The catalog is small (tens of entries): one page holds it all.
  app.get(
    '/apis',
    { config: readers, schema: { operationId: 'listApis', summary: 'The registered APIs (resource servers)', tags: ['catalog'], response: { 200: PageOf(Api), ...errors(401, 403) } } },
    async () => ({ data: await catalog.listApis(), next_cursor: null }),
  );

  app.post(
    '/apis',
    {
      config: platformAdmin,
      schema: { operationId: 'createApi', summary: 'Register an API with its permissions', tags: ['catalog'], body: NewApi, response: { 201: Api, ...errors(400, 401, 403, 409) } },
    },
    async (request, reply) => reply.code(201).send(await catalog.createApi(request.body, actorOf(request))),
  );

  app.get(
    '/apis/:api',
    { config: readers, schema: { operationId: 'getApi', summary: 'One API', tags: ['catalog'], params: ApiParams, response: { 200: Api, ...errors(401, 403, 404) } } },
    async (request) => catalog.getApi(request.params.api),
  );

  app.patch(
    '/apis/:api',
    {
      config: platformAdmin,
      schema: {
        operationId: 'updateApi',
        summary: "Change an API's name, token lifetime or permissions",
        tags: ['catalog'],
        params: ApiParams,
        body: ApiPatch,
        response: { 200: Api, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => catalog.updateApi(request.params.api, request.body, actorOf(request)),
  );

  app.delete(
    '/apis/:api',
    {
      config: platformAdmin,
      schema: {
        operationId: 'deleteApi',
        summary: 'Delete an API; roles lose their permissions on it',
        tags: ['catalog'],
        params: ApiParams,
        response: { 204: NoContent, ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await catalog.deleteApi(request.params.api, actorOf(request));
      return reply.code(204).send();
    },
  );

  app.get('/roles', { config: readers, schema: { operationId: 'listRoles', summary: 'Every role', tags: ['catalog'], response: { 200: PageOf(Role), ...errors(401, 403) } } }, async () => ({
    data: await catalog.listRoles(),
    next_cursor: null,
  }));

  app.post(
    '/roles',
    {
      config: platformAdmin,
      schema: { operationId: 'createRole', summary: 'Create a role: permissions across APIs', tags: ['catalog'], body: NewRole, response: { 201: Role, ...errors(400, 401, 403, 409) } },
    },
    async (request, reply) => reply.code(201).send(await catalog.createRole(request.body, actorOf(request))),
  );

  app.get(
    '/roles/:role',
    { config: readers, schema: { operationId: 'getRole', summary: 'One role', tags: ['catalog'], params: RoleParams, response: { 200: Role, ...errors(401, 403, 404) } } },
    async (request) => catalog.getRole(request.params.role),
  );

  app.patch(
    '/roles/:role',
    {
      config: platformAdmin,
      schema: {
        operationId: 'updateRole',
        summary: "Change a role's name, description or permissions",
        tags: ['catalog'],
        params: RoleParams,
        body: RolePatch,
        response: { 200: Role, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => catalog.updateRole(request.params.role, request.body, actorOf(request)),
  );

  app.delete(
    '/roles/:role',
    {
      config: platformAdmin,
      schema: {
        operationId: 'deleteRole',
        summary: 'Delete a role; clients holding it lose its permissions',
        tags: ['catalog'],
        params: RoleParams,
        response: { 204: NoContent, ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await catalog.deleteRole(request.params.role, actorOf(request));
      return reply.code(204).send();
    },
  );

  app.get(
    '/organizations/:org/roles',
    {
      config: { access: { org: 'member', permission: 'roles:read' } },
      schema: {
        operationId: 'listAssignableRoles',
        summary: 'The roles this organization may assign',
        tags: ['catalog'],
        params: OrgParams,
        response: { 200: PageOf(Role), ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const assignable = policies.of(request.params.org).assignable_roles;
      const roles = await catalog.listRoles();
      return { data: assignable === null ? roles : roles.filter((r) => assignable.includes(r.id)), next_cursor: null };
    },
  );
}
