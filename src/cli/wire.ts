import type { Json } from '../wire/json.js';
import type * as wire from '../wire/management.js';

/** The management API's objects as the CLI reads them: the server's wire types after JSON. */
export type Organization = Json<wire.Organization>;
export type Api = Json<wire.Api>;
export type Role = Json<wire.Role>;
export type Client = Json<wire.Client>;
export type RotatedSecret = Json<wire.RotateAnswer>;
export type Member = Json<wire.Member>;
export type MemberRole = wire.MemberRole;
export type User = Json<wire.User>;
export type AuditEvent = Json<wire.AuditEvent>;

/** For repeatable options: `--role a --role b`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
export type Usage = Json<wire.Usage>;
export type Policy = Json<wire.PolicyAnswer>;
