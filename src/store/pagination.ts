import { sql, type SelectQueryBuilder } from 'kysely';
import { InvalidCursorError } from '../errors/domain-errors.js';
import { fromEpochMs } from '../clock.js';
import type { Page } from '../wire/management.js';
import { isStorable } from '../wire/text.js';

/** Keyset pagination (docs/http-api.md, "Lists"): stable under inserts, one index range scan per page. */
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

export type { Page } from '../wire/management.js';

export interface Cursor {
  /** ISO timestamp of the last row's sort key. */
  at: string;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
}

/** What `encodeCursor` writes for a time: `Date.toISOString()` of a year 0001–9999 (PostgreSQL has no year 0). */
const ISO_INSTANT = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Undefined for anything that is not a cursor we made: the time must be exactly what
 * `toISOString()` gives for it (no impossible dates, no years PostgreSQL refuses), the id
 * text the database can compare.
 */
export function decodeCursor(text: string): Cursor | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [at, id] = value as unknown[];
  if (typeof at !== 'string' || typeof id !== 'string' || !ISO_INSTANT.test(at) || !isStorable(id) || id.length > 256) return undefined;
  const ms = Date.parse(at);
  return Number.isFinite(ms) && fromEpochMs(ms).toISOString() === at ? { at, id } : undefined;
}

/** A page request's position; a cursor we did not make is an InvalidCursorError. */
function cursorOf(page: PageRequest): Cursor | undefined {
  if (page.cursor === undefined) return undefined;
  const cursor = decodeCursor(page.cursor);
  if (!cursor) throw new InvalidCursorError();
  return cursor;
}

/**
 * Newest first by (`atColumn`, `idColumn`), after the cursor, one row more than the page
 * (to know whether there is a next one). Rows must store their timestamp from a JS Date
 * (millisecond precision) so the cursor compares exactly.
 */
export function newestFirst<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, page: PageRequest, atColumn: string, idColumn: string): SelectQueryBuilder<DB, TB, O> {
  const after = cursorOf(page);
  let q = query
    .orderBy(sql.ref(atColumn), 'desc')
    .orderBy(sql.ref(idColumn), 'desc')
    .limit(page.limit + 1);
  if (after) q = q.where(sql<boolean>`(${sql.ref(atColumn)}, ${sql.ref(idColumn)}) < (${after.at}::timestamptz, ${after.id})`);
  return q;
}

/** The page of `rows` (fetched with `newestFirst`) and the cursor to the next one. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => { at: Date; id: string }): Page<T> {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  if (rows.length <= limit || !last) return { data, next_cursor: null };
  const key = keyOf(last);
  return { data, next_cursor: encodeCursor({ at: key.at.toISOString(), id: key.id }) };
}
