/** The management API's objects as the CLI reads them (API.md §3). */

export interface Organization {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

export interface Api {
  id: string;
  identifier: string;
  name: string;
  permissions: { value: string; description: string }[];
  access_token_ttl: number | null;
  built_in: boolean;
  created_at: string;
  updated_at: string;
}

export interface Role {
  id: string;
  name: string;
  description: string;
  permissions: { api: string; value: string }[];
  created_at: string;
  updated_at: string;
}

export interface Client {
  client_id: string;
  name: string;
  organization_id: string;
  roles: { id: string; name: string }[];
  secret_hint: string;
  refresh_tokens: boolean;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
}

export interface RotatedSecret {
  client_secret: string;
  secret_hint: string;
  previous_secret_expires_at: string | null;
}

/** For repeatable options: `--role a --role b`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
