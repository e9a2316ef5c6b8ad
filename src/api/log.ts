/** What the transaction-log routes need from the store, and content negotiation for CSV. */
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../store/index.js';

/** The part of the store the API uses; absent when the gateway runs without one. */
export type TransactionLog = Pick<Store, 'status' | 'listTransactions' | 'parameterHistory'>;

export interface LogOptions {
  readonly store: TransactionLog | undefined;
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
