/** Who made a change: a user (session), a client (management token), or Portcullis itself (start-up, CLI). */
export interface Actor {
  type: 'user' | 'client' | 'system';
  id: string;
  ip?: string | undefined;
}

export const SYSTEM_ACTOR: Actor = { type: 'system', id: 'portcullis' };
