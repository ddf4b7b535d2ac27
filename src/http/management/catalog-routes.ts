import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import type { TypedApp } from './index.js';
import { actorOf, requireOrg, requirePlatformAdmin, requireUserOr } from './principal.js';
import { Api, ApiPatch, errors, IdParam, NewApi, NewRole, PageOf, Role, RoleId, RolePatch, NoContent } from './schemas.js';

const ApiParams = Type.Object({ api: IdParam });
const RoleParams = Type.Object({ role: RoleId });
const OrgParams = Type.Object({ org: IdParam });

/** The catalog: APIs and roles. Platform administrators change it; every user (and a token with roles:read) reads it. */
export async function catalogRoutes(app: TypedApp, runtime: Runtime): Promise<void> {
  const catalog = runtime.catalogService;

  // The catalog is small (tens of entries): one page holds it all.
  app.get('/apis', { schema: { tags: ['catalog'], response: { 200: PageOf(Api), ...errors(401, 403) } } }, async (request) => {
    requireUserOr(request.principal, 'roles:read');
    return { data: await catalog.listApis(), next_cursor: null };
  });

  app.post('/apis', { schema: { tags: ['catalog'], body: NewApi, response: { 201: Api, ...errors(400, 401, 403, 409) } } }, async (request, reply) => {
    requirePlatformAdmin(request.principal);
    return reply.code(201).send(await catalog.createApi(request.body, actorOf(request.principal, request)));
  });

  app.get('/apis/:api', { schema: { tags: ['catalog'], params: ApiParams, response: { 200: Api, ...errors(401, 403, 404) } } }, async (request) => {
    requireUserOr(request.principal, 'roles:read');
    return catalog.getApi(request.params.api);
  });

  app.patch('/apis/:api', { schema: { tags: ['catalog'], params: ApiParams, body: ApiPatch, response: { 200: Api, ...errors(400, 401, 403, 404, 409) } } }, async (request) => {
    requirePlatformAdmin(request.principal);
    return catalog.updateApi(request.params.api, request.body, actorOf(request.principal, request));
  });

  app.delete('/apis/:api', { schema: { tags: ['catalog'], params: ApiParams, response: { 204: NoContent, ...errors(401, 403, 404, 409) } } }, async (request, reply) => {
    requirePlatformAdmin(request.principal);
    await catalog.deleteApi(request.params.api, actorOf(request.principal, request));
    return reply.code(204).send();
  });

  app.get('/roles', { schema: { tags: ['catalog'], response: { 200: PageOf(Role), ...errors(401, 403) } } }, async (request) => {
    requireUserOr(request.principal, 'roles:read');
    return { data: await catalog.listRoles(), next_cursor: null };
  });

  app.post('/roles', { schema: { tags: ['catalog'], body: NewRole, response: { 201: Role, ...errors(400, 401, 403, 409) } } }, async (request, reply) => {
    requirePlatformAdmin(request.principal);
    return reply.code(201).send(await catalog.createRole(request.body, actorOf(request.principal, request)));
  });

  app.get('/roles/:role', { schema: { tags: ['catalog'], params: RoleParams, response: { 200: Role, ...errors(401, 403, 404) } } }, async (request) => {
    requireUserOr(request.principal, 'roles:read');
    return catalog.getRole(request.params.role);
  });

  app.patch('/roles/:role', { schema: { tags: ['catalog'], params: RoleParams, body: RolePatch, response: { 200: Role, ...errors(400, 401, 403, 404) } } }, async (request) => {
    requirePlatformAdmin(request.principal);
    return catalog.updateRole(request.params.role, request.body, actorOf(request.principal, request));
  });

  app.delete('/roles/:role', { schema: { tags: ['catalog'], params: RoleParams, response: { 204: NoContent, ...errors(401, 403, 404) } } }, async (request, reply) => {
    requirePlatformAdmin(request.principal);
    await catalog.deleteRole(request.params.role, actorOf(request.principal, request));
    return reply.code(204).send();
  });

  app.get(
    '/organizations/:org/roles',
    { schema: { summary: 'The roles this organization may assign', tags: ['catalog'], params: OrgParams, response: { 200: PageOf(Role), ...errors(401, 403, 404) } } },
    async (request) => {
      await requireOrg(runtime, request.principal, request.params.org, 'member', 'roles:read');
      return { data: await catalog.listRoles(), next_cursor: null };
    },
  );
}
