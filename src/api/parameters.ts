/** The parameter database: `GET /api/v1/parameters`, for the dashboard's parameter browser and for scripts. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import { allParams, MAX_SEARCH_CHARS, PARAMS_SOURCE, searchParams, type ParamDef } from '../params/index.js';
import { type ParamDefSchema, ParamListQuery, ParamListSchema, errorResponses } from './schemas.js';

type ParamDefView = Static<typeof ParamDefSchema>;

/** The facts a client needs to read or write a parameter (no wire details beyond process and fbnr). */
function view(p: ParamDef): ParamDefView {
  return {
    dde: p.dde,
    key: p.key,
    name: p.name,
    process: p.process,
    fbnr: p.fbnr,
    valueType: p.valueType,
    ...(p.unit === undefined ? {} : { unit: p.unit }),
    read: p.read,
    write: p.write,
    secured: p.secured,
    highlySecured: p.highlySecured,
    min: p.min,
    max: p.max,
    ...(p.maxLength === undefined ? {} : { maxLength: p.maxLength }),
    ...(p.enumeration ? { enumeration: p.enumeration.map((e) => ({ value: e.value, label: e.label, ...(e.mask === undefined ? {} : { mask: e.mask }) })) } : {}),
    ...(p.enumerationOpen ? { enumerationOpen: true } : {}),
    ...(p.bits ? { bits: true } : {}),
    ...(p.description === undefined ? {} : { description: p.description }),
  };
}

export const parameterRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // The whole list is the same for every request: built once.
  const all = allParams().map(view);
  app.get(
    '/parameters',
    {
      schema: {
        operationId: 'listParameters',
        tags: ['instruments'],
        summary: 'The parameter database: every parameter, or those a search finds',
        description: `Each parameter with its DDE number, key, name, type, unit, whether it can be read and written, its range and its enumeration. \`q\` searches as \`flowbus params\` does (best first, at most ${MAX_SEARCH_CHARS} characters). Units: \`capacity\` is the instrument's capacity unit, \`raw\` the 0..32000 scale of 0..100 %.`,
        querystring: ParamListQuery,
        response: { 200: ParamListSchema, ...errorResponses(400) },
      },
    },
    async (request) => {
      const { q, limit } = request.query;
      const parameters = q === undefined || q.trim() === '' ? (limit === undefined ? all : all.slice(0, limit)) : searchParams(q, limit ?? 25).map((h) => view(h.param));
      return { source: PARAMS_SOURCE, count: parameters.length, parameters };
    },
  );
};
