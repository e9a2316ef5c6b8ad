import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';

const INTEGER = /^[-+]?\d{1,16}$/;
const NUMBER = /^[-+]?(?:\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})(?:[eE][-+]?\d{1,3})?$/;

interface Issue {
  readonly keyword: string;
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly params: Record<string, unknown>;
  readonly message: string;
}

const issue = (name: string, message: string): { error: Issue[] } => ({
  error: [{ keyword: 'type', instancePath: `/${name}`, schemaPath: `#/properties/${name}`, params: {}, message }],
});

/**
 * TypeBox's validation, with the query's and the path's numbers taken as they are written.
 * TypeBox converts query strings leniently before checking them: `limit=1.5` became 1,
 * `limit=true` 1 and `limit=0x10` 16, and a parameter given twice became an array that failed
 * with "must be integer". Here a number must be written in decimal, and a parameter that is
 * not a list must be given once; everything else is TypeBox's own check.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  const inner = TypeBoxValidatorCompiler(route);
  if (route.httpPart !== 'querystring' && route.httpPart !== 'params') return inner;
  const properties = (route.schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  const fields = Object.entries(properties).map(([name, s]) => [name, s.type] as const);
  return (value: unknown) => {
    const given = value as Record<string, unknown> | null | undefined;
    if (given && typeof given === 'object') {
      for (const [name, type] of fields) {
        const raw = given[name];
        if (raw === undefined) continue;
        if (Array.isArray(raw) && type !== 'array') return issue(name, 'is given more than once');
        if (typeof raw !== 'string') continue;
        if (type === 'integer' && !INTEGER.test(raw)) return issue(name, 'must be an integer, written in decimal digits');
        if (type === 'number' && !NUMBER.test(raw)) return issue(name, 'must be a number, written in decimal');
      }
    }
    return inner(value);
  };
};
