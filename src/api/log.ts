/** What the transaction-log routes need from the store, and content negotiation for CSV. */
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayFilter, Store } from '../store/index.js';

/** The part of the store the API uses; absent when the gateway runs without one. */
export type TransactionLog = Pick<Store, 'status' | 'listTransactions' | 'parameterHistory'>;

export interface LogOptions {
  readonly store: TransactionLog | undefined;
  /** This gateway's name: what a query without `gateway=` is about. */
  readonly gateway: string | undefined;
}

/**
 * The `gateway=` of a log query: absent = this gateway's own rows and those that record no
 * gateway (from before names were recorded); a name = that gateway's rows only; `*` = all.
 */
export function gatewayFilter(asked: string | undefined, own: string | undefined): GatewayFilter | undefined {
  if (asked === '*') return undefined;
  if (asked !== undefined) return { name: asked };
  return own === undefined ? undefined : { name: own, unnamed: true };
}

/** `format=csv`, or an Accept header that names text/csv (and format is not json). */
export function wantsCsv(request: FastifyRequest, format: 'json' | 'csv' | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  const accept = request.headers.accept ?? '';
  return /\btext\/csv\b/i.test(accept);
}

/** Sends CSV text or a stream of it past the route's JSON response schema (neither is serialized). */
export function sendCsv(reply: { type(t: string): unknown }, text: string | Readable): FastifyReply {
  return (reply as unknown as FastifyReply).type('text/csv; charset=utf-8').send(text);
}
