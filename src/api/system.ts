/** The buses, discovery and the recent transactions: `/api/v1/bus`, `/api/v1/discover`, `/api/v1/transactions`. */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { parseInstrumentRef, type InstrumentView, type LoggedTransaction } from '../gateway/index.js';
import { resolveParam } from '../params/index.js';
import { GatewayError, toHex } from '../shared/index.js';
import { checkTimeRange, parseTime, TRANSACTION_CSV_HEADER, transactionCsvLine, transactionsCsv, type TransactionPage, type TransactionQuery } from '../store/index.js';
import type { RouteOptions } from './instruments.js';
import type { Static } from 'typebox';
import { gatewayFilter, sendCsv, wantsCsv, type LogOptions, type TransactionLog } from './log.js';
import { BusList, DiscoverBody, type MqttStatusSchema, InstrumentList, TransactionList, TransactionsQuery, errorResponses, type TransactionView } from './schemas.js';

const TAG = ['bus'];

const DEFAULT_LIMIT = 100;
/** Rows of one JSON page. */
export const MAX_JSON_LIMIT = 1000;
/** Rows of one CSV export from the store (the default: the whole filter, up to this). */
export const MAX_CSV_ROWS = 1_000_000;
/** Rows fetched per store query while a CSV export streams. */
const CSV_PAGE = 1000;

/**
 * A CSV export page by page along the keyset cursor: one page in memory at a time, and the next
 * one is fetched only when the client has taken the last (the stream's backpressure). The first
 * page is given, fetched before the answer starts, so that a bad filter or a store that cannot be
 * reached is still an error answer; a later failure cuts the download short.
 */
function csvStream(store: TransactionLog, q: TransactionQuery, first: TransactionPage, limit: number): Readable {
  async function* lines(): AsyncGenerator<string> {
    let page = first;
    let left = limit;
    let header = TRANSACTION_CSV_HEADER;
    for (;;) {
      const rows = page.transactions.slice(0, left);
      yield header + rows.map(transactionCsvLine).join('');
      header = '';
      left -= rows.length;
      if (left <= 0 || !page.nextCursor) return;
      page = await store.listTransactions({ ...q, limit: Math.min(left, CSV_PAGE), cursor: page.nextCursor });
    }
  }
  return Readable.from(lines());
}

/** A logged transaction for JSON: bytes as spaced hex, absent values as null. */
export function transactionView(t: LoggedTransaction): TransactionView {
  return {
    id: t.id,
    bus: t.bus,
    mode: t.mode,
    node: t.node ?? null,
    seq: t.seq,
    command: t.command ?? null,
    commandName: t.commandName,
    purpose: t.purpose,
    outcome: t.outcome,
    status: t.status ?? null,
    errorCode: t.errorCode ?? null,
    request: t.requestBytes ? toHex(t.requestBytes) : null,
    reply: t.replyBytes ? toHex(t.replyBytes) : null,
    time: new Date(t.startedAt).toISOString(),
    startedAt: t.startedAt,
    endedAt: t.endedAt,
    latencyMs: t.latencyMs ?? null,
    attempts: t.attempts,
    params: t.params,
    error: t.error ?? null,
    gateway: t.gateway ?? null,
  };
}

/** The MQTT link's state for GET /bus, passed in by the composition root (the API does not import src/mqtt). */
export type MqttStatusSource = () => Static<typeof MqttStatusSchema>;

export const systemRoutes: FastifyPluginAsyncTypebox<RouteOptions & LogOptions & { mqtt?: MqttStatusSource | undefined }> = async (app, { service, store, gateway, mqtt }) => {
  app.get(
    '/bus',
    {
      schema: {
        operationId: 'getBuses',
        tags: TAG,
        summary: 'Mode and every bus: transport state, queue, counts by outcome, retries, latency, wire utilisation',
        response: { 200: BusList, ...errorResponses() },
      },
    },
    async () => ({ ...(gateway === undefined ? {} : { gateway }), mode: service.mode, buses: service.buses(), ...(store ? { store: store.status() } : {}), ...(mqtt ? { mqtt: mqtt() } : {}) }),
  );

  // Discovery is open like reads: it only reads identity parameters. Concurrent calls share
  // one walk, so repeated calls cannot pile walks onto the bus.
  let walking: Promise<InstrumentView[]> | undefined;
  app.post(
    '/discover',
    {
      // No body at all is the same as `{}`.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        operationId: 'discover',
        tags: TAG,
        summary: 'Walk the buses again and return the instruments found',
        description:
          'Open like the reads (no token): discovery only reads identity parameters. Needs `content-type: application/json` (no body, or `{}`), so that a web page cannot start it without a CORS preflight (415 otherwise). A call made while a walk is running joins that walk instead of starting another.',
        // A body schema makes Swagger UI's "try it out" send `content-type: application/json`.
        body: DiscoverBody,
        response: { 200: InstrumentList, ...errorResponses(415, 503, 504) },
      },
    },
    async () => {
      walking ??= service.discover().finally(() => {
        walking = undefined;
      });
      return { instruments: await walking };
    },
  );

  app.get(
    '/transactions',
    {
      schema: {
        operationId: 'listTransactions',
        tags: TAG,
        summary: 'Logged bus transactions, newest first, with their decoded parameters',
        description:
          'From the transaction log (the store): filter by node, parameter, outcome and time, page with `cursor` (keyset: pass the previous page\'s `nextCursor`). In a database several gateways log into, this gateway\'s own rows (and those from before gateways were recorded) unless `gateway=NAME` or `gateway=*` says otherwise. Without a store, the last 1000 transactions kept in memory (node, outcome, since, until and limit apply; param and cursor need the store). `format=csv` or `Accept: text/csv` gives CSV: from the store, the whole filter (not one page), streamed along the cursor, at most `limit` rows and never more than 1,000,000 (narrow the time range for more); without a store, the transactions kept in memory.',
        querystring: TransactionsQuery,
        response: { 200: TransactionList, ...errorResponses(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const csv = wantsCsv(request, q.format);
      if (!csv && q.limit !== undefined && q.limit > MAX_JSON_LIMIT) {
        throw new GatewayError('API_BAD_REQUEST', `limit is at most ${MAX_JSON_LIMIT} for JSON (page with cursor, or ask for format=csv)`, { field: 'limit', max: MAX_JSON_LIMIT });
      }
      const limit = q.limit ?? (csv && store ? MAX_CSV_ROWS : DEFAULT_LIMIT);
      const sinceUs = q.since === undefined ? undefined : parseTime(q.since, 'since');
      const untilUs = q.until === undefined ? undefined : parseTime(q.until, 'until');
      checkTimeRange(sinceUs, untilUs, { since: 'since', until: 'until' });
      const ref = q.node === undefined ? undefined : parseInstrumentRef(q.node);
      let list: LoggedTransaction[];
      let nextCursor: string | null = null;
      if (store) {
        const g = gatewayFilter(q.gateway, gateway);
        const query: TransactionQuery = {
          ...(g === undefined ? {} : { gateway: g }),
          ...(ref === undefined ? {} : { node: ref.node, ...(ref.bus === undefined ? {} : { bus: ref.bus }) }),
          ...(q.outcome === undefined ? {} : { outcome: q.outcome }),
          ...(q.param === undefined ? {} : { dde: resolveParam(q.param).dde }),
          ...(sinceUs === undefined ? {} : { sinceUs }),
          ...(untilUs === undefined ? {} : { untilUs }),
        };
        if (csv) {
          const first = await store.listTransactions({ ...query, limit: Math.min(limit, CSV_PAGE), ...(q.cursor === undefined ? {} : { cursor: q.cursor }) });
          return sendCsv(reply, csvStream(store, query, first, limit));
        }
        const page = await store.listTransactions({ ...query, limit, ...(q.cursor === undefined ? {} : { cursor: q.cursor }) });
        list = page.transactions;
        nextCursor = page.nextCursor;
      } else {
        if (q.param !== undefined || q.cursor !== undefined) {
          throw new GatewayError('API_NOT_READY', 'param and cursor need the transaction log: the gateway runs without a store');
        }
        // The ring holds this gateway's transactions only.
        const ours = q.gateway === undefined || q.gateway === '*' || q.gateway === gateway;
        const inRange = (t: LoggedTransaction) =>
          ours &&
          (sinceUs === undefined || t.startedAt * 1000 >= sinceUs) &&
          (untilUs === undefined || t.startedAt * 1000 < untilUs) &&
          (ref?.bus === undefined || t.bus === ref.bus);
        const filter = { ...(ref === undefined ? {} : { node: ref.node }), ...(q.outcome === undefined ? {} : { outcome: q.outcome }) };
        list = service
          .recentTransactions(sinceUs === undefined && untilUs === undefined ? { ...filter, limit } : { ...filter, limit: 100_000 })
          .filter(inRange)
          .slice(0, limit);
      }
      if (!store && gateway !== undefined) list = list.map((t) => (t.gateway === undefined ? { ...t, gateway } : t));
      if (csv) return sendCsv(reply, transactionsCsv(list));
      return { transactions: list.map(transactionView), nextCursor };
    },
  );
};
