import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { SLUG_PATTERN } from '../catalog/slug.js';
import { MANAGEMENT_ERROR_CODES, type ManagementErrorCode } from '../errors/api-error.js';
import { NAME_PATTERN, STORABLE_PATTERN } from './text.js';

/**
 * The management API's wire types (docs/http-api.md §3): the one definition that validates
 * requests, shapes answers, makes the OpenAPI document and types the server, the CLI and the
 * web app. The server's types (`Static<>`) carry Dates; a client reads the JSON, where they are
 * strings: `Json<Client>` (./json.ts).
 */

/** A Date in the server, serialized as an ISO 8601 string by fast-json-stringify. */
const DateTime = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
/** Text the database stores (./text.ts): no NUL, no lone surrogate. */
const Storable = (limits: { minLength?: number; maxLength: number }) => Type.String({ ...limits, pattern: STORABLE_PATTERN });
/** A name people read: no control or bidirectional-override characters, stored in NFC. */
const NameText = (limits: { minLength?: number; maxLength: number }) => Type.String({ ...limits, pattern: NAME_PATTERN, 'x-nfc': true });
const Name = NameText({ minLength: 1, maxLength: 200 });
const OptionalName = NameText({ maxLength: 200 });
const Description = (maxLength: number) => Storable({ maxLength });
const Email = Type.String({ format: 'email', maxLength: 320 });
const Password = Type.String({ minLength: 12, maxLength: 1024 });
const Identifier = Storable({ minLength: 1, maxLength: 2048 });
const PermissionValue = Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' });
export const RoleId = Type.String({ pattern: SLUG_PATTERN, maxLength: 64 });
export const IdParam = Storable({ minLength: 1, maxLength: 128 });

/** One of the codes of src/errors/api-error.ts, so the OpenAPI document lists every code the server sends. */
export const ErrorBody = Type.Object({
  error: Type.Union((Object.keys(MANAGEMENT_ERROR_CODES) as ManagementErrorCode[]).map((code) => Type.Literal(code))),
  message: Type.String(),
  details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
});

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
);

export const PageOf = <T extends TSchema>(item: T) => Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });
/** A list answer (docs/http-api.md §3.4): `Static<ReturnType<typeof PageOf<…>>>` for any item. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export const Organization = Type.Object({ id: Type.String(), name: Type.String(), created_at: DateTime, updated_at: DateTime });
export const OrganizationInput = Type.Object({ name: Name }, { additionalProperties: false });

export const User = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  platform_admin: Type.Boolean(),
  has_password: Type.Boolean(),
  /** False while nothing shows that the owner of the address chose the password: it was set through a link an administrator received. */
  email_verified: Type.Boolean(),
  created_at: DateTime,
  updated_at: DateTime,
});
/**
 * How a one-time link reached its user: without SMTP_URL the answer carries it (`invite_url`) for
 * the administrator to pass on; with SMTP_URL it was mailed to the address (`invite_sent: true`)
 * and is never in an answer.
 */
const LinkDelivery = Type.Object({ invite_url: Type.Optional(Type.String()), invite_sent: Type.Optional(Type.Literal(true)) });
export const UserWithInvite = Type.Intersect([User, LinkDelivery]);
export const NewUser = Type.Object(
  { email: Email, name: Type.Optional(OptionalName), password: Type.Optional(Password), platform_admin: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export const UserPatch = Type.Object(
  { email: Type.Optional(Email), name: Type.Optional(OptionalName), password: Type.Optional(Password), platform_admin: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);

export const Me = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  platform_admin: Type.Boolean(),
  organizations: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), role: Type.Union([Type.Literal('admin'), Type.Literal('member')]) })),
});
export const SessionBody = Type.Object({ email: Storable({ minLength: 1, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
export const SessionAnswer = Type.Object({ user: Me, csrf_token: Type.String() });

export const MemberRole = Type.Union([Type.Literal('admin'), Type.Literal('member')]);
/** `invited`: the account's owner has not accepted the invitation yet, and the membership grants nothing. */
export const MemberStatus = Type.Union([Type.Literal('active'), Type.Literal('invited')]);
export const Member = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  /** Empty while the member is invited: adding an email does not tell who holds the account. */
  name: Type.String(),
  role: MemberRole,
  status: MemberStatus,
  /** The account's `email_verified` (User): whether its owner has shown they hold the address. */
  email_verified: Type.Boolean(),
  created_at: DateTime,
});
export const MemberWithInvite = Type.Intersect([Member, LinkDelivery]);
export const NewMember = Type.Object({ email: Email, role: MemberRole }, { additionalProperties: false });
export const MemberPatch = Type.Object({ role: MemberRole }, { additionalProperties: false });

export const Permission = Type.Object({ value: PermissionValue, description: Description(500) }, { additionalProperties: false });
export const Api = Type.Object({
  id: Type.String(),
  identifier: Type.String(),
  name: Type.String(),
  permissions: Type.Array(Type.Object({ value: Type.String(), description: Type.String() })),
  access_token_ttl: Type.Union([Type.Integer(), Type.Null()]),
  built_in: Type.Boolean(),
  created_at: DateTime,
  updated_at: DateTime,
});
const Ttl = Type.Union([Type.Integer({ minimum: 60, maximum: 86400 }), Type.Null()]);
export const NewApi = Type.Object(
  { identifier: Identifier, name: Name, permissions: Type.Array(Permission, { maxItems: 500 }), access_token_ttl: Type.Optional(Ttl) },
  { additionalProperties: false },
);
export const ApiPatch = Type.Object(
  { name: Type.Optional(Name), permissions: Type.Optional(Type.Array(Permission, { maxItems: 500 })), access_token_ttl: Type.Optional(Ttl) },
  { additionalProperties: false, minProperties: 1 },
);

export const RolePermission = Type.Object({ api: Identifier, value: PermissionValue }, { additionalProperties: false });
export const Role = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  permissions: Type.Array(Type.Object({ api: Type.String(), value: Type.String() })),
  created_at: DateTime,
  updated_at: DateTime,
});
export const NewRole = Type.Object(
  { id: Type.Optional(RoleId), name: Name, description: Type.Optional(Description(1000)), permissions: Type.Array(RolePermission, { maxItems: 1000 }) },
  { additionalProperties: false },
);
export const RolePatch = Type.Object(
  { name: Type.Optional(Name), description: Type.Optional(Description(1000)), permissions: Type.Optional(Type.Array(RolePermission, { maxItems: 1000 })) },
  { additionalProperties: false, minProperties: 1 },
);

/** Base64url, as JWK members carry their numbers (RFC 7518 §6): enough for an 8192-bit RSA modulus. */
const Base64url = Type.String({ minLength: 1, maxLength: 1400, pattern: '^[A-Za-z0-9_-]+$' });
const JwkWord = Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$' });
/**
 * A public JWK (RFC 7517 §4) as a client registers it. Other members pass the schema so that
 * clients/client-keys.ts can name a private member (`d`, …) in a clear refusal; members it does
 * not keep are not stored.
 */
export const PublicJwkInput = Type.Object(
  {
    kty: JwkWord,
    crv: Type.Optional(JwkWord),
    x: Type.Optional(Base64url),
    y: Type.Optional(Base64url),
    n: Type.Optional(Base64url),
    e: Type.Optional(Base64url),
    kid: Type.Optional(Storable({ minLength: 1, maxLength: 200 })),
    alg: Type.Optional(JwkWord),
    use: Type.Optional(JwkWord),
  },
  { additionalProperties: true, maxProperties: 32 },
);
/** A JWK Set (RFC 7517 §5) of public keys; `{keys: []}` removes them. */
export const ClientJwks = Type.Object({ keys: Type.Array(PublicJwkInput, { maxItems: 10 }) }, { additionalProperties: false });
export const Client = Type.Object({
  client_id: Type.String(),
  name: Type.String(),
  organization_id: Type.String(),
  roles: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
  /** Null for a client without a secret (one that authenticates with private_key_jwt only). */
  secret_hint: Type.Union([Type.String(), Type.Null()]),
  refresh_tokens: Type.Boolean(),
  require_dpop: Type.Boolean(),
  /** The public keys for private_key_jwt, each with its `kid` (the RFC 7638 thumbprint when none was registered). */
  jwks: Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.String())) }),
  created_at: DateTime,
  updated_at: DateTime,
  last_used_at: Type.Union([DateTime, Type.Null()]),
});
/** A client created without a secret (`secret: false`) has no `client_secret` here. */
export const ClientWithSecret = Type.Intersect([Client, Type.Object({ client_secret: Type.Optional(Type.String()) })]);
const RoleIds = Type.Array(RoleId, { maxItems: 100 });
export const NewClient = Type.Object(
  {
    name: Name,
    roles: RoleIds,
    refresh_tokens: Type.Optional(Type.Boolean()),
    require_dpop: Type.Optional(Type.Boolean()),
    jwks: Type.Optional(ClientJwks),
    /** Default true; false (with `jwks`) makes a client that authenticates with private_key_jwt only. */
    secret: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const ClientPatch = Type.Object(
  { name: Type.Optional(Name), refresh_tokens: Type.Optional(Type.Boolean()), require_dpop: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);
export const ClientRoles = Type.Object({ roles: RoleIds }, { additionalProperties: false });
export const RotateBody = Type.Object({ grace_period_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86400 })) }, { additionalProperties: false });
export const RotateAnswer = Type.Object({ client_secret: Type.String(), secret_hint: Type.String(), previous_secret_expires_at: Type.Union([DateTime, Type.Null()]) });

export const AuditEvent = Type.Object({
  id: Type.String(),
  at: DateTime,
  actor: Type.Object({ type: Type.String(), id: Type.String() }),
  action: Type.String(),
  target: Type.Object({ type: Type.String(), id: Type.String() }),
  ip: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export const SetupBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }), email: Email, name: Type.Optional(OptionalName), password: Password }, { additionalProperties: false });
const OneTimeToken = Type.String({ minLength: 1, maxLength: 200 });
/**
 * Accepting an invitation (docs/security.md): `password` chooses the password of an
 * account that has none; an account that has one proves it is its owner's by the session
 * (signed in as that user) or by `current_password`.
 */
export const InviteBody = Type.Object(
  {
    token: OneTimeToken,
    name: Type.Optional(OptionalName),
    password: Type.Optional(Password),
    current_password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export const InviteLookupBody = Type.Object({ token: OneTimeToken }, { additionalProperties: false });
/** What an invitation link is for, to whoever holds it: which account, which organization, and whether the account has a password. */
export const InviteLookup = Type.Object({
  email: Type.String(),
  organization: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
  role: Type.Union([MemberRole, Type.Null()]),
  has_password: Type.Boolean(),
});

/** Error answers every management route may give. */
export const errors = (...codes: (400 | 401 | 403 | 404 | 409 | 429)[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]));

/** 204 answers carry no body. */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'No content' });

export type Organization = Static<typeof Organization>;
export type User = Static<typeof User>;
export type NewUser = Static<typeof NewUser>;
export type UserPatch = Static<typeof UserPatch>;
export type Me = Static<typeof Me>;
export type MemberRole = Static<typeof MemberRole>;
export type MemberStatus = Static<typeof MemberStatus>;
export type Member = Static<typeof Member>;
export type NewMember = Static<typeof NewMember>;
export type Permission = Static<typeof Permission>;
export type Api = Static<typeof Api>;
export type NewApi = Static<typeof NewApi>;
export type ApiPatch = Static<typeof ApiPatch>;
export type RolePermission = Static<typeof RolePermission>;
export type Role = Static<typeof Role>;
export type NewRole = Static<typeof NewRole>;
export type RolePatch = Static<typeof RolePatch>;
export type Client = Static<typeof Client>;
export type ClientWithSecret = Static<typeof ClientWithSecret>;
export type NewClient = Static<typeof NewClient>;
export type ClientPatch = Static<typeof ClientPatch>;
export type ClientJwks = Static<typeof ClientJwks>;
export type RotateAnswer = Static<typeof RotateAnswer>;
export type AuditEvent = Static<typeof AuditEvent>;
export type ErrorBody = Static<typeof ErrorBody>;
export type UserWithInvite = Static<typeof UserWithInvite>;
export type MemberWithInvite = Static<typeof MemberWithInvite>;
export type InviteBody = Static<typeof InviteBody>;
export type InviteLookup = Static<typeof InviteLookup>;
/** How a one-time link was handed over: in the answer, or by mail. */
export type LinkDelivery = { invite_url: string } | { invite_sent: true };
