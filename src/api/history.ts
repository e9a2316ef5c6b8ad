/** Logged history of a parameter: `/api/v1/instruments/{node}/parameters/{param}/history` (needs the store). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { parseInstrumentRef, unitFor, type GatewayService } from '../gateway/index.js';
import { resolveParam } from '../params/index.js';
import { GatewayError } from '../shared/index.js';
import { historyCsv, isoFromMicros, parseBucket, parseTime, checkTimeRange } from '../store/index.js';
import { gatewayFilter, sendCsv, wantsCsv, type LogOptions } from './log.js';
import { HistoryQuery, HistoryResultSchema, ParamParams, errorResponses } from './schemas.js';

const HOUR_US = 3_600_000_000;


export const historyRoutes: FastifyPluginAsyncTypebox<LogOptions & { service?: GatewayService }> = async (app, { store, service, gateway }) => {
  app.get(
    '/instruments/:node/parameters/:param/history',
    {
      schema: {
        operationId: 'parameterHistory',
        tags: ['instruments'],
        summary: 'Logged values of one parameter over time: raw, or min/mean/max per bucket for a chart',
        description:
          'From the transaction log (the store). Without `bucket`: every value read, written or observed, oldest first. With `bucket` (`1s`, `1m`, `1h`, ...): count, min, mean and max of the numeric values per bucket, computed in the database; buckets without values are absent. `format=csv` or `Accept: text/csv` gives CSV (`time,time_us,value` or `time,time_us,count,min,mean,max`). 409 GATEWAY_NODE_AMBIGUOUS when a bare node number has history on several buses in the range (the message names `bus:node` for each), or, with `gateway=*`, from several gateways (naming `gateway/bus:node`). Without `gateway=`, this gateway\'s own rows (and those from before gateways were recorded). 503 API_NOT_READY when the gateway runs without a store.',
        params: ParamParams,
        querystring: HistoryQuery,
        response: { 200: HistoryResultSchema, ...errorResponses(400, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      if (!store) throw new GatewayError('API_NOT_READY', 'no transaction log: the gateway runs without a store');
      // The log decides, as in `flowbus export history` (which has no gateway to ask): a bare node is
      // that node when the log holds it on one bus in the range, and a 409 naming `bus:node` for each
      // when on several, even when the gateway itself knows the node on one bus only.
      const { channel, ...ref } = parseInstrumentRef(request.params.node);
      // The log names a channel's values by their process number (34 for fMeasure of channel 2), not by parameter.
      if (channel !== undefined) {
        throw new GatewayError('API_BAD_REQUEST', `history is kept per parameter of channel 1 only; channel ${channel} values are in GET /api/v1/transactions?node=${ref.bus ? `${ref.bus}:` : ''}${ref.node} (process numbers offset by the channel)`, {
          node: request.params.node,
          channel,
        });
      }
      const def = resolveParam(request.params.param);
      const q = request.query;
      const untilUs = q.until === undefined ? Date.now() * 1000 : parseTime(q.until, 'until');
      const sinceUs = q.since === undefined ? untilUs - HOUR_US : parseTime(q.since, 'since');
      checkTimeRange(sinceUs, untilUs, { since: 'since', until: q.until === undefined ? 'until (now)' : 'until' });
      const bucketUs = q.bucket === undefined ? undefined : parseBucket(q.bucket);
      const g = gatewayFilter(q.gateway, gateway);
      const h = await store.parameterHistory({
        ...ref,
        ...(g === undefined ? {} : { gateway: g }),
        dde: def.dde,
        sinceUs,
        untilUs,
        ...(bucketUs === undefined ? {} : { bucketUs }),
        ...(q.limit === undefined ? {} : { limit: q.limit }),
      });
      if (wantsCsv(request, q.format)) return sendCsv(reply, historyCsv(h));
      // The database's 'capacity' placeholder becomes the instrument's own unit when the gateway knows it.
      let unit = def.unit;
      try {
        if (service) unit = unitFor(def, service.instrument(request.params.node).identity);
      } catch {
        // An instrument no longer on the bus still has its history; its unit is then unknown.
        if (def.unit === 'capacity' || def.unit === 'counter') unit = undefined;
      }
      return {
        instrument: request.params.node,
        param: { dde: def.dde, key: def.key, name: def.name, ...(unit === undefined ? {} : { unit }) },
        bucket: q.bucket ?? null,
        since: isoFromMicros(sinceUs),
        until: isoFromMicros(untilUs),
        points:
          h.kind === 'raw'
            ? h.points.map((p) => ({ time: isoFromMicros(p.timeUs), value: p.value }))
            : h.points.map((p) => ({ time: isoFromMicros(p.timeUs), count: p.count, min: p.min, mean: p.mean, max: p.max })),
      };
    },
  );
};
