import type { ColumnType, Generated, Selectable } from 'kysely';

/** Timestamps are `timestamptz`; both drivers return them as Date. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface OrganizationTable {
  id: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiTable {
  id: string;
  /** The token `aud`. */
  identifier: string;
  name: string;
  access_token_ttl: number | null;
  built_in: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiPermissionTable {
  api_id: string;
  value: string;
  description: string;
}

export interface RoleTable {
  /** A readable slug, e.g. `meter-reader`. */
  id: string;
  name: string;
  description: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RolePermissionTable {
  role_id: string;
  api_id: string;
  value: string;
}

export interface ClientTable {
  client_id: string;
  org_id: string;
  name: string;
  refresh_tokens: ColumnType<boolean, boolean | undefined, boolean>;
  /** Public JWKs for private_key_jwt (RFC 7523 §2.2); empty when the client has none. */
  jwks: ColumnType<PublicJwk[], string | undefined, string>;
  /** Token requests must carry a DPoP proof (RFC 9449). */
  require_dpop: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_used_at: NullableTimestamp;
}

/** A public JSON Web Key (RFC 7517 §4) as stored: only public members (clients/client-keys.ts checks). */
export type PublicJwk = Record<string, string>;

export interface ClientRoleTable {
  client_id: string;
  role_id: string;
}

export interface ClientSecretTable {
  id: string;
  client_id: string;
  /** HMAC-SHA-256 of the secret under the pepper; never the secret. */
  hash: Buffer;
  /** The secret's last characters, for display. */
  hint: string;
  created_at: Timestamp;
  /** Null for the current secret; set when a rotation gives the previous one a grace period. */
  expires_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

export interface SigningKeyTable {
  kid: string;
  alg: string;
  public_jwk: ColumnType<Record<string, unknown>, string, string>;
  /** The private JWK, AES-256-GCM under a key derived from MASTER_KEY. */
  private_key_enc: string;
  created_at: Timestamp;
  /** When this key starts signing (it is published from `created_at`). */
  activates_at: Timestamp;
}

export interface AuditEventTable {
  id: Generated<string>;
  at: Timestamp;
  org_id: string | null;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string;
  ip: string | null;
  details: ColumnType<Record<string, unknown>, string, string>;
}

export interface UserTable {
  id: string;
  /** Lower-cased. */
  email: string;
  name: string;
  /** argon2id; null until the user sets a password through an invitation. */
  password_hash: string | null;
  platform_admin: ColumnType<boolean, boolean | undefined, boolean>;
  /** False while nothing shows that the owner of the address chose the password (docs/security.md). */
  email_verified: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface MembershipTable {
  org_id: string;
  user_id: string;
  role: 'admin' | 'member';
  /** `invited` grants nothing until the account's owner accepts the invitation. */
  status: 'active' | 'invited';
  created_at: Timestamp;
}

export interface SessionTable {
  id_hash: Buffer;
  user_id: string;
  csrf_token: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface OneTimeTokenTable {
  token_hash: Buffer;
  kind: 'setup' | 'invite';
  user_id: string | null;
  /** An invitation to this organization; null for a setup link or a link that only sets a password. */
  org_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Whether the link was mailed to the user's address (SMTP_URL) rather than handed to an administrator. */
  mailed: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface RefreshTokenTable {
  id: string;
  token_hash: Buffer;
  family_id: string;
  client_id: string;
  audience: string;
  scope: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  idle_expires_at: Timestamp;
  used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  /** The RFC 7638 thumbprint of the DPoP key the family is bound to, or null (RFC 9449 §5). */
  jkt: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface UsedJtiTable {
  kind: 'client_assertion' | 'dpop_proof';
  /** The client id (assertions) or the proof key's thumbprint (DPoP). */
  owner: string;
  jti: string;
  expires_at: Timestamp;
}

export interface RevokedAccessTokenTable {
  jti: string;
  client_id: string;
  org_id: string;
  expires_at: Timestamp;
  revoked_at: Timestamp;
}

export interface ChangeTable {
  /** int8: the driver returns it as a string. */
  seq: Generated<string>;
  at: Generated<Date>;
  /** An encoded Change (store/change-feed.ts). */
  change: string;
}

export interface Database {
  organizations: OrganizationTable;
  apis: ApiTable;
  api_permissions: ApiPermissionTable;
  roles: RoleTable;
  role_permissions: RolePermissionTable;
  clients: ClientTable;
  client_roles: ClientRoleTable;
  client_secrets: ClientSecretTable;
  signing_keys: SigningKeyTable;
  audit_events: AuditEventTable;
  users: UserTable;
  memberships: MembershipTable;
  sessions: SessionTable;
  one_time_tokens: OneTimeTokenTable;
  refresh_tokens: RefreshTokenTable;
  revoked_access_tokens: RevokedAccessTokenTable;
  changes: ChangeTable;
  used_jtis: UsedJtiTable;
}

export type SigningKeyRow = Selectable<SigningKeyTable>;
