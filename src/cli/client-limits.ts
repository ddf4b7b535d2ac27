import fs from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { CliError, ExitCode } from './exit-codes.js';

/** What the clients create/update flags below add to the request body. */
export interface ClientLimitOptions {
  tokenQuota?: { limit: number; per: 'hour' | 'day' } | 'none';
  claim?: [string, string | number | boolean][];
  claims?: string;
}

/** `1000/hour` or `500/day` (also `none` to remove a quota: a string, since commander turns a null result into ''). */
export function parseQuota(value: string): { limit: number; per: 'hour' | 'day' } | 'none' {
  if (value === 'none') return 'none';
  const m = /^([1-9][0-9]{0,9})\/(hour|day)$/.exec(value);
  if (!m) throw new InvalidArgumentError('LIMIT/hour or LIMIT/day expected (e.g. 1000/hour), or none');
  return { limit: Number(m[1]), per: m[2] as 'hour' | 'day' };
}

/** `key=value`: a value that reads as a number, true or false is sent as one; anything else as text (--claims FILE for exact types). */
function parseClaim(value: string, previous: [string, string | number | boolean][] = []): [string, string | number | boolean][] {
  const eq = value.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError('key=value expected');
  const raw = value.slice(eq + 1);
  const typed = raw === 'true' ? true : raw === 'false' ? false : /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(raw) ? Number(raw) : raw;
  return [...previous, [value.slice(0, eq), typed]];
}

/** Adds --token-quota, --claim and --claims to clients create or update. */
export function withClientLimitOptions(command: Command): Command {
  return command
    .option('--token-quota <limit/per>', 'at most this many tokens per UTC hour or day, e.g. 1000/hour (none: no quota of its own)', parseQuota)
    .option('--claim <key=value>', 'a claim added to its access tokens (repeatable); replaces all its claims', parseClaim)
    .option('--claims <file>', 'a JSON file of the claims added to its access tokens ({} for none); replaces all its claims');
}

/** The body fields the flags ask for. */
export function clientLimitFields(options: ClientLimitOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (options.tokenQuota !== undefined) out.token_quota = noneAsNull(options.tokenQuota);
  if (options.claim && options.claims) throw new CliError('Pass either --claim or --claims.', ExitCode.USAGE);
  if (options.claim) out.token_claims = Object.fromEntries(options.claim);
  if (options.claims) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(options.claims, 'utf8'));
    } catch (err) {
      throw new CliError(`Could not read the claims in ${options.claims}: ${err instanceof Error ? err.message : String(err)}`, ExitCode.USAGE);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError(`${options.claims} must hold a JSON object.`, ExitCode.USAGE);
    out.token_claims = parsed;
  }
  return out;
}

/** A flag's `none`: no limit. */
export function noneAsNull<T>(value: T | 'none'): T | null {
  return value === 'none' ? null : value;
}
