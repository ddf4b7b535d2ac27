import { Castle } from 'lucide-react';
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, type InviteLookup, type User } from '../api';
import { Button, Callout, ErrorText, Field, Loading } from '../components/ui';
import { useAction, useResource } from '../hooks';
import { navigate, useLocation } from '../router';
import { useSession } from '../session';

const MIN_PASSWORD = 12;

function AuthCard({ title, intro, children, onSubmit, onEdit }: { title: string; intro?: ReactNode; children: ReactNode; onSubmit(): void; onEdit(): void }) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit();
  };
  return (
    <main className="auth-page">
      <div className="auth-card">
        <div className="auth-brand" aria-hidden="true">
          <Castle size={26} />
          <span>Portcullis</span>
        </div>
        <h1>{title}</h1>
        {intro && <div className="auth-intro">{intro}</div>}
        <form onSubmit={submit} onInput={onEdit} noValidate>
          {children}
        </form>
      </div>
    </main>
  );
}

/** Where to go after signing in: only a path of this app, never another site. */
function safeNext(next: string | null): string {
  return next?.startsWith('/') && !next.startsWith('//') && !next.startsWith('/signin') ? next : '/';
}

export function SignInPage() {
  const { signIn, notice } = useSession();
  const { search } = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  // An instance without users: nobody can sign in yet; the first administrator comes in through the setup link.
  const setup = useResource(() => api.get<{ setup_required: boolean }>('/setup'), 'setup');
  const submit = () =>
    action.run(async () => {
      if (!email.trim() || !password) throw new Error('Enter your email address and your password.');
      await signIn(email.trim(), password);
      navigate(safeNext(search.get('next')), { replace: true });
    });
  return (
    <AuthCard
      title="Sign in"
      intro={
        <>
          {notice && <Callout tone="info">{notice}</Callout>}
          {setup.data?.setup_required && (
            <div data-testid="setup-hint">
              <Callout tone="info" title="No accounts yet">
                This Portcullis has no users. Its first start printed a one-time setup link, <code>…/setup?token=…</code>, in the terminal or log of the server (a box that begins “Portcullis has no
                users yet”). Open that link to create the first administrator. Restart the server for a new link if it has expired, or set <code>ADMIN_EMAIL</code> and <code>ADMIN_PASSWORD</code>{' '}
                before starting it.
              </Callout>
            </div>
          )}
        </>
      }
      onSubmit={submit}
      onEdit={() => action.setError(undefined)}
    >
      <Field label="Email">{(id) => <input id={id} type="email" autoComplete="username" autoFocus value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
      <Field label="Password">{(id) => <input id={id} type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
      <ErrorText message={action.error} />
      <Button tone="primary" type="submit" busy={action.busy} className="btn-block">
        Sign in
      </Button>
    </AuthCard>
  );
}

function checkPassword(password: string, confirm: string): void {
  if (password.length < MIN_PASSWORD) throw new Error(`Choose a password of at least ${MIN_PASSWORD} characters.`);
  if (password !== confirm) throw new Error('The two passwords are not the same.');
}

function PasswordFields({ password, confirm, setPassword, setConfirm }: { password: string; confirm: string; setPassword(v: string): void; setConfirm(v: string): void }) {
  return (
    <>
      <Field label="Password" hint={`At least ${MIN_PASSWORD} characters. A few unrelated words make a strong one.`}>
        {(id, hintId) => <input id={id} type="password" autoComplete="new-password" aria-describedby={hintId} value={password} onChange={(e) => setPassword(e.target.value)} />}
      </Field>
      <Field label="Repeat the password">{(id) => <input id={id} type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} />}</Field>
    </>
  );
}

function MissingToken({ what }: { what: string }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <h1>This link is incomplete</h1>
        <p>Open the whole {what} link, including everything after “?token=”.</p>
      </div>
    </main>
  );
}

/** `/setup?token=…`: the first platform administrator, from the link printed at the first start. */
export function SetupPage() {
  const { signIn } = useSession();
  const token = useLocation().search.get('token');
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const action = useAction();
  if (!token) return <MissingToken what="setup" />;
  const submit = () =>
    action.run(async () => {
      if (!email.trim()) throw new Error('Enter your email address: you sign in with it.');
      checkPassword(password, confirm);
      await api.post<User>('/setup', { token, email: email.trim(), name: name.trim(), password });
      await signIn(email.trim(), password);
      navigate('/admin/organizations', { replace: true });
    });
  return (
    <AuthCard
      title="Set up Portcullis"
      intro={<p>Create the first platform administrator. This account manages APIs, roles, organizations and users. The setup link works once.</p>}
      onSubmit={submit}
      onEdit={() => action.setError(undefined)}
    >
      <Field label="Name">{(id) => <input id={id} autoComplete="name" autoFocus value={name} onChange={(e) => setName(e.target.value)} />}</Field>
      <Field label="Email">{(id) => <input id={id} type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
      <PasswordFields password={password} confirm={confirm} setPassword={setPassword} setConfirm={setConfirm} />
      <ErrorText message={action.error} />
      <Button tone="primary" type="submit" busy={action.busy} className="btn-block">
        Create administrator
      </Button>
    </AuthCard>
  );
}

/** Where an accepted invitation leads: the organization it was for. */
function afterInvite(invite: InviteLookup): string {
  return invite.organization ? `/organizations/${encodeURIComponent(invite.organization.id)}/api` : '/';
}

function inviteIntro(invite: InviteLookup): string {
  return invite.organization ? `You are invited to join ${invite.organization.name} as ${invite.role === 'admin' ? 'an admin' : 'a member'}.` : 'An account has been created for you.';
}

/**
 * `/invite?token=…`: an invitation, or a link to choose the password of a new account. A new
 * account chooses its password; an account that has one accepts signed in as itself, or with
 * its password: the link alone never lets anyone into an account that has a password.
 */
export function InvitePage() {
  const token = useLocation().search.get('token');
  const { loading } = useSession();
  const invite = useResource(() => (token ? api.post<InviteLookup>('/invites/lookup', { token }) : Promise.reject(new Error('no token'))), token ?? '');
  if (!token) return <MissingToken what="invitation" />;
  if (invite.loading || loading) return <Loading what="the invitation" />;
  if (!invite.data) {
    return (
      <main className="auth-page">
        <div className="auth-card">
          <h1>This invitation cannot be used</h1>
          <p>{invite.error}</p>
          <p>Ask the person who invited you for a new invitation.</p>
        </div>
      </main>
    );
  }
  return invite.data.has_password ? <JoinWithAccount token={token} invite={invite.data} /> : <ChoosePassword token={token} invite={invite.data} />;
}

/** A new account: its owner chooses the password. */
function ChoosePassword({ token, invite }: { token: string; invite: InviteLookup }) {
  const { signIn } = useSession();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const action = useAction();
  const submit = () =>
    action.run(async () => {
      checkPassword(password, confirm);
      const user = await api.post<User>('/invites/accept', { token, password, ...(name.trim() ? { name: name.trim() } : {}) });
      await signIn(user.email, password);
      navigate(afterInvite(invite), { replace: true });
    });
  return (
    <AuthCard
      title="Accept your invitation"
      intro={
        <p>
          {inviteIntro(invite)} Choose a password to finish creating your Portcullis account, <strong>{invite.email}</strong>.
        </p>
      }
      onSubmit={submit}
      onEdit={() => action.setError(undefined)}
    >
      <Field label="Your name" hint="Optional; shown to the other members of your organization.">
        {(id, hintId) => <input id={id} autoComplete="name" autoFocus aria-describedby={hintId} value={name} onChange={(e) => setName(e.target.value)} />}
      </Field>
      <PasswordFields password={password} confirm={confirm} setPassword={setPassword} setConfirm={setConfirm} />
      <ErrorText message={action.error} />
      <Button tone="primary" type="submit" busy={action.busy} className="btn-block">
        Set password and sign in
      </Button>
    </AuthCard>
  );
}

/** An account that has a password: signed in as it, one click; otherwise its password proves it is yours. */
function JoinWithAccount({ token, invite }: { token: string; invite: InviteLookup }) {
  const { me, signIn, refresh } = useSession();
  const [password, setPassword] = useState('');
  const action = useAction();
  const signedInAsInvitee = me?.email === invite.email;
  const submit = () =>
    action.run(async () => {
      if (signedInAsInvitee) {
        await api.post<User>('/invites/accept', { token });
        await refresh();
      } else {
        if (!password) throw new Error(`Enter the password of ${invite.email}.`);
        await api.post<User>('/invites/accept', { token, current_password: password });
        await signIn(invite.email, password);
      }
      navigate(afterInvite(invite), { replace: true });
    });
  return (
    <AuthCard
      title="Accept your invitation"
      intro={
        <>
          <p>
            {inviteIntro(invite)} The invitation is for your account <strong>{invite.email}</strong>.
          </p>
          {me && !signedInAsInvitee && (
            <Callout tone="info">
              You are signed in as {me.email}. To accept for {invite.email}, enter its password.
            </Callout>
          )}
        </>
      }
      onSubmit={submit}
      onEdit={() => action.setError(undefined)}
    >
      {!signedInAsInvitee && (
        <Field label="Password" hint={`The password of ${invite.email}.`}>
          {(id, hintId) => <input id={id} type="password" autoComplete="current-password" autoFocus aria-describedby={hintId} value={password} onChange={(e) => setPassword(e.target.value)} />}
        </Field>
      )}
      <ErrorText message={action.error} />
      <Button tone="primary" type="submit" busy={action.busy} className="btn-block">
        Accept invitation
      </Button>
    </AuthCard>
  );
}
