import type { Protocol } from '../codec/index.js';
import { GatewayError } from '../shared/index.js';

/** Every timeout, retry count and budget of a bus, in one place. Tests shrink them. */
export interface BusOptions {
  /** Framing on the line. Default `binary`. ASCII has no SEQ, so it always runs one transaction at a time. */
  readonly protocol: Protocol;
  /** Time from the end of our write to the reply, ms. Default 500 (Bronkhorst's library uses 0.5 s); 10..10000. */
  readonly replyTimeoutMs: number;
  /** Further attempts after a reply timeout. Default 2; 0..10. Status replies and error frames are answers and are not retried. */
  readonly retries: number;
  /** Longest a transaction may wait in the queue before it starts, ms. Default 5000; 50..600000. */
  readonly queueDeadlineMs: number;
  /** A poll or scan that has waited this long runs with interactive priority, so interactive reads cannot starve polling, ms. Default 1000; 10..600000. */
  readonly pollAgingMs: number;
  /** Transactions in flight at once. Default 1; 1..2. 2 is what the Bright display adapter does (binary only). */
  readonly pipelineDepth: number;
  /** Largest chained request DATA, bytes. Default 64; 8..250. */
  readonly maxRequestBytes: number;
  /** Largest expected answer DATA of a chained read, bytes. Default 64; 8..250. */
  readonly maxAnswerBytes: number;
  /** Failed transactions in a row after which a node is backed off. Default 3; 1..100. */
  readonly backoffAfterFailures: number;
  /** First backoff of a failing node, ms. Default 1000; 10..600000. Doubles per further failure. */
  readonly backoffInitialMs: number;
  /** Longest backoff of a failing node, ms. Default 30000; 100..3600000. */
  readonly backoffMaxMs: number;
  /** Baud rate of the line, for wire-utilisation figures. Default 38400. */
  readonly baudRate: number;
}

export const DEFAULT_BUS_OPTIONS: BusOptions = {
  protocol: 'binary',
  replyTimeoutMs: 500,
  retries: 2,
  queueDeadlineMs: 5000,
  pollAgingMs: 1000,
  pipelineDepth: 1,
  maxRequestBytes: 64,
  maxAnswerBytes: 64,
  backoffAfterFailures: 3,
  backoffInitialMs: 1000,
  backoffMaxMs: 30_000,
  baudRate: 38400,
};

const RANGES: Record<Exclude<keyof BusOptions, 'protocol'>, [number, number]> = {
  replyTimeoutMs: [10, 10_000],
  retries: [0, 10],
  queueDeadlineMs: [50, 600_000],
  pollAgingMs: [10, 600_000],
  pipelineDepth: [1, 2],
  maxRequestBytes: [8, 250],
  maxAnswerBytes: [8, 250],
  backoffAfterFailures: [1, 100],
  backoffInitialMs: [10, 600_000],
  backoffMaxMs: [100, 3_600_000],
  baudRate: [300, 4_000_000],
};

/** Fills defaults and checks every option against its documented range. */
export function resolveBusOptions(partial: Partial<BusOptions> = {}): BusOptions {
  const o = { ...DEFAULT_BUS_OPTIONS, ...partial };
  for (const [key, [min, max]] of Object.entries(RANGES) as [keyof typeof RANGES, [number, number]][]) {
    const v = o[key];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new GatewayError('BUS_BAD_OPTION', `bus option ${key} must be an integer ${min}..${max}, got ${v}`, { option: key, min, max, value: v });
    }
  }
  if (o.protocol !== 'binary' && o.protocol !== 'ascii') {
    throw new GatewayError('BUS_BAD_OPTION', `bus option protocol must be binary or ascii, got ${String(o.protocol)}`, { option: 'protocol' });
  }
  // ASCII frames carry no SEQ: replies can only be matched by order.
  if (o.protocol === 'ascii') return { ...o, pipelineDepth: 1 };
  return o;
}
