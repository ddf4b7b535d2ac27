import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, onUnauthenticated, setCsrfToken, type Me, type Organization, type Page } from './api';
import { navigate } from './router';

/** An organization the signed-in user can open, and what they may do there. */
export interface OrgChoice {
  id: string;
  name: string;
  /** `admin` for platform administrators in every organization. */
  role: 'admin' | 'member';
  member: boolean;
}

interface SessionState {
  me: Me | null;
  orgs: OrgChoice[];
  loading: boolean;
  /** Why the sign-in page is shown (the session ended, a password was set). */
  notice: string | undefined;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  refresh(): Promise<void>;
  setNotice(notice: string | undefined): void;
}

const SessionContext = createContext<SessionState | null>(null);

const ORG_KEY = 'portcullis.organization';

/**
 * The server sets this readable cookie beside the HttpOnly session cookie (and clears it
 * with it). Without it there is no session to resume, so the app does not ask: a visitor who
 * is not signed in would otherwise start every visit with a 401 in the browser console.
 */
const SIGNED_IN_MARKER = 'portcullis_signed_in';

function mayHaveSession(): boolean {
  return document.cookie.split(';').some((c) => c.trim().startsWith(`${SIGNED_IN_MARKER}=`));
}

/** The session it hinted at has ended (expired, or signed out elsewhere): stop asking on every load. */
function forgetMarker(): void {
  // biome-ignore lint/suspicious/noDocumentCookie: deleting a cookie the server set; the Cookie Store API is not in every browser the app supports
  document.cookie = `${SIGNED_IN_MARKER}=; Max-Age=0; Path=/; SameSite=Lax`;
}

export function rememberOrg(id: string): void {
  try {
    localStorage.setItem(ORG_KEY, id);
  } catch {
    // Private mode: the choice lasts until the page reloads, which is fine.
  }
}

export function rememberedOrg(): string | null {
  try {
    return localStorage.getItem(ORG_KEY);
  } catch {
    return null;
  }
}

async function organizationsOf(me: Me): Promise<OrgChoice[]> {
  const mine = me.organizations.map((o) => ({ id: o.id, name: o.name, role: o.role, member: true }));
  if (!me.platform_admin) return mine;
  const all = await api.get<Page<Organization>>('/organizations?limit=200');
  const byId = new Map(mine.map((o) => [o.id, o]));
  return all.data.map((o) => ({ id: o.id, name: o.name, role: 'admin' as const, member: byId.get(o.id)?.member ?? false })).sort((a, b) => a.name.localeCompare(b.name));
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [orgs, setOrgs] = useState<OrgChoice[]>([]);
  const [loading, setLoading] = useState(true);
  const [notice, setNotice] = useState<string | undefined>();

  const adopt = useCallback(async (answer: { user: Me; csrf_token: string }) => {
    setCsrfToken(answer.csrf_token);
    setOrgs(await organizationsOf(answer.user));
    setMe(answer.user);
  }, []);

  const refresh = useCallback(async () => {
    const user = await api.get<Me>('/me');
    setOrgs(await organizationsOf(user));
    setMe(user);
  }, []);

  useEffect(() => {
    onUnauthenticated(() => {
      setCsrfToken(undefined);
      setMe(null);
      setNotice('Your session has ended. Sign in again to continue.');
      const here = window.location.pathname + window.location.search;
      navigate(`/signin?next=${encodeURIComponent(here)}`, { replace: true });
    });
    if (!mayHaveSession()) {
      setLoading(false);
      return;
    }
    api
      .get<{ user: Me; csrf_token: string }>('/session')
      .then(adopt)
      .catch(() => {
        forgetMarker();
        setMe(null);
      })
      .finally(() => setLoading(false));
  }, [adopt]);

  const value = useMemo<SessionState>(
    () => ({
      me,
      orgs,
      loading,
      notice,
      setNotice,
      refresh,
      signIn: async (email, password) => {
        await adopt(await api.post<{ user: Me; csrf_token: string }>('/session', { email, password }));
        setNotice(undefined);
      },
      signOut: async () => {
        try {
          await api.delete('/session');
        } finally {
          setCsrfToken(undefined);
          setMe(null);
          setOrgs([]);
          setNotice('You have signed out.');
          navigate('/signin', { replace: true });
        }
      },
    }),
    [me, orgs, loading, notice, refresh, adopt],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}

/** The signed-in user (pages under the app shell only render once there is one). */
export function useMe(): Me {
  const { me } = useSession();
  if (!me) throw new Error('useMe without a session');
  return me;
}
