import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Request validation with two Ajv instances. Query strings and path parameters arrive as
 * text, so they are coerced (`?limit=50` → 50); bodies are typed strictly: JSON says what
 * type a value has, and `"60"` or `true` for a number of seconds is a mistake to report, not
 * to guess at. `coerceTypes: true` (unlike Fastify's default `'array'`) never turns a
 * repeated parameter into a scalar or a scalar into a list, so RFC 6749's "at most once"
 * (§3.2) still fails validation.
 *
 * The `x-nfc` keyword normalizes a string to Unicode NFC as it validates, so that two names
 * that look the same are stored the same.
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const common: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false, strict: false };
  const strict = withKeywords(new Ajv({ ...common, coerceTypes: false }));
  const coercing = withKeywords(new Ajv({ ...common, coerceTypes: true }));
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object);
}

function withKeywords(ajv: Ajv): Ajv {
  addFormats.default(ajv);
  ajv.addKeyword({
    keyword: 'x-nfc',
    schemaType: 'boolean',
    modifying: true,
    errors: false,
    validate: (enabled: boolean, data: unknown, _schema: unknown, ctx?: { parentData: Record<string | number, unknown>; parentDataProperty: string | number }) => {
      if (enabled && typeof data === 'string' && ctx) ctx.parentData[ctx.parentDataProperty] = data.normalize('NFC');
      return true;
    },
  });
  return ajv;
}
