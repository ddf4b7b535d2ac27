import fs from 'node:fs';
import { exportJWK, importSPKI } from 'jose';
import { CliError, ExitCode } from './exit-codes.js';

/** A JWK Set as the management API takes it (`PUT …/jwks`, or `jwks` at create). */
export interface JwkSet {
  keys: Record<string, unknown>[];
}

/** Members that only a private JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4): refused before anything is sent. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * Reads the public keys of `--jwks FILE`: a JWK Set (RFC 7517 §5), one public JWK (§4), or a
 * PEM public key (SubjectPublicKeyInfo), converted with jose for `alg`. A private key is refused
 * here, so that it never leaves the machine.
 */
export async function readJwksFile(file: string, alg: string): Promise<JwkSet> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`, ExitCode.USAGE);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    if (!trimmed.startsWith('-----BEGIN PUBLIC KEY-----'))
      throw new CliError(`${file} is not a PEM public key ("-----BEGIN PUBLIC KEY-----"); give the public key only (e.g. \`openssl pkey -pubout\`).`, ExitCode.USAGE);
    try {
      const jwk = await exportJWK(await importSPKI(trimmed, alg, { extractable: true }));
      return { keys: [{ ...jwk, alg, use: 'sig' }] };
    } catch (err) {
      throw new CliError(`${file} is not a ${alg} public key: ${(err as Error).message} (choose the algorithm with --alg).`, ExitCode.USAGE);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    throw new CliError(`${file} holds neither JSON (a JWK or a JWK Set) nor a PEM public key.`, ExitCode.USAGE);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`${file} must hold a JWK or a JWK Set (a JSON object).`, ExitCode.USAGE);
  const record = value as Record<string, unknown>;
  const keys = Array.isArray(record.keys) ? (record.keys as unknown[]) : 'kty' in record ? [record] : null;
  if (keys === null) throw new CliError(`${file} must hold a JWK (with "kty") or a JWK Set (with "keys").`, ExitCode.USAGE);
  return {
    keys: keys.map((key, i) => {
      if (typeof key !== 'object' || key === null || Array.isArray(key)) throw new CliError(`Key ${i + 1} in ${file} is not a JSON object.`, ExitCode.USAGE);
      const found = PRIVATE_MEMBERS.filter((m) => m in key);
      if (found.length > 0) throw new CliError(`Key ${i + 1} in ${file} is a private key (it has "${found.join('", "')}"); register its public part only.`, ExitCode.USAGE);
      return key as Record<string, unknown>;
    }),
  };
}
