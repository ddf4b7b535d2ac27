import fc from 'fast-check';

/**
 * The values the fuzz requests are made of, and how they are written onto the wire.
 *
 * A generated request is symbolic: a `Ref` names a fixture (the seeded organization, the
 * signed-in admin's cookie, a live refresh token…) and is resolved when the request is
 * sent, so a request shrunk by fast-check after a fixture was replaced still means the
 * same thing. A `Raw` is a JSON token written as is (`1e309`, `NaN`, a 5,000-deep array,
 * an object with a duplicate key): JSON.stringify cannot produce those.
 */

/** The fixtures a request can name (harness.ts resolves them). */
export const REF_NAMES = [
  'orgA',
  'orgB',
  'adminId',
  'memberId',
  'adminEmail',
  'memberEmail',
  'apiId',
  'mgmtApiId',
  'apiIdentifier',
  'mgmtAudience',
  'roleId',
  'clientV',
  'clientVSecret',
  'mgmtClient',
  'mgmtSecret',
  'mgmtToken',
  'clientToken',
  'refreshToken',
  'spentRefreshToken',
  'inviteToken',
  'wellFormedSecret',
  'cursor',
] as const;
export type RefName = (typeof REF_NAMES)[number];

export class Ref {
  constructor(readonly name: RefName) {}
  toJSON(): string {
    return `<${this.name}>`;
  }
}

export class Raw {
  constructor(readonly text: string) {}
  toJSON(): string {
    return `<raw ${this.text.length > 80 ? `${this.text.slice(0, 40)}…(${this.text.length} chars)` : this.text}>`;
  }
}

/** A JSON object that may repeat a key (`{"name":"a","name":"\u0000"}`). */
export class Entries {
  constructor(readonly entries: [string, Value][]) {}
  toJSON(): Record<string, unknown> {
    return Object.fromEntries(this.entries.map(([k, v], i) => [this.entries.findIndex(([k2]) => k2 === k) === i ? k : `${k} (again)`, v]));
  }
}

/** Also a text that a value may be one of: `Ref`s stand for strings. */
export type Value = string | number | boolean | null | Ref | Raw | Entries | Value[] | { [key: string]: Value };

export const ref = (name: RefName) => fc.constant(new Ref(name));
const raw = (text: string) => new Raw(text);

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.nat(0xffff).map((c) => String.fromCharCode(c));

/** Strings a careless handler chokes on: NUL, lone surrogates, bidi overrides, control characters, long ones. */
/** What PostgreSQL refuses in text: NUL, and lone surrogates (not UTF-8 at all). */
const POISON_STRINGS = ['\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\udc00\ud800', '\u0000'.repeat(300)];

const HOSTILE_STRINGS = [
  '\u202e',
  'abc\u202Edef\u202c',
  '\u2066x\u2069',
  '\u0001\u0008\u001b[31m\u007f',
  '\u0085\u2028\u2029',
  '\r\n',
  '\t',
  '\ufeff',
  '\uffff\ufffe',
  '\u{10ffff}',
  '🦀',
  'e\u0301\u0301\u0301',
  '',
  ' ',
  'null',
  'true',
  'undefined',
  '__proto__',
  'constructor',
  '../../etc/passwd',
  '%00',
  '%',
  '%zz',
  '%E0%A4%A',
  '%ED%A0%80',
  "' or '1'='1",
  '"; drop table users; --',
  '\\',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell-style lookup, sent as text on purpose
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  'x'.repeat(129),
  'x'.repeat(257),
  'x'.repeat(513),
  'x'.repeat(2049),
  'x'.repeat(20_000),
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...POISON_STRINGS) },
  { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom('\u0000', '\ud800', '\u202e', '\u0007'), fc.string({ maxLength: 6 })).map(([a, b, c]) => a + b + c) },
);

/**
 * Numbers JSON.parse turns into Infinity, or that are not integers, not positive, not safe, not numbers at all;
 * and numbers as strings, which Ajv's type coercion turns into numbers (±Infinity included).
 */
export const hostileNumber: fc.Arbitrary<Value> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom<Value>('1e309', '-1e309', 'Infinity', '-Infinity', '1e400') },
  {
    weight: 5,
    arbitrary: fc.constantFrom<Value>(
      raw('1e309'),
      raw('-1e309'),
      raw('1e-400'),
      raw('-0'),
      raw('NaN'),
      raw('Infinity'),
      raw('9223372036854775808'),
      raw('1.0'),
      raw('0x10'),
      -1,
      0,
      0.5,
      1e21,
      2 ** 31,
      2 ** 53 + 2,
      Number.MIN_VALUE,
      '60',
      'NaN',
      '0x10',
      ' 5',
    ),
  },
);

const nested = (depth: number, open: string, close: string, inner = '') => raw(open.repeat(depth) + inner + close.repeat(depth));

/** Any hostile JSON value: wrong types, weird numbers, deep nesting. */
export const hostileValue: fc.Arbitrary<Value> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 3, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom<Value>(true, false, null, [], {}, [null], { '': '' }, { __proto__: { x: 1 } } as Value) },
  { weight: 1, arbitrary: fc.constantFrom(nested(64, '[', ']'), nested(5000, '[', ']'), nested(2000, '{"a":', '}', '1'), raw('{"a":1,"a":2}')) },
);

/** RFC 3986 percent-encoding of every code unit; a lone surrogate becomes its WTF-8 bytes (invalid UTF-8), as a careless client sends it. */
export function pct(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += encodeURIComponent(s.slice(i, i + 2));
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      out += Buffer.from([0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)])
        .toString('hex')
        .replace(/../g, (h) => `%${h.toUpperCase()}`);
      continue;
    }
    out += encodeURIComponent(s[i] as string);
  }
  return out;
}

/** A query or form value as the client writes it: encoded, or as raw bytes a lax client leaves as they are. */
export type Encoded = { text: string; raw?: true };

/** Percent-sequences no decoder can make sense of (written into the URL or form as they are). */
export const malformedPercent = fc.constantFrom('%', '%zz', '%0', '%E0%A4%A', '%ED%A0%80', '%C0%80', '%FF%FE', '%00', '%2500', '%u0000', 'a%');

/** JSON text for a value, `Raw` tokens and repeated keys included; `resolve` turns refs into strings. */
export function toJson(v: Value, resolve: (r: Ref) => string): string {
  if (v instanceof Ref) return JSON.stringify(resolve(v));
  if (v instanceof Raw) return v.text;
  if (v instanceof Entries) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJson(x, resolve)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map((x) => toJson(x, resolve)).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x, resolve)}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** Form (or query) pairs for a value: arrays repeat the key, objects nest with brackets. */
export function toPairs(key: string, v: Value, resolve: (r: Ref) => string): [string, string][] {
  if (v instanceof Ref) return [[key, resolve(v)]];
  if (v instanceof Raw) return [[key, v.text.length > 2000 ? v.text.slice(0, 2000) : v.text]];
  if (v instanceof Entries) return v.entries.flatMap(([k, x]) => toPairs(key === '' ? k : `${key}[${k}]`, x, resolve));
  if (Array.isArray(v)) return v.length === 0 ? [[key, '']] : v.flatMap((x) => toPairs(key, x, resolve));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => toPairs(key === '' ? k : `${key}[${k}]`, x, resolve));
  return [[key, v === null ? '' : String(v)]];
}

/** Header values carry bytes 0x09, 0x20-0x7E and 0x80-0xFF only: anything else never gets past a real HTTP parser. */
export function headerSafe(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    out +=
      c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff)
        ? ch
        : Buffer.from(ch)
            .toString('latin1')
            .replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
  }
  return out;
}

/** Base64url JSON of a page cursor, well formed or forged. */
export const cursorText = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Cursors a client can forge: `["1","x"]` (WyIxIiwieCJd), impossible dates, out-of-range years, wrong shapes, NUL ids. */
export const forgedCursor: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'WyIxIiwieCJd',
      cursorText(['2024-02-30T00:00:00.000Z', 'x']),
      cursorText(['2024-13-01T00:00:00.000Z', 'x']),
      cursorText(['+275760-09-13T00:00:00.000Z', 'x']),
      cursorText(['-271821-04-20T00:00:00.000Z', 'x']),
      cursorText(['+010000-01-01T00:00:00.000Z', 'x']),
      cursorText(['0000-01-01T00:00:00.000Z', 'x']),
      cursorText(['-000001-01-01T00:00:00.000Z', 'x']),
      cursorText(['Tue, 01 Jan 2030 00:00:00 GMT', 'x']),
      cursorText(['2024-01-01T00:00:00.000Z', '\u0000']),
      cursorText(['2024-01-01T00:00:00.000Z', '\ud800']),
      cursorText(['2024-01-01\u0000', 'x']),
      cursorText(['2024-01-01T00:00:00.000Z', 1]),
      cursorText(['2024-01-01T00:00:00.000Z']),
      cursorText({ at: '2024-01-01', id: 'x' }),
      cursorText('x'),
      cursorText(null),
      '!!!!',
      '====',
      'W10',
      'WyI',
      'x'.repeat(512),
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.stringMatching(/^[0-9 :TZ+-]{1,12}$/),
          fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString())),
        ),
        fc.string({ maxLength: 8 }),
      )
      .map(cursorText),
  },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
);
