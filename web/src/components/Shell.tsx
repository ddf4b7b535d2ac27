import { Boxes, Building2, Castle, ChartColumn, CircleUser, Code, KeyRound, LogOut, Plug, Scale, ScrollText, Settings, ShieldCheck, Users, UsersRound } from 'lucide-react';
import type { ReactNode } from 'react';
import { Link, navigate, useLocation } from '../router';
import { rememberOrg, useMe, useSession, type OrgChoice } from '../session';
import { Menu, MenuGroup, MenuItem, MenuSeparator } from './Menu';

/** Where a chosen organization opens: the same section as now, when in one; a settings page stays (it follows the chosen organization). */
function orgPath(orgId: string, pathname: string): string {
  if (pathname.startsWith('/settings/')) return pathname;
  const section = /^\/organizations\/[^/]+\/(api(?:\/roles)?|members|audit-log|usage|policy)$/.exec(pathname)?.[1] ?? 'api';
  return `/organizations/${encodeURIComponent(orgId)}/${section}`;
}

export function TopBar({ currentOrg }: { currentOrg: OrgChoice | undefined }) {
  const me = useMe();
  const { orgs, signOut } = useSession();
  const { pathname } = useLocation();
  const choose = (org: OrgChoice) => {
    rememberOrg(org.id);
    navigate(orgPath(org.id, pathname));
  };
  return (
    <header className="topbar">
      <Link to="/" className="brand" aria-label="Portcullis home">
        <Castle size={22} aria-hidden="true" />
        <span>Portcullis</span>
      </Link>
      <div className="topbar-right">
        {currentOrg && (
          <span className="current-org" title="Current organization">
            <Building2 size={15} aria-hidden="true" />
            <span data-testid="current-org">{currentOrg.name}</span>
          </span>
        )}
        <Menu label="Settings" icon={<Settings size={20} aria-hidden="true" />}>
          <MenuItem icon={<Boxes size={16} />} onSelect={() => (currentOrg ? navigate(`/organizations/${encodeURIComponent(currentOrg.id)}/api`) : navigate('/'))}>
            My organization
          </MenuItem>
          <MenuItem icon={<Code size={16} />} onSelect={() => navigate('/settings/developers/oauth2')}>
            Developers
          </MenuItem>
          {me.platform_admin && (
            <>
              <MenuSeparator />
              <MenuGroup label="Platform">
                <MenuItem icon={<Plug size={16} />} onSelect={() => navigate('/admin/apis')}>
                  APIs
                </MenuItem>
                <MenuItem icon={<KeyRound size={16} />} onSelect={() => navigate('/admin/roles')}>
                  Roles
                </MenuItem>
                <MenuItem icon={<Building2 size={16} />} onSelect={() => navigate('/admin/organizations')}>
                  Organizations
                </MenuItem>
                <MenuItem icon={<UsersRound size={16} />} onSelect={() => navigate('/admin/users')}>
                  Users
                </MenuItem>
              </MenuGroup>
            </>
          )}
        </Menu>
        <Menu label="User" icon={<CircleUser size={22} aria-hidden="true" />}>
          <div className="menu-user" role="presentation">
            <strong>{me.name || me.email}</strong>
            <span>{me.email}</span>
            {me.platform_admin && <span className="menu-user-badge">Platform administrator</span>}
          </div>
          <MenuSeparator />
          <MenuGroup label="Organizations">
            {orgs.length === 0 && (
              <div className="menu-empty" role="presentation">
                No organizations yet
              </div>
            )}
            {orgs.map((org) => (
              <MenuItem key={org.id} checked={org.id === currentOrg?.id} onSelect={() => choose(org)}>
                <span>{org.name}</span>
                <span className="menu-item-meta">{org.member ? (org.role === 'admin' ? 'Admin' : 'Member') : 'Platform'}</span>
              </MenuItem>
            ))}
          </MenuGroup>
          <MenuSeparator />
          <MenuItem icon={<LogOut size={16} />} onSelect={() => void signOut()}>
            Sign out
          </MenuItem>
        </Menu>
      </div>
    </header>
  );
}

function NavLink({ to, icon, children }: { to: string; icon: ReactNode; children: ReactNode }) {
  const { pathname } = useLocation();
  const active = pathname === to || pathname.startsWith(`${to}/`);
  return (
    <Link to={to} className={`nav-link${active ? ' is-active' : ''}`} aria-current={active ? 'page' : undefined}>
      <span aria-hidden="true">{icon}</span>
      {children}
    </Link>
  );
}

export function OrgSidebar({ org }: { org: OrgChoice }) {
  const base = `/organizations/${encodeURIComponent(org.id)}`;
  return (
    <nav className="sidebar" aria-label="My organization">
      <div className="sidebar-heading">
        <span className="sidebar-kicker">My organization</span>
        <span className="sidebar-title">{org.name}</span>
      </div>
      <NavLink to={`${base}/api`} icon={<Plug size={17} />}>
        API
      </NavLink>
      {org.role === 'admin' && (
        <>
          <NavLink to={`${base}/usage`} icon={<ChartColumn size={17} />}>
            Usage
          </NavLink>
          <NavLink to={`${base}/policy`} icon={<Scale size={17} />}>
            Policy
          </NavLink>
          <NavLink to={`${base}/members`} icon={<Users size={17} />}>
            Members
          </NavLink>
          <NavLink to={`${base}/audit-log`} icon={<ScrollText size={17} />}>
            Audit log
          </NavLink>
        </>
      )}
    </nav>
  );
}

export function DevelopersSidebar() {
  return (
    <nav className="sidebar" aria-label="Developers">
      <div className="sidebar-heading">
        <span className="sidebar-kicker">Settings</span>
        <span className="sidebar-title">Developers</span>
      </div>
      <NavLink to="/settings/developers/oauth2" icon={<KeyRound size={17} />}>
        OAuth2
      </NavLink>
    </nav>
  );
}

export function AdminSidebar() {
  return (
    <nav className="sidebar" aria-label="Platform">
      <div className="sidebar-heading">
        <span className="sidebar-kicker">
          <ShieldCheck size={13} aria-hidden="true" /> Platform
        </span>
        <span className="sidebar-title">Administration</span>
      </div>
      <NavLink to="/admin/apis" icon={<Plug size={17} />}>
        APIs
      </NavLink>
      <NavLink to="/admin/roles" icon={<KeyRound size={17} />}>
        Roles
      </NavLink>
      <NavLink to="/admin/organizations" icon={<Building2 size={17} />}>
        Organizations
      </NavLink>
      <NavLink to="/admin/users" icon={<UsersRound size={17} />}>
        Users
      </NavLink>
    </nav>
  );
}
