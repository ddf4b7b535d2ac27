import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import type { Access } from '../../src/http/management/access.js';
import { PASSWORD } from '../helpers/management.js';
import { Entries, forgedCursor, headerSafe, hostileNumber, hostileString, hostileValue, malformedPercent, pct, Raw, Ref, ref, toJson, toPairs, type Value } from './values.js';
import { tampered } from '../helpers/tamper.js';

/**
 * Requests for one route, drawn from its own schemas (so that handlers run, not only the
 * validators) and from the hostile sets of ./values.ts, with every way of saying who calls.
 */

/** What the fuzz knows of a route: from Fastify's `onRoute` (harness.ts). */
export interface RouteInfo {
  method: string;
  /** For the methods a URL does not have: one of these. */
  methods?: string[];
  url: string;
  /** The route's errors speak RFC 6749 §5.2. */
  oauth: boolean;
  access: Access | undefined;
  schema: { params?: JsonSchema; querystring?: JsonSchema; body?: JsonSchema };
}

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
}

type Param = { value: Value; raw?: true };
type Pair = { key: string; value: Value; raw?: true };

export type Auth =
  | { kind: 'none' }
  | { kind: 'session'; who: 'admin' | 'member'; csrf: 'right' | 'missing' | 'wrong'; csrfText?: string }
  | { kind: 'cookie'; cookie: string; csrf?: string }
  | { kind: 'bearer'; token: Value }
  | { kind: 'basic'; id: Value; secret: Value; encode: boolean }
  | { kind: 'authorization'; value: string };

export type Body = { kind: 'none' } | { kind: 'json'; value: Value } | { kind: 'form'; pairs: Pair[] } | { kind: 'text'; text: string };

/** One symbolic request; `render` makes it concrete. */
export interface FuzzRequest {
  method: string;
  params: Record<string, Param>;
  query: Pair[];
  auth: Auth;
  /** Client credentials in the body or query of an OAuth request. */
  creds: Pair[];
  body: Body;
  /** Overrides the content type the body implies; null sends none. */
  contentType?: string | null;
  headers: [string, string][];
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// --- values by schema and by the name of the field ---------------------------------------

const email = fc.oneof(ref('memberEmail'), ref('adminEmail'), fc.emailAddress(), fc.constantFrom('New.Person@Example.COM', 'a@b.co'));
const slug = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
const permissionValue = fc.oneof(fc.constantFrom('meters:read', 'meters:write', 'clients:read', 'clients:write', 'roles:read', 'audit:read'), fc.stringMatching(/^[a-z]{1,8}:[a-z]{1,8}$/));
const audience = fc.oneof(ref('apiIdentifier'), ref('mgmtAudience'), fc.webUrl(), fc.constantFrom('https://unknown.example.com/', 'urn:x'));
const anyToken = fc.oneof(
  ref('clientToken'),
  ref('mgmtToken'),
  ref('refreshToken'),
  ref('spentRefreshToken'),
  fc.constantFrom('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'a.b.c', 'pcr_0000000000000000000000000000000000000000000', 'pcr_'),
);

/**
 * Real public JWKs for `jwks.keys` (create and `PUT …/jwks`): numbers drawn from the schema
 * alone are never a point on the curve, so without these the key-storing paths would not run.
 * A private JWK (with `d`) is among them, for the refusal that names it.
 */
const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicJwks = [
  { ...ecKey.publicKey.export({ format: 'jwk' }), alg: 'ES256' },
  generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }),
  { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), kid: 'rsa-1' },
] as Value[];
const privateJwk = ecKey.privateKey.export({ format: 'jwk' }) as Value;

/** Values a field of this name should take, whatever its schema says (refs to the seeded fixtures, mostly). */
function hinted(key: string | undefined, oauth: boolean): fc.Arbitrary<Value> | undefined {
  switch (key) {
    case 'email':
      return email;
    case 'password':
      return fc.oneof({ weight: 4, arbitrary: fc.constant(PASSWORD) }, { weight: 1, arbitrary: fc.string({ minLength: 12, maxLength: 16 }) }, { weight: 1, arbitrary: fc.constant('short') });
    case 'token':
      return oauth ? anyToken : fc.oneof(ref('inviteToken'), fc.string({ minLength: 1, maxLength: 30 }));
    case 'cursor':
      return fc.oneof(ref('cursor'), forgedCursor);
    case 'identifier':
      return fc.oneof({ weight: 4, arbitrary: fc.webUrl() }, { weight: 1, arbitrary: ref('apiIdentifier') });
    case 'api':
      return audience;
    case 'value':
      return permissionValue;
    case 'roles':
      return fc.array(fc.oneof(ref('roleId'), fc.constantFrom('client-manager', 'client-reader'), slug), { maxLength: 3 });
    case 'id':
      return slug;
    case 'grant_type':
      return fc.constantFrom('client_credentials', 'client_credentials', 'refresh_token', 'password', 'authorization_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    case 'audience':
    case 'resource':
      return audience;
    case 'scope':
      return fc.oneof(fc.constantFrom('meters:read', 'meters:read meters:write', 'clients:read roles:read', 'clients:write', 'meters:read  meters:write', ' '), permissionValue);
    case 'refresh_token':
      return fc.oneof(ref('refreshToken'), ref('spentRefreshToken'), fc.constantFrom('pcr_x', 'pcr_0000000000000000000000000000000000000000000'));
    case 'keys':
      return fc.oneof(
        { weight: 4, arbitrary: fc.subarray(publicJwks, { minLength: 1 }).map((keys) => [...keys]) },
        { weight: 1, arbitrary: fc.constant([] as Value[]) },
        { weight: 1, arbitrary: fc.constant([privateJwk]) },
      ) as fc.Arbitrary<Value>;
    case 'token_type_hint':
      return fc.constantFrom('access_token', 'refresh_token', 'id_token');
    default:
      return undefined;
  }
}

/** A value valid for `schema` (leaves hostile with odds 1 in `1 + 5 / hostility`). */
function valueFor(schema: JsonSchema | undefined, key: string | undefined, ctx: { oauth: boolean; hostility: number }, depth = 0): fc.Arbitrary<Value> {
  const valid = validFor(schema, key, ctx, depth);
  return ctx.hostility === 0 ? valid : fc.oneof({ weight: 5, arbitrary: valid }, { weight: ctx.hostility, arbitrary: hostileValue });
}

function validFor(schema: JsonSchema | undefined, key: string | undefined, ctx: { oauth: boolean; hostility: number }, depth: number): fc.Arbitrary<Value> {
  const hint = hinted(key, ctx.oauth);
  if (hint) return hint;
  if (!schema || depth > 4) return fc.constant('x');
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => validFor(s, key, ctx, depth + 1)));
  if (schema.const !== undefined) return fc.constant(schema.const as Value);
  switch (schema.type) {
    case 'object': {
      const props = schema.properties ?? {};
      const model: Record<string, fc.Arbitrary<Value>> = {};
      for (const [k, s] of Object.entries(props)) model[k] = valueFor(s, k, ctx, depth + 1);
      return fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in props) }) as fc.Arbitrary<Value>;
    }
    case 'array':
      // Unique by `value` (permissions) or as a whole: duplicates only make the valid requests fewer.
      return fc.uniqueArray(valueFor(schema.items, undefined, ctx, depth + 1), {
        maxLength: Math.min(schema.maxItems ?? 3, 3),
        selector: (v) => JSON.stringify(v !== null && typeof v === 'object' && 'value' in v ? v.value : v),
      });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'string': {
      const maxLength = Math.min(schema.maxLength ?? 40, 40);
      if (schema.format === 'email') return email;
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= (schema.maxLength ?? 64));
      return fc.string({
        minLength: Math.min(schema.minLength ?? 0, maxLength),
        maxLength,
        unit: fc.oneof({ weight: 9, arbitrary: fc.string({ minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: fc.constantFrom('é', '🦀', ' ', '-') }),
      });
    }
    default:
      return fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean());
  }
}

/** Extra keys a hostile body or query adds: the schema's own again (a duplicate), unknown ones, prototype keys. */
const extraKey = (schema: JsonSchema | undefined) =>
  fc.oneof(
    fc.constantFrom(...Object.keys(schema?.properties ?? { x: {} }), 'x', '__proto__', 'constructor', 'a[b]', 'a.b', ''),
    hostileString.map((s) => s.slice(0, 40)),
  );

/** The object for `schema` as (possibly repeated) entries, with hostile extras when hostility > 0. */
function entriesFor(schema: JsonSchema | undefined, ctx: { oauth: boolean; hostility: number }): fc.Arbitrary<Entries> {
  // The OAuth routes' schemas list the client credentials too: `credsFor` places those.
  const own = ctx.oauth && schema?.properties ? { ...schema, properties: Object.fromEntries(Object.entries(schema.properties).filter(([k]) => k !== 'client_id' && k !== 'client_secret')) } : schema;
  const base = own?.type === 'object' ? (validFor(own, undefined, ctx, 0) as fc.Arbitrary<Record<string, Value>>) : fc.constant<Record<string, Value>>({});
  const extras: fc.Arbitrary<[string, Value][]> = ctx.hostility === 0 ? fc.constant([]) : fc.array(fc.tuple(extraKey(schema), hostileValue), { maxLength: 2 });
  return fc.tuple(base, extras).map(([obj, more]) => new Entries([...Object.entries(obj), ...more]));
}

// --- the parts of a request --------------------------------------------------------------

/** A path parameter: the fixture it should name, an unknown one, or hostile text (encoded, or malformed percent-encoding as is). */
function paramFor(name: string, hostility: number): fc.Arbitrary<Param> {
  const known: Record<string, fc.Arbitrary<Value>> = {
    org: fc.oneof({ weight: 4, arbitrary: ref('orgA') }, { weight: 2, arbitrary: ref('orgB') }, { weight: 1, arbitrary: fc.constant('org_0000000000000000') }),
    user: fc.oneof({ weight: 4, arbitrary: ref('memberId') }, { weight: 1, arbitrary: ref('adminId') }, { weight: 1, arbitrary: fc.constant('usr_0000000000000000') }),
    api: fc.oneof({ weight: 4, arbitrary: ref('apiId') }, { weight: 1, arbitrary: ref('mgmtApiId') }, { weight: 1, arbitrary: fc.constant('api_0000000000000000') }),
    role: fc.oneof({ weight: 4, arbitrary: ref('roleId') }, { weight: 1, arbitrary: fc.constantFrom('client-manager', 'client-reader', 'no-such-role') }),
    client_id: fc.oneof({ weight: 4, arbitrary: ref('clientV') }, { weight: 1, arbitrary: ref('mgmtClient') }, { weight: 1, arbitrary: fc.constant('pcc_0000000000000000') }),
    '*': fc.constantFrom('', 'index.html', 'assets/app.js', 'organizations/x', 'setup', 'favicon.ico', '..%2f..%2fetc%2fpasswd', '%2e%2e/%2e%2e/package.json', 'api/v1/x', 'a/b/c.d'),
  };
  const valid = (known[name] ?? fc.string({ minLength: 1, maxLength: 10 })).map((value): Param => (name === '*' && typeof value === 'string' ? { value, raw: true } : { value }));
  if (hostility === 0) return valid;
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: hostility * 2, arbitrary: hostileString.filter((s) => s.length > 0).map((value): Param => ({ value })) },
    { weight: hostility, arbitrary: malformedPercent.map((value): Param => ({ value, raw: true })) },
  );
}

function queryFor(route: RouteInfo, hostility: number): fc.Arbitrary<Pair[]> {
  const schema = route.schema.querystring;
  const ctx = { oauth: route.oauth, hostility };
  // The OAuth routes' query schema lists client credentials: `credsFor` places those.
  const own = schema && !route.oauth ? entriesFor(schema, ctx).map((e) => e.entries.map(([key, value]): Pair => ({ key, value }))) : fc.constant<Pair[]>([]);
  if (hostility === 0) return own;
  const odd = fc.oneof(
    fc.tuple(extraKey(schema), hostileValue).map(([key, value]): Pair => ({ key, value })),
    fc.tuple(fc.constantFrom('limit', 'cursor', 'x'), malformedPercent).map(([key, value]): Pair => ({ key, value, raw: true })),
    fc.constantFrom<Pair>(
      { key: 'limit', value: new Raw('1e309') },
      { key: 'limit', value: '-1' },
      { key: 'limit', value: '0.5' },
      { key: 'limit', value: 'NaN' },
      { key: 'limit', value: '99999999999999999999' },
    ),
  );
  return fc.tuple(own, fc.array(odd, { maxLength: 2 })).map(([a, b]) => [...a, ...b]);
}

/** Broken ways of saying who calls: no credentials, forged cookies, malformed Authorization headers, hostile bearer tokens. */
const hostileAuth: fc.Arbitrary<Auth> = fc.oneof(
  fc.constant<Auth>({ kind: 'none' }),
  hostileString.map((s): Auth => ({ kind: 'cookie', cookie: `portcullis_session=${s}` })),
  fc.constantFrom<Auth>(
    { kind: 'session', who: 'admin', csrf: 'missing' },
    { kind: 'session', who: 'admin', csrf: 'wrong' },
    { kind: 'cookie', cookie: 'portcullis_session=' },
    { kind: 'cookie', cookie: 'portcullis_session=%ZZ; portcullis_session=x' },
    { kind: 'cookie', cookie: '=;;=; a' },
    { kind: 'authorization', value: 'Bearer' },
    { kind: 'authorization', value: 'Bearer ' },
    { kind: 'authorization', value: 'bearer    x.y.z' },
    { kind: 'authorization', value: `Bearer ${'A'.repeat(9000)}` },
    { kind: 'authorization', value: 'Basic Zm9vOmJhcg==' },
    { kind: 'authorization', value: 'Token x' },
    { kind: 'authorization', value: '' },
  ),
  hostileString.map((s): Auth => ({ kind: 'authorization', value: `Bearer ${s}` })),
  hostileString.map((s): Auth => ({ kind: 'bearer', token: s })),
  fc.tuple(fc.constantFrom<'admin' | 'member'>('admin', 'member'), hostileString).map(([who, csrfText]): Auth => ({ kind: 'session', who, csrf: 'wrong', csrfText })),
);

/** Who calls a management route, the way it should be called: weighted by what the route's access says it needs. */
function authFor(route: RouteInfo, hostile: boolean): fc.Arbitrary<Auth> {
  const access = route.access ?? { public: true };
  const admin = fc.constant<Auth>({ kind: 'session', who: 'admin', csrf: 'right' });
  const member = fc.constant<Auth>({ kind: 'session', who: 'member', csrf: 'right' });
  const bearer = fc.oneof({ weight: 5, arbitrary: ref('mgmtToken') }, { weight: 1, arbitrary: ref('clientToken') }).map((token): Auth => ({ kind: 'bearer', token }));
  const h = hostile ? 2 : 0;
  if ('public' in access) return fc.oneof({ weight: 6, arbitrary: fc.constant<Auth>({ kind: 'none' }) }, { weight: 1, arbitrary: admin }, { weight: h, arbitrary: hostileAuth });
  if ('platformAdmin' in access) return fc.oneof({ weight: 12, arbitrary: admin }, { weight: 1, arbitrary: member }, { weight: 1, arbitrary: bearer }, { weight: h, arbitrary: hostileAuth });
  if ('user' in access) return fc.oneof({ weight: 8, arbitrary: admin }, { weight: 2, arbitrary: member }, { weight: 1, arbitrary: bearer }, { weight: h, arbitrary: hostileAuth });
  return fc.oneof({ weight: 5, arbitrary: admin }, { weight: 2, arbitrary: member }, { weight: 5, arbitrary: bearer }, { weight: h, arbitrary: hostileAuth });
}

/** Client credentials for an OAuth request, and where they go: Basic (encoded or not), the body, the query, two places, none. */
function credsFor(which: 'valid' | 'hostile' | 'any'): fc.Arbitrary<{ auth: Auth; creds: Pair[]; query: Pair[] }> {
  const pairs: fc.Arbitrary<[Value, Value]>[] = [];
  if (which !== 'hostile') {
    pairs.push(fc.constant<[Value, Value]>([new Ref('clientV'), new Ref('clientVSecret')]), fc.constant<[Value, Value]>([new Ref('mgmtClient'), new Ref('mgmtSecret')]));
  }
  if (which !== 'valid') {
    pairs.push(
      // A NUL (or any hostile text) in client_id next to a well-formed secret reaches the client lookup.
      hostileString.map((id): [Value, Value] => [id, new Ref('wellFormedSecret')]),
      hostileString.map((id): [Value, Value] => [`${id}${id === '' ? 'x' : ''}`, new Ref('wellFormedSecret')]),
      fc.tuple(ref('clientV'), fc.oneof(hostileString, ref('wellFormedSecret'), ref('mgmtSecret'))).map(([id, s]): [Value, Value] => [id, s]),
      fc.tuple(hostileString, hostileString).map(([id, s]): [Value, Value] => [id, s]),
    );
  }
  const where =
    which === 'valid' ? fc.constantFrom('basic', 'basic', 'basic-plain', 'body') : fc.constantFrom('basic', 'basic', 'basic-plain', 'body', 'body', 'query', 'basic+body', 'none', 'basic-malformed');
  return fc.tuple(fc.oneof(...pairs), where, fc.constantFrom('', 'Zm9v', 'Og==', '!!!', 'Zm9vOg==', '%%%', 'Basic')).map(([[id, secret], w, junk]) => {
    const body = [
      { key: 'client_id', value: id },
      { key: 'client_secret', value: secret },
    ];
    switch (w) {
      case 'basic':
        return { auth: { kind: 'basic', id, secret, encode: true }, creds: [], query: [] };
      case 'basic-plain':
        return { auth: { kind: 'basic', id, secret, encode: false }, creds: [], query: [] };
      case 'basic-malformed':
        return { auth: { kind: 'authorization', value: `Basic ${junk}` }, creds: [], query: [] };
      case 'body':
        return { auth: { kind: 'none' }, creds: body, query: [] };
      case 'query':
        return { auth: { kind: 'none' }, creds: [], query: body };
      case 'basic+body':
        return { auth: { kind: 'basic', id, secret, encode: true }, creds: body.slice(0, 1), query: [] };
      default:
        return { auth: { kind: 'none' }, creds: [], query: [] };
    }
  });
}

const badJson = fc.constantFrom(
  '{',
  '{"name":',
  '[1,]',
  "{'a':1}",
  '\u0000',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  '{"a":1}garbage',
  'true',
  '"x"',
  '123',
  'null',
  '[]',
  '\ufeff{}',
  '{"__proto__":{"x":1}}',
);

/** The body and the content type it says it has; JSON and form for routes with a body schema, odd ones besides. */
function bodyFor(route: RouteInfo, hostility: number): fc.Arbitrary<{ body: Body; contentType?: string | null }> {
  const ctx = { oauth: route.oauth, hostility };
  const schema = route.schema.body;
  const entries = entriesFor(schema, ctx);
  const json = entries.map((value) => ({ body: { kind: 'json', value } as Body }));
  const formBody = fc
    .tuple(entries, hostility === 0 ? fc.constant([]) : fc.array(fc.tuple(extraKey(schema), malformedPercent), { maxLength: 1 }))
    .map(([e, odd]) => ({ body: { kind: 'form', pairs: [...e.entries.map(([key, value]): Pair => ({ key, value })), ...odd.map(([key, value]): Pair => ({ key, value, raw: true }))] } as Body }));
  const hostile = fc.oneof(
    badJson.map((text) => ({ body: { kind: 'text', text } as Body, contentType: 'application/json' })),
    hostileValue.map((value) => ({ body: { kind: 'json', value } as Body })),
    fc.constantFrom<{ body: Body; contentType?: string | null }>(
      { body: { kind: 'none' }, contentType: 'application/json' },
      { body: { kind: 'none' }, contentType: 'application/x-www-form-urlencoded' },
      { body: { kind: 'text', text: 'a=1' }, contentType: 'text/plain' },
      { body: { kind: 'text', text: '--x\r\n\r\n--x--' }, contentType: 'multipart/form-data; boundary=x' },
      { body: { kind: 'text', text: '{}' }, contentType: 'application/json; charset=utf-16' },
      { body: { kind: 'text', text: '{}' }, contentType: 'application/JSON' },
      { body: { kind: 'text', text: '{}' }, contentType: 'application/json;;;' },
      { body: { kind: 'text', text: '{}' }, contentType: null },
      { body: { kind: 'text', text: `{"name":"${'x'.repeat(20_000)}"}` }, contentType: 'application/json' },
      { body: { kind: 'text', text: `a=${'x'.repeat(20_000)}` }, contentType: 'application/x-www-form-urlencoded' },
    ),
  );
  if (route.oauth) return hostility === 0 ? formBody : fc.oneof({ weight: 6, arbitrary: formBody }, { weight: 2, arbitrary: json }, { weight: hostility, arbitrary: hostile });
  if (schema) return hostility === 0 ? json : fc.oneof({ weight: 6, arbitrary: json }, { weight: 1, arbitrary: formBody }, { weight: hostility, arbitrary: hostile });
  const none = fc.constant({ body: { kind: 'none' } as Body });
  return hostility === 0 ? none : fc.oneof({ weight: 6, arbitrary: none }, { weight: hostility, arbitrary: hostile });
}

const extraHeaders = fc.oneof(
  { weight: 6, arbitrary: fc.constant<[string, string][]>([]) },
  { weight: 1, arbitrary: fc.constant<[string, string][]>([['accept', 'text/html,application/xhtml+xml']]) },
  { weight: 1, arbitrary: hostileString.map((s): [string, string][] => [['accept', headerSafe(s)]]) },
  { weight: 1, arbitrary: hostileString.map((s): [string, string][] => [['x-forwarded-for', headerSafe(s)]]) },
  { weight: 1, arbitrary: fc.constant<[string, string][]>([['accept-encoding', 'gzip, br, *;q=0']]) },
  // The CSV answer of the usage export, asked of every route.
  { weight: 1, arbitrary: fc.constant<[string, string][]>([['accept', 'text/csv']]) },
  // Idempotency-Key: hostile, and one well-formed key that repeats across requests (the same key with another body → 409).
  { weight: 1, arbitrary: hostileString.map((s): [string, string][] => [['idempotency-key', headerSafe(s)]]) },
  { weight: 1, arbitrary: fc.constant<[string, string][]>([['idempotency-key', 'fuzz-key-1']]) },
  // DPoP proofs: hostile text, and a compact JWS whose parts are hostile base64url.
  { weight: 1, arbitrary: hostileString.map((s): [string, string][] => [['dpop', headerSafe(s)]]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(hostileString, hostileString)
      .map(([header, claims]): [string, string][] => [['dpop', `${Buffer.from(header).toString('base64url')}.${Buffer.from(claims).toString('base64url')}.c2ln`]]),
  },
  { weight: 1, arbitrary: hostileString.map((s): [string, string][] => [['x-request-id', headerSafe(s)]]) },
);

/** A coherent OAuth request: a client, credentials placed one of the ways RFC 6749 allows, and parameters that make sense for it. */
function validOAuth(route: RouteInfo): fc.Arbitrary<FuzzRequest> {
  const where = fc.constantFrom('basic', 'basic', 'basic-plain', 'body');
  const daemon = [new Ref('clientV'), new Ref('clientVSecret')] as const;
  const automation = [new Ref('mgmtClient'), new Ref('mgmtSecret')] as const;
  const meters = fc.constantFrom('meters:read', 'meters:write', 'meters:read meters:write');
  const management = fc.constantFrom('clients:read', 'clients:read clients:write', 'roles:read audit:read');
  const target = (aud: Ref, scope: fc.Arbitrary<string>) =>
    fc
      .record({ key: fc.constantFrom('audience', 'resource'), scope: fc.option(scope, { nil: undefined }) })
      .map(({ key, scope }) => [{ key, value: aud }, ...(scope ? [{ key: 'scope', value: scope }] : [])]);
  const params: fc.Arbitrary<{ client: readonly [Ref, Ref]; pairs: Pair[] }> = route.url.endsWith('/token')
    ? fc.oneof(
        target(new Ref('apiIdentifier'), meters).map((t) => ({ client: daemon, pairs: [{ key: 'grant_type', value: 'client_credentials' }, ...t] })),
        target(new Ref('mgmtAudience'), management).map((t) => ({ client: automation, pairs: [{ key: 'grant_type', value: 'client_credentials' }, ...t] })),
        fc.option(meters, { nil: undefined }).map((scope) => ({
          client: daemon,
          pairs: [{ key: 'grant_type', value: 'refresh_token' }, { key: 'refresh_token', value: new Ref('refreshToken') }, ...(scope ? [{ key: 'scope', value: scope }] : [])],
        })),
      )
    : fc
        .record({ client: fc.constantFrom(daemon, automation), token: anyToken, hint: fc.option(fc.constantFrom('access_token', 'refresh_token'), { nil: undefined }) })
        .map(({ client, token, hint }) => ({ client, pairs: [{ key: 'token', value: token }, ...(hint ? [{ key: 'token_type_hint', value: hint }] : [])] }));
  return fc.tuple(params, where).map(([{ client, pairs }, w]): FuzzRequest => {
    const [id, secret] = client;
    const body = w === 'body';
    return {
      method: route.method,
      params: {},
      query: [],
      auth: body ? { kind: 'none' } : { kind: 'basic', id, secret, encode: w === 'basic' },
      creds: body
        ? [
            { key: 'client_id', value: id },
            { key: 'client_secret', value: secret },
          ]
        : [],
      body: { kind: 'form', pairs },
      headers: [],
    };
  });
}

function requestsWith(route: RouteInfo, hostility: number): fc.Arbitrary<FuzzRequest> {
  if (route.oauth && hostility === 0) return validOAuth(route);
  const names = [...route.url.matchAll(/:([A-Za-z_]+)|\*/g)].map((m) => m[1] ?? '*');
  const params = fc.record(Object.fromEntries(names.map((n) => [n, paramFor(n, hostility)])) as Record<string, fc.Arbitrary<Param>>);
  const who = route.oauth ? credsFor(hostility === 0 ? 'valid' : 'any') : authFor(route, hostility > 0).map((auth) => ({ auth, creds: [] as Pair[], query: [] as Pair[] }));
  const method = route.methods ? fc.constantFrom(...route.methods) : fc.constant(route.method);
  return fc.record({ method, params, query: queryFor(route, hostility), who, body: bodyFor(route, hostility), headers: hostility === 0 ? fc.constant<[string, string][]>([]) : extraHeaders }).map(
    ({ method, params, query, who, body, headers }): FuzzRequest => ({
      method,
      params,
      query: [...who.query, ...query],
      auth: who.auth,
      creds: who.creds,
      ...body,
      headers,
    }),
  );
}

/** How many places a hostile value can go in a request for `route`: path parameters, query parameters, body fields. */
export function inputsOf(route: RouteInfo): number {
  const params = [...route.url.matchAll(/:([A-Za-z_]+)|\*/g)].length;
  return params + Object.keys(route.schema.querystring?.properties ?? {}).length + pathsOf(route.schema.body).length;
}

/** Every path into a value of `schema` (`['permissions', 0, 'value']`), with the schema there: where a single hostile value can go. */
function pathsOf(schema: JsonSchema | undefined, prefix: (string | number)[] = [], depth = 0): [(string | number)[], JsonSchema][] {
  if (!schema || depth > 3) return [];
  if (schema.anyOf) return schema.anyOf.flatMap((s) => pathsOf(s, prefix, depth + 1));
  if (schema.type === 'object')
    return Object.entries(schema.properties ?? {}).flatMap(([k, s]): [(string | number)[], JsonSchema][] => [[[...prefix, k], s], ...pathsOf(s, [...prefix, k], depth + 1)]);
  if (schema.type === 'array' && schema.items) return [[[...prefix, 0], schema.items], ...pathsOf(schema.items, [...prefix, 0], depth + 1)];
  return [];
}

/** Leaves first: a number or a string field is where a hostile value gets furthest (to the database); a whole object or list less so. */
function leafWeight(schema: JsonSchema): number {
  const types = schema.anyOf ? schema.anyOf.map((s) => s.type) : [schema.type];
  if (types.includes('integer') || types.includes('number')) return 4;
  return types.includes('string') ? 3 : 1;
}

/** A hostile value for a field of `schema`: mostly of its own type (a NUL in a string, 1e309 for an integer), sometimes of another. */
function hostileFor(schema: JsonSchema | undefined, key: string | number | undefined): fc.Arbitrary<Value> {
  if (key === 'cursor') return fc.oneof({ weight: 4, arbitrary: forgedCursor }, { weight: 1, arbitrary: hostileString });
  const types = schema?.anyOf ? schema.anyOf.map((s) => s.type) : [schema?.type];
  if (types.includes('integer') || types.includes('number')) return fc.oneof({ weight: 4, arbitrary: hostileNumber }, { weight: 1, arbitrary: hostileValue });
  if (types.includes('string')) return fc.oneof({ weight: 4, arbitrary: hostileString }, { weight: 1, arbitrary: hostileValue });
  return hostileValue;
}

/** `value` with `v` at `path`, containers made where missing. */
function setAt(value: Value, path: (string | number)[], v: Value): Value {
  const [head, ...rest] = path;
  if (head === undefined) return v;
  if (typeof head === 'number') {
    const list = Array.isArray(value) ? [...value] : [];
    list[head] = setAt(list[head] ?? (typeof rest[0] === 'number' ? [] : {}), rest, v);
    return list;
  }
  if (value instanceof Entries) {
    const i = value.entries.findIndex(([k]) => k === head);
    const inner = setAt(i >= 0 ? (value.entries[i]?.[1] as Value) : typeof rest[0] === 'number' ? [] : {}, rest, v);
    return new Entries(i >= 0 ? value.entries.map((e, j): [string, Value] => (j === i ? [head, inner] : e)) : [...value.entries, [head, inner]]);
  }
  const obj = value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Ref) && !(value instanceof Raw) ? { ...value } : {};
  obj[head] = setAt(obj[head] ?? (typeof rest[0] === 'number' ? [] : {}), rest, v);
  return obj;
}

type Mutation = (r: FuzzRequest) => FuzzRequest;

/** One hostile change to an otherwise valid request: a path parameter, a query parameter, one field of the body, the credentials, the body as a whole, a header. */
function mutationsFor(route: RouteInfo): fc.Arbitrary<Mutation> {
  const names = [...route.url.matchAll(/:([A-Za-z_]+)|\*/g)].map((m) => m[1] ?? '*');
  const options: fc.WeightedArbitrary<Mutation>[] = [];
  if (names.length > 0) {
    const param = fc.oneof(
      { weight: 3, arbitrary: hostileString.filter((s) => s.length > 0).map((value): Param => ({ value })) },
      { weight: 1, arbitrary: malformedPercent.map((value): Param => ({ value, raw: true })) },
    );
    options.push({
      weight: 4,
      arbitrary: fc.tuple(fc.constantFrom(...names), param).map(
        ([name, p]): Mutation =>
          (r) => ({ ...r, params: { ...r.params, [name]: p } }),
      ),
    });
  }
  const queryProps = Object.entries(route.schema.querystring?.properties ?? {}).filter(([k]) => !route.oauth || (k !== 'client_id' && k !== 'client_secret'));
  const queryKeys = queryProps.map(([k]) => k);
  const queryPair = fc.oneof(
    ...queryProps.map(([key, schema]) => ({ weight: 3, arbitrary: hostileFor(schema, key).map((value): Pair => ({ key, value })) })),
    { weight: 1, arbitrary: hostileValue.map((value): Pair => ({ key: 'x', value })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...queryKeys, 'x'), malformedPercent).map(([key, value]): Pair => ({ key, value, raw: true })) },
    { weight: 1, arbitrary: fc.tuple(hostileString, fc.string({ maxLength: 4 })).map(([key, value]): Pair => ({ key, value })) },
  );
  // Replace the parameter, or send it a second time (a=1&a=2).
  options.push({
    weight: queryKeys.length > 0 ? 3 : 1,
    arbitrary: fc.tuple(queryPair, fc.boolean()).map(
      ([pair, again]): Mutation =>
        (r) => ({ ...r, query: [...(again ? r.query : r.query.filter((q) => q.key !== pair.key)), pair] }),
    ),
  });
  const bodyPaths = pathsOf(route.schema.body).filter(([p]) => !route.oauth || (p[0] !== 'client_id' && p[0] !== 'client_secret'));
  if (bodyPaths.length > 0) {
    const field = fc
      .tuple(fc.oneof(...bodyPaths.map(([path, schema]) => ({ weight: leafWeight(schema), arbitrary: fc.tuple(fc.constant(path), hostileFor(schema, path[path.length - 1])) }))), fc.boolean())
      .map(([[path, v], again]) => [path, v, again] as const);
    options.push({
      weight: 6,
      arbitrary: field.map(
        ([path, v, again]): Mutation =>
          (r) => {
            const b = r.body;
            if (b.kind === 'form') {
              const key = path.map((p, i) => (i === 0 ? String(p) : `[${String(p)}]`)).join('');
              return { ...r, body: { kind: 'form', pairs: [...(again ? b.pairs : b.pairs.filter((q) => q.key !== key)), { key, value: v }] } };
            }
            const value = b.kind === 'json' ? b.value : new Entries([]);
            // A repeated top-level key: {"name":"ok","name":"\u0000"}.
            if (again && path.length === 1 && value instanceof Entries) return { ...r, body: { kind: 'json', value: new Entries([...value.entries, [String(path[0]), v]]) } };
            return { ...r, body: { kind: 'json', value: setAt(value, path, v) } };
          },
      ),
    });
  }
  if (route.oauth)
    options.push({
      weight: 5,
      arbitrary: credsFor('hostile').map(
        (c): Mutation =>
          (r) => ({ ...r, ...c, query: [...c.query, ...r.query.filter((q) => q.key !== 'client_id' && q.key !== 'client_secret')] }),
      ),
    });
  else
    options.push({
      weight: 2,
      arbitrary: hostileAuth.map(
        (auth): Mutation =>
          (r) => ({ ...r, auth }),
      ),
    });
  options.push({
    weight: 1,
    arbitrary: bodyFor(route, 3).map(
      (b): Mutation =>
        (r) => ({ ...r, ...b }),
    ),
  });
  options.push({
    weight: 1,
    arbitrary: extraHeaders.map(
      (headers): Mutation =>
        (r) => ({ ...r, headers }),
    ),
  });
  return fc.oneof(...options);
}

/**
 * The requests for `route`: valid-looking ones (the handlers run), valid ones with one
 * hostile change (it reaches the handler past authentication), and chaos (everything hostile at once).
 */
export function requestsFor(route: RouteInfo): fc.Arbitrary<FuzzRequest> {
  const valid = requestsWith(route, 0);
  return fc.oneof({ weight: 2, arbitrary: valid }, { weight: 6, arbitrary: fc.tuple(valid, mutationsFor(route)).map(([r, mutate]) => mutate(r)) }, { weight: 1, arbitrary: requestsWith(route, 3) });
}

// --- onto the wire ------------------------------------------------------------------------

export interface Sessions {
  admin: { cookie: string; csrf: string };
  member: { cookie: string; csrf: string };
}

export interface Wire {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const enc = (p: { value: Value; raw?: true }, resolve: (r: Ref) => string) => {
  const text = p.value instanceof Ref ? resolve(p.value) : typeof p.value === 'string' ? p.value : toJson(p.value, resolve);
  return p.raw ? text : pct(text);
};

/** The concrete request: refs resolved, parameters and values encoded, credentials in their headers. */
export function render(route: RouteInfo, req: FuzzRequest, resolve: (r: Ref) => string, sessions: Sessions): Wire {
  let path = route.url;
  for (const [name, p] of Object.entries(req.params)) path = name === '*' ? path.replace('*', enc(p, resolve)) : path.replace(`:${name}`, enc(p, resolve));
  const qs = req.query.flatMap((p) => (p.raw ? [[p.key, String(p.value)] as [string, string]] : toPairs(p.key, p.value, resolve)).map(([k, v]) => `${pct(k)}=${p.raw ? v : pct(v)}`));
  const url = qs.length > 0 ? `${path}?${qs.join('&')}` : path;

  const headers: Record<string, string> = {};
  const a = req.auth;
  if (a.kind === 'session') {
    const s = sessions[a.who];
    headers.cookie = `portcullis_session=${s.cookie}`;
    if (UNSAFE.has(req.method) && a.csrf !== 'missing') headers['x-csrf-token'] = a.csrf === 'right' ? s.csrf : headerSafe(a.csrfText ?? tampered(s.csrf));
  } else if (a.kind === 'cookie') {
    headers.cookie = headerSafe(a.cookie);
    if (a.csrf !== undefined) headers['x-csrf-token'] = headerSafe(a.csrf);
  } else if (a.kind === 'bearer') {
    headers.authorization = headerSafe(`Bearer ${a.token instanceof Ref ? resolve(a.token) : String(a.token)}`);
  } else if (a.kind === 'basic') {
    const [id, secret] = [a.id, a.secret].map((v) => (v instanceof Ref ? resolve(v) : String(v))) as [string, string];
    const e = a.encode ? (s: string) => pct(s).replace(/%20/g, '+') : (s: string) => s;
    headers.authorization = `Basic ${Buffer.from(`${e(id)}:${e(secret)}`).toString('base64')}`;
  } else if (a.kind === 'authorization') {
    headers.authorization = headerSafe(a.value);
  }
  for (const [k, v] of req.headers) headers[k] = v;

  let payload: string | undefined;
  let type: string | undefined;
  const b = req.body;
  if (b.kind === 'json') {
    const value = req.creds.length > 0 && b.value instanceof Entries ? new Entries([...b.value.entries, ...req.creds.map((c): [string, Value] => [c.key, c.value])]) : b.value;
    payload = toJson(value, resolve);
    type = 'application/json';
  } else if (b.kind === 'form' || (b.kind === 'none' && req.creds.length > 0)) {
    const pairs = [...(b.kind === 'form' ? b.pairs : []), ...req.creds];
    payload = pairs.flatMap((p) => (p.raw ? [[p.key, String(p.value)] as [string, string]] : toPairs(p.key, p.value, resolve)).map(([k, v]) => `${pct(k)}=${p.raw ? v : pct(v)}`)).join('&');
    type = 'application/x-www-form-urlencoded';
  } else if (b.kind === 'text') {
    payload = b.text;
  }
  const contentType = req.contentType === undefined ? type : req.contentType;
  if (contentType !== null && contentType !== undefined) headers['content-type'] = contentType;
  return { method: req.method, url, headers, ...(payload !== undefined ? { payload } : {}) };
}
