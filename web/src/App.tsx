import { Building2 } from 'lucide-react';
import { useEffect, type ReactNode } from 'react';
import { AdminSidebar, DevelopersSidebar, OrgSidebar, TopBar } from './components/Shell';
import { EmptyState, Loading } from './components/ui';
import { InvitePage, SetupPage, SignInPage } from './pages/AuthPages';
import { ApisPage } from './pages/admin/ApisPage';
import { OrganizationsPage } from './pages/admin/OrganizationsPage';
import { RolesPage } from './pages/admin/RolesPage';
import { UsersPage } from './pages/admin/UsersPage';
import { ApiPage } from './pages/org/ApiPage';
import { AuditLogPage } from './pages/org/AuditLogPage';
import { DevelopersPage } from './pages/org/DevelopersPage';
import { MembersPage } from './pages/org/MembersPage';
import { PolicyPage } from './pages/org/PolicyPage';
import { ClientUsagePage, OrganizationUsagePage } from './pages/org/UsagePage';
import { Redirect, match, useLocation } from './router';
import { rememberOrg, rememberedOrg, useSession, type OrgChoice } from './session';

function Shell({ org, sidebar, children }: { org: OrgChoice | undefined; sidebar?: ReactNode; children: ReactNode }) {
  return (
    <div className="app">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <TopBar currentOrg={org} />
      <div className={`layout${sidebar ? ' with-sidebar' : ''}`}>
        {sidebar}
        <main id="main" className="content" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}

function NotFound({ org, text }: { org: OrgChoice | undefined; text: string }) {
  return (
    <Shell org={org}>
      <EmptyState icon={<Building2 size={28} />} title="Nothing here">
        {text}
      </EmptyState>
    </Shell>
  );
}

function useTitle(title: string) {
  useEffect(() => {
    document.title = `${title} · Portcullis`;
  }, [title]);
}

export function App() {
  const { me, orgs, loading } = useSession();
  const { pathname, search } = useLocation();
  useTitle(pathname === '/signin' ? 'Sign in' : pathname === '/settings/developers/oauth2' ? 'OAuth2' : (pathname.split('/').filter(Boolean).at(-1)?.replace(/-/g, ' ') ?? 'Home'));

  if (pathname === '/setup') return <SetupPage />;
  if (pathname === '/invite') return <InvitePage />;
  if (loading) return <Loading what="Portcullis" />;
  if (pathname === '/signin') return me ? <Redirect to="/" /> : <SignInPage />;
  if (!me) return <Redirect to={`/signin?next=${encodeURIComponent(pathname + (search.size ? `?${search}` : ''))}`} />;

  const remembered = orgs.find((o) => o.id === rememberedOrg());
  const preferred = remembered ?? orgs.find((o) => o.member) ?? orgs[0];

  const clientUsage = match('/organizations/:org/clients/:client/usage', pathname);
  const inOrg = match('/organizations/:org/:section', pathname) ?? match('/organizations/:org/api/:tab', pathname) ?? clientUsage;
  if (inOrg) {
    const org = orgs.find((o) => o.id === inOrg.org);
    if (!org) return <NotFound org={preferred} text="This organization does not exist, or you are not a member of it. Choose one from the User menu." />;
    if (rememberedOrg() !== org.id) rememberOrg(org.id);
    const page = clientUsage?.client ? (
      <ClientUsagePage org={org} clientId={clientUsage.client} />
    ) : pathname.endsWith('/usage') && org.role === 'admin' ? (
      <OrganizationUsagePage org={org} />
    ) : pathname.endsWith('/policy') && org.role === 'admin' ? (
      <PolicyPage org={org} platformAdmin={me.platform_admin} />
    ) : pathname.endsWith('/api') ? (
      <ApiPage org={org} tab="clients" />
    ) : pathname.endsWith('/api/roles') ? (
      <ApiPage org={org} tab="roles" />
    ) : pathname.endsWith('/members') && org.role === 'admin' ? (
      <MembersPage org={org} />
    ) : pathname.endsWith('/audit-log') && org.role === 'admin' ? (
      <AuditLogPage org={org} />
    ) : undefined;
    if (!page) return <NotFound org={org} text="This page does not exist, or only organization admins may see it." />;
    return (
      <Shell org={org} sidebar={<OrgSidebar org={org} />}>
        {page}
      </Shell>
    );
  }

  if (pathname === '/settings/developers/oauth2') {
    // For the current organization: the one last chosen in the User menu.
    if (!preferred) return <NotFound org={undefined} text="You are not in an organization yet: ask an administrator of your organization to add you as a member." />;
    return (
      <Shell org={preferred} sidebar={<DevelopersSidebar />}>
        <DevelopersPage org={preferred} />
      </Shell>
    );
  }

  const admin = match('/admin/:page', pathname);
  if (admin) {
    if (!me.platform_admin) return <NotFound org={preferred} text="Only platform administrators may see this page." />;
    const pages: Record<string, ReactNode> = { apis: <ApisPage />, roles: <RolesPage />, organizations: <OrganizationsPage />, users: <UsersPage /> };
    const page = pages[admin.page ?? ''];
    if (!page) return <NotFound org={preferred} text="This page does not exist." />;
    return (
      <Shell org={preferred} sidebar={<AdminSidebar />}>
        {page}
      </Shell>
    );
  }

  if (pathname === '/') {
    if (preferred) return <Redirect to={`/organizations/${encodeURIComponent(preferred.id)}/api`} />;
    if (me.platform_admin) return <Redirect to="/admin/organizations" />;
    return (
      <Shell org={undefined}>
        <EmptyState icon={<Building2 size={28} />} title="You are not in an organization yet">
          Ask an administrator of your organization to add you as a member, then sign in again.
        </EmptyState>
      </Shell>
    );
  }
  return <NotFound org={preferred} text="This page does not exist." />;
}
