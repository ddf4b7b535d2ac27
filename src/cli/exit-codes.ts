/**
 * The exit codes of `portcullis`, a contract for scripts (docs/cli.md lists them). A code
 * names the kind of failure, so a script can tell "try again later" from "fix the command".
 */
export const ExitCode = {
  /** Done. */
  OK: 0,
  /** Anything unexpected, including a 5xx answer from the server. */
  ERROR: 1,
  /** The command line or the settings are wrong (unknown option, missing argument, a value the server rejected with 400). */
  USAGE: 2,
  /** The server could not be reached or did not answer in time. */
  UNREACHABLE: 3,
  /** Not logged in, the session ended, or the client credentials were rejected. */
  UNAUTHENTICATED: 4,
  /** Authenticated, but not allowed: a missing permission or role. */
  FORBIDDEN: 5,
  /** No such organization, client, API or role (or one you cannot see). */
  NOT_FOUND: 6,
  /** It already exists, or is still in use (409). */
  CONFLICT: 7,
  /** Too many requests (429): wait and retry. */
  RATE_LIMITED: 8,
  /** A server command found the embedded database (DATA_DIR) held by a running server. */
  DATABASE_IN_USE: 9,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure to report to the user as one message, ending the command with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Further lines (field errors, hints), printed indented under the message. */
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}
