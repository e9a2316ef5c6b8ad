import { errorFrameInfo, statusInfo } from '../codec/index.js';
import { GatewayError, type ApiErrorCode } from '../shared/index.js';

/** Why a bus transaction failed: a closed union, so failures can be counted, logged, mapped to HTTP and tested. */
export type BusFailure =
  /** No reply within the reply timeout, after every retry. */
  | { readonly kind: 'timeout'; readonly attempts: number; readonly timeoutMs: number }
  /** The instrument answered with a non-zero ProPar status. */
  | { readonly kind: 'status'; readonly status: number; readonly index: number }
  /** The instrument (or the interface) answered with an error frame. */
  | { readonly kind: 'error-frame'; readonly code: number }
  /** The port is not open (unplugged, refused, reconnecting). */
  | { readonly kind: 'bus-unavailable'; readonly reason: string }
  /** The transaction waited in the queue past its deadline and was never sent. */
  | { readonly kind: 'queue-deadline'; readonly waitedMs: number }
  /** The node keeps failing and is backed off until `until`; nothing was sent. */
  | { readonly kind: 'node-backoff'; readonly until: number }
  /** Cancelled by its caller or by shutdown. */
  | { readonly kind: 'aborted' };

export type BusFailureKind = BusFailure['kind'];
export type Outcome = 'ok' | BusFailureKind;

export const OUTCOMES: readonly Outcome[] = ['ok', 'timeout', 'status', 'error-frame', 'bus-unavailable', 'queue-deadline', 'node-backoff', 'aborted'];

/** A failed transaction is always something the API can answer: each code has an HTTP status. */
const CODES = {
  timeout: 'BUS_TIMEOUT',
  status: 'BUS_STATUS',
  'error-frame': 'BUS_ERROR_FRAME',
  'bus-unavailable': 'BUS_UNAVAILABLE',
  'queue-deadline': 'BUS_QUEUE_DEADLINE',
  'node-backoff': 'BUS_NODE_BACKOFF',
  aborted: 'BUS_ABORTED',
} as const satisfies Record<BusFailureKind, ApiErrorCode>;

export function describeFailure(f: BusFailure, node: number): string {
  switch (f.kind) {
    case 'timeout':
      return `node ${node} did not answer within ${f.timeoutMs} ms (${f.attempts} attempt${f.attempts === 1 ? '' : 's'})`;
    case 'status': {
      const s = statusInfo(f.status);
      return `node ${node} answered status ${f.status} ${s.key} (${s.message}) at index ${f.index}`;
    }
    case 'error-frame': {
      const e = errorFrameInfo(f.code);
      return `node ${node}: error frame ${f.code} (${e.message})`;
    }
    case 'bus-unavailable':
      return `bus unavailable: ${f.reason}`;
    case 'queue-deadline':
      return `the request waited ${f.waitedMs} ms in the queue and was not sent`;
    case 'node-backoff':
      return `node ${node} keeps failing; backed off until ${new Date(f.until).toISOString()}`;
    case 'aborted':
      return 'aborted';
  }
}

/** The error a failed transaction rejects with. */
export class BusError extends GatewayError {
  constructor(
    readonly failure: BusFailure,
    readonly node: number,
  ) {
    const details: Record<string, unknown> = { node, ...failure };
    if (failure.kind === 'status') {
      details.statusName = statusInfo(failure.status).key;
      details.statusMessage = statusInfo(failure.status).message;
    }
    if (failure.kind === 'error-frame') details.errorMessage = errorFrameInfo(failure.code).message;
    super(CODES[failure.kind], describeFailure(failure, node), details);
    this.name = 'BusError';
  }
}
