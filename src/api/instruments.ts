/** Instruments and their parameters: `/api/v1/instruments/...`. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayService, ParamErrorView, ReadResult, ValueView } from '../gateway/index.js';
import { GatewayError, type RefusalLimiter } from '../shared/index.js';
import { clientAddress, logRefusal, logWriteRefusals, requireToken } from './auth.js';
import { ApiError } from './errors.js';

/** Writes are impossible in bridge mode (unless it injects) whoever asks: 409 BRIDGE_READ_ONLY, logged (limited) with the client address. */
function refuseInBridgeMode(service: GatewayService, refusals: RefusalLimiter) {
  return async function bridgeReadOnly(request: FastifyRequest): Promise<void> {
    if (service.mode !== 'bridge' || service.injects === true) return;
    const message = 'the gateway runs as a passive bridge: another master owns the bus, so it does not write to instruments';
    logRefusal(refusals, request, 'BRIDGE_READ_ONLY', message);
    throw new GatewayError('BRIDGE_READ_ONLY', message, {});
  };
}
import {
  InstrumentList,
  InstrumentViewSchema,
  MultiWriteBody,
  MultiWriteResultSchema,
  NodeParams,
  ParamErrorViewSchema,
  ParamParams,
  ReadOneQuery,
  ReadQuery,
  ReadResultSchema,
  SnapshotSchema,
  ValueViewSchema,
  WriteBody,
  WriteResultSchema,
  errorResponses,
} from './schemas.js';

export interface RouteOptions {
  readonly service: GatewayService;
  readonly token: string | null | undefined;
  /** Where refused requests are logged, bounded per client host and code. */
  readonly refusals: RefusalLimiter;
}

const TAG = ['instruments'];

function isError(v: ValueView | ParamErrorView): v is ParamErrorView {
  return 'error' in v;
}

/**
 * The 200 answer of a chained read as its response schema writes it, item by item. The schema's
 * items are a union (a value, or a parameter that failed inline), for which fast-json-stringify
 * validates each item against the branches, formats included, to find its shape; here the shape
 * is known (`error` in it), and each item goes through its own branch's compiled serialiser.
 */
export function readResultSerializer(reply: FastifyReply): (result: ReadResult) => string {
  // Compiled once per route and schema (Fastify keeps them); the types are the schemas' own.
  type Schema = Parameters<FastifyReply['compileSerializationSchema']>[0];
  const value = reply.compileSerializationSchema(ValueViewSchema as unknown as Schema) as unknown as (v: ValueView) => string;
  const failed = reply.compileSerializationSchema(ParamErrorViewSchema as unknown as Schema) as unknown as (v: ParamErrorView) => string;
  return (result) => {
    let out = `{"instrument":${JSON.stringify(result.instrument)},"values":[`;
    for (let i = 0; i < result.values.length; i++) {
      const v = result.values[i] as ValueView | ParamErrorView;
      out += (i > 0 ? ',' : '') + (isError(v) ? failed(v) : value(v));
    }
    return `${out}]}`;
  };
}

function maxAgeOption(maxAge: number | undefined): { maxAge?: number } {
  return maxAge === undefined ? {} : { maxAge };
}

/**
 * Most parameters one `names=` list may carry. One chained read carries about 20 (64 request
 * bytes); a longer list becomes several transactions, so each request's share of the bus, and of
 * the name lookups, stays bounded.
 */
export const MAX_NAMES = 32;

/** `fMeasure, fSetpoint,,fluidName` -> three names; more than MAX_NAMES is a 400 naming the limit. */
export function splitNames(names: string): string[] {
  const list = names
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
  if (list.length > MAX_NAMES) {
    throw new ApiError('API_BAD_REQUEST', `querystring.names lists ${list.length} parameters; one read takes at most ${MAX_NAMES}`, {
      field: 'querystring.names',
      count: list.length,
      max: MAX_NAMES,
    });
  }
  return list;
}

export const instrumentRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { service, token, refusals }) => {
  app.get(
    '/instruments',
    {
      schema: {
        operationId: 'listInstruments',
        tags: TAG,
        summary: 'Every instrument: identity, online state and latest polled values',
        response: { 200: InstrumentList, ...errorResponses() },
      },
    },
    async () => ({ instruments: service.instruments() }),
  );

  app.get(
    '/instruments/:node',
    {
      schema: {
        operationId: 'getInstrument',
        tags: TAG,
        summary: 'One instrument',
        params: NodeParams,
        response: { 200: InstrumentViewSchema, ...errorResponses(400, 404, 409) },
      },
    },
    async (request) => service.instrument(request.params.node),
  );

  app.get(
    '/instruments/:node/parameters',
    {
      schema: {
        operationId: 'readParameters',
        tags: TAG,
        summary: 'Read several parameters in one chained request',
        description:
          'Each value carries its DDE number, key, name, unit, raw bytes, value, label and time. A parameter that fails on its own is reported inline (with `error`); when every parameter fails for the same reason, that reason is the HTTP error.',
        params: NodeParams,
        querystring: ReadQuery,
        response: { 200: ReadResultSchema, ...errorResponses(400, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      const { node } = request.params;
      const names = request.query.names === undefined ? [...service.instrument(node).polling.parameters] : splitNames(request.query.names);
      const result = await service.readParams(node, names, maxAgeOption(request.query.maxAge));
      // Only the answer: an error goes to the error handler's own serialiser. A reply with its own
      // serialiser gets no content type from Fastify: the one it would have had.
      reply.type('application/json; charset=utf-8').serializer(readResultSerializer(reply));
      return result;
    },
  );

  app.get(
    '/instruments/:node/parameters/:param',
    {
      schema: {
        operationId: 'readParameter',
        tags: TAG,
        summary: 'Read one parameter (by key, name or DDE number)',
        params: ParamParams,
        querystring: ReadOneQuery,
        response: { 200: ValueViewSchema, ...errorResponses(400, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request) => {
      const { node, param } = request.params;
      const result = await service.readParams(node, [param], maxAgeOption(request.query.maxAge));
      const value = result.values[0];
      if (value === undefined) throw new GatewayError('BUS_BAD_REPLY', `no value for ${param} in the answer`, { node, param });
      if (isError(value)) throw new GatewayError(value.error.code, value.error.message, value.error.details);
      return value;
    },
  );

  app.put(
    '/instruments/:node/parameters/:param',
    {
      // In bridge mode another master owns the bus: say so before asking for a token.
      onRequest: [refuseInBridgeMode(service, refusals), requireToken(token, refusals)],
      onError: logWriteRefusals(refusals),
      schema: {
        operationId: 'writeParameter',
        tags: TAG,
        summary: 'Write one parameter (needs the API token)',
        description:
          'Validates the value against the parameter database (range, length, enumeration labels), writes it, and reads it back. Needs `Authorization: Bearer <token>`; without a configured token every write is refused with 403 API_WRITES_DISABLED. Send it with `content-type: application/json` (415 otherwise). Every accepted write is logged with the client address; refusals are logged once per client host and code, then counted once a minute.',
        security: [{ bearer: [] }],
        params: ParamParams,
        body: WriteBody,
        response: { 200: WriteResultSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request) => {
      const { node, param } = request.params;
      const { value, unit } = request.body;
      return service.writeParam(node, param, value, { source: clientAddress(request), ...(unit !== undefined ? { unit } : {}) });
    },
  );

  app.put(
    '/instruments/:node/parameters',
    {
      onRequest: [refuseInBridgeMode(service, refusals), requireToken(token, refusals)],
      onError: logWriteRefusals(refusals),
      schema: {
        operationId: 'writeParameters',
        tags: TAG,
        summary: 'Write several parameters at once (needs the API token)',
        description:
          'Every value is checked first, as for the single write; any refusal refuses them all (400 PARAM_WRITE_REFUSED, `details.problems` lists each; nothing is written). Then the values go out as chained writes in the order given, as few as `maxRequestBytes` allows (`transactionIds` has one per request), secured parameters inside Init Reset 64 ... 82 (with `secured: true`), and are read back in one chained read. Values checked against the capacity cannot be written together with fluidsetIndex, capacity or capacityUnit.',
        security: [{ bearer: [] }],
        params: NodeParams,
        body: MultiWriteBody,
        response: { 200: MultiWriteResultSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request) => {
      if (!service.writeParams) throw new GatewayError('BRIDGE_READ_ONLY', 'this gateway mode does not write to instruments (bridge mode writes only with bridge.inject on)', {});
      return service.writeParams(request.params.node, request.body, { source: clientAddress(request) });
    },
  );

  app.get(
    '/instruments/:node/snapshot',
    {
      schema: {
        operationId: 'snapshotInstrument',
        tags: TAG,
        summary: 'Every readable parameter of one instrument (for a backup)',
        description:
          'Reads every parameter the database marks readable, in chained requests one after the other at the lowest bus priority, so polling goes on meanwhile (a few seconds of bus time). Parameters the instrument refuses are listed in `unsupported`. While one snapshot of an instrument is being read, another request gets the same one.',
        params: NodeParams,
        response: { 200: SnapshotSchema, ...errorResponses(400, 404, 409, 502, 503, 504) },
      },
    },
    async (request) => {
      if (!service.snapshot) {
        throw new GatewayError('BRIDGE_READ_ONLY', 'the gateway runs as a passive bridge: another master owns the bus, so it does not read instruments itself; a snapshot needs master mode, or bridge.inject on', {});
      }
      return service.snapshot(request.params.node);
    },
  );
};
