import { createHash } from 'node:crypto';
import { addSeconds, type Clock } from '../clock.js';
import type { Data, HeldTransaction } from '../store/repositories/index.js';
import type { StoredAnswer } from '../store/repositories/idempotency.js';

/** How long a key is remembered: a repeat within this many seconds gets the first answer. */
export const IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600;

/**
 * Fields of an answer that are shown once and never stored: a secret is never in the database.
 * A repeated request gets the first answer without them, and a `message` saying so.
 */
const SHOWN_ONCE = ['client_secret', 'invite_url'] as const;

/** The request a key was first used for. */
export interface Fingerprint {
  method: string;
  path: string;
  bodyHash: string;
}

/** A claimed key: the request's held transaction, which the answer must complete or abandon. */
export interface ClaimedKey {
  caller: string;
  key: string;
  held: HeldTransaction;
}

export type ClaimOutcome =
  | { kind: 'claimed'; claim: ClaimedKey }
  /** The key answered this very request before: send this again. */
  | { kind: 'replay'; answer: StoredAnswer }
  /** The key answered another request (method, path or body). */
  | { kind: 'mismatch' };

/**
 * Idempotency keys of unsafe management requests. A request with a key first claims it in a
 * transaction that stays open while the request is handled: every service transaction of the
 * request joins it (store/repositories/index.ts), and the answer is written into it before it
 * commits. So the change and its stored answer commit together or not at all, and a retry
 * after a lost answer, even one lost because the process died right after the commit, finds
 * the answer. A duplicate sent while the first is in flight waits at its claim for the first to
 * end (the key's primary key), then gets its answer; it never applies the change twice.
 * Only successful (2xx) answers are kept: an error changed nothing, and a retry is evaluated anew.
 */
export class IdempotencyKeys {
  constructor(
    private readonly data: Data,
    private readonly clock: Clock,
  ) {}

  async claim(caller: string, key: string, request: Fingerprint): Promise<ClaimOutcome> {
    const held = await this.data.hold();
    try {
      const now = this.clock.now();
      await held.tx.idempotency.forgetIfOlder(caller, key, addSeconds(now, -IDEMPOTENCY_KEY_TTL_SECONDS));
      if (await held.tx.idempotency.claim(caller, key, { ...request, createdAt: now })) return { kind: 'claimed', claim: { caller, key, held } };
      const row = await held.tx.idempotency.find(caller, key);
      await held.rollback();
      // A row without an answer is never committed; a vanished one was pruned between the two statements. Neither can be replayed.
      if (!row || row.status === null || row.method !== request.method || row.path !== request.path || row.body_hash !== request.bodyHash) return { kind: 'mismatch' };
      return { kind: 'replay', answer: { status: row.status, headers: JSON.parse(row.headers) as Record<string, string>, body: row.body } };
    } catch (err) {
      await held.rollback().catch(() => {});
      throw err;
    }
  }

  /** Stores the answer of a claimed key in the request's transaction and commits both. */
  async complete(claim: ClaimedKey, answer: StoredAnswer): Promise<void> {
    try {
      await claim.held.tx.idempotency.answer(claim.caller, claim.key, withoutSecrets(answer));
      await claim.held.commit();
    } catch (err) {
      await claim.held.rollback().catch(() => {});
      throw err;
    }
  }

  /** Forgets keys older than IDEMPOTENCY_KEY_TTL_SECONDS (hourly housekeeping). */
  async prune(): Promise<number> {
    return this.data.read.idempotency.prune(addSeconds(this.clock.now(), -IDEMPOTENCY_KEY_TTL_SECONDS));
  }
}

/** SHA-256 of the body's canonical JSON (object keys sorted), so that key order does not make two bodies differ. */
export function bodyHash(body: unknown): string {
  const hash = createHash('sha256');
  canonicalJson(body, (part) => hash.update(part));
  return hash.digest('hex');
}

/**
 * Writes `value` as JSON with sorted object keys, without recursion: a body may nest as deeply
 * as its parser allowed (a member a schema leaves open), deeper than the call stack.
 */
function canonicalJson(value: unknown, write: (part: string) => void): void {
  // Each entry is a value still to write, or text (a separator, a closing bracket) to write as it is.
  const pending: ({ value: unknown } | string)[] = [{ value }];
  while (pending.length > 0) {
    const next = pending.pop() as { value: unknown } | string;
    if (typeof next === 'string') {
      write(next);
      continue;
    }
    const v = next.value;
    if (Array.isArray(v)) {
      write('[');
      pending.push(']');
      for (let i = v.length - 1; i >= 0; i--) {
        pending.push({ value: v[i] });
        if (i > 0) pending.push(',');
      }
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, e]) => e !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      write('{');
      pending.push('}');
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, e] = entries[i] as [string, unknown];
        pending.push({ value: e });
        pending.push(`${i > 0 ? ',' : ''}${JSON.stringify(k)}:`);
      }
    } else {
      write(JSON.stringify(v) ?? 'null');
    }
  }
}

/** The answer as it may be stored: a JSON object's shown-once fields removed, and a message saying which. */
function withoutSecrets(answer: StoredAnswer): StoredAnswer {
  if (!/^application\/json/i.test(answer.headers['content-type'] ?? '') || !answer.body.startsWith('{')) return answer;
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  const withheld = SHOWN_ONCE.filter((field) => field in body);
  if (withheld.length === 0) return answer;
  for (const field of withheld) delete body[field];
  body.message = `This repeats the answer to the first request with this Idempotency-Key without ${withheld.join(' and ')}, which that answer showed once and which is never stored.`;
  return { ...answer, body: JSON.stringify(body) };
}
