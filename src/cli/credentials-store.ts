import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError, ExitCode } from './exit-codes.js';

/** A management session `portcullis login` opened: the cookie is as good as a password until it ends. */
export interface StoredSession {
  cookie: string;
  csrf_token: string;
  email: string;
  user_id: string;
  platform_admin: boolean;
  created_at: string;
  expires_at: string;
}

interface CredentialsFile {
  version: 1;
  /** The server of the last login: the default for later commands. */
  current_server?: string;
  sessions: Record<string, StoredSession>;
}

/**
 * The sessions of `portcullis login`, one per server, in `$XDG_CONFIG_HOME/portcullis/credentials.json`
 * (default `~/.config/portcullis/`). The directory is 0700 and the file 0600, written whole
 * through a temporary file so it is never half-written nor, even briefly, readable by others.
 * Passwords are never stored: only the session cookie and its CSRF token.
 */
export class CredentialsStore {
  readonly file: string;

  constructor(env: Record<string, string | undefined>) {
    const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(env.HOME || os.homedir(), '.config');
    this.file = path.join(base, 'portcullis', 'credentials.json');
  }

  currentServer(): string | undefined {
    return this.read().current_server;
  }

  session(server: string): StoredSession | undefined {
    return this.read().sessions[server];
  }

  saveSession(server: string, session: StoredSession): void {
    const data = this.read();
    data.sessions[server] = session;
    data.current_server = server;
    this.write(data);
  }

  removeSession(server: string): boolean {
    const data = this.read();
    if (!data.sessions[server]) return false;
    delete data.sessions[server];
    if (data.current_server === server) delete data.current_server;
    this.write(data);
    return true;
  }

  private read(): CredentialsFile {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, sessions: {} };
      throw new CliError(`Cannot read ${this.file}: ${(err as Error).message}`, ExitCode.ERROR);
    }
    try {
      const parsed = JSON.parse(text) as Partial<CredentialsFile>;
      return { version: 1, sessions: {}, ...parsed };
    } catch {
      throw new CliError(`${this.file} is not valid JSON; delete it and log in again.`, ExitCode.ERROR);
    }
  }

  private write(data: CredentialsFile): void {
    const dir = path.dirname(this.file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = path.join(dir, `.credentials.${randomBytes(6).toString('hex')}.tmp`);
    try {
      fs.writeFileSync(temp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      fs.renameSync(temp, this.file);
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw new CliError(`Cannot write ${this.file}: ${(err as Error).message}`, ExitCode.ERROR);
    }
    // An older file may have been created with a looser mode.
    fs.chmodSync(this.file, 0o600);
  }
}
