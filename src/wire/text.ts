/**
 * What a string the database stores may contain: one rule, applied by the schemas
 * (`Storable`, `Name` in ./management.ts) and by the few places that take text from
 * elsewhere (a client_id at the token endpoint, a cursor's id).
 *
 * PostgreSQL's text cannot hold U+0000, and UTF-8 cannot encode a lone surrogate (what a
 * JSON `"\ud800"` or a malformed percent-escape decodes to): either would reach the database
 * as an error. Names shown to people also refuse control characters and the bidirectional
 * overrides and isolates (U+202A–U+202E, U+2066–U+2069), with which a name could display as
 * another (`‮nimda` reads as "admin").
 */

/** JSON Schema `pattern` (Ajv compiles it with the `u` flag, where `\uD800-\uDFFF` matches only lone surrogates). */
export const STORABLE_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';
export const NAME_PATTERN = '^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069\\uD800-\\uDFFF]*$';

const STORABLE = new RegExp(STORABLE_PATTERN, 'u');

/** Whether `text` can be stored and compared by the database as it is. */
export function isStorable(text: string): boolean {
  return STORABLE.test(text);
}
