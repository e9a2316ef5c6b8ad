/**
 * Every tunable of master mode in one place, with its default and allowed range (STYLE habit 6,
 * as `bus/options.ts` does for the bus). The buses, the poll list and the instruments are the
 * config file's own types; tests shrink the delays. Injected dependencies (logger, sink, events,
 * simulator) are apart, in `MasterDeps`.
 */
import type { BusOptions } from '../../bus/index.js';
import { DEFAULT_POLL_INTERVAL_MS, DEFAULT_POLL_PARAMETERS, type BusConfig, type InstrumentConfig, type PollConfig } from '../../config/index.js';
import { GatewayError, type Logger } from '../../shared/index.js';
import type { ReconnectOptions, SimulatorFactory } from '../../transport/index.js';
import type { GatewayEvents } from '../events.js';
import type { TransactionSink } from '../sink.js';

/**
 * One bus as the config file gives it: name and port required, the rest as the file's defaults.
 * `bus`: the scheduler's tunables the file does not expose (backoff, aging; tests shrink them),
 * applied over the file's fields.
 */
export type MasterBusOptions = Pick<BusConfig, 'name' | 'port'> & Partial<Omit<BusConfig, 'name' | 'port'>> & { readonly bus?: Partial<BusOptions> };

export interface MasterOptions {
  /** The buses to open; at least one. */
  readonly buses: readonly MasterBusOptions[];
  /** What every instrument is polled for. Default: the config file's (`DEFAULT_POLL_PARAMETERS`, every 500 ms). */
  readonly poll: PollConfig;
  /** Per-instrument settings (name, poll override, nodes known in advance). Default none. */
  readonly instruments: readonly InstrumentConfig[];
  /** Allow writes to secured parameters, wrapped in Init Reset 64 ... 82. Default false. */
  readonly secured: boolean;
  /** How a lost bus is reopened (the transport's own defaults and ranges). */
  readonly reconnect: Partial<ReconnectOptions>;
  /** Transactions kept in memory for GET /transactions when there is no transaction log (`flowbus serve` has one and passes 0). Default 1000; 0..1000000. */
  readonly recentTransactions: number;
  /** When no instrument answers at node 128 (port open, instrument off), walk again after this long, ms. Default 10000; 10..3600000. */
  readonly discoveryRetryMs: number;
  /** An identity field without two agreeing answers yet is read again from the poll loop after this long, ms. Default 30000; 10..86400000. */
  readonly identityRetryMs: number;
  /**
   * Reads of one walk step or identity field, at most, to get two answers that agree (ProPar has no
   * checksum, so one answer is not proof). Default 4; 2..10. Two when the line is clean; the others
   * cover lost and garbled replies.
   */
  readonly agreeAttempts: number;
  /**
   * Reply timeout of the quick probe of the addresses below the local one during the walk, ms.
   * Default 150; 10..10000. Bronkhorst's library waits 50 ms; a USB adapter or a pty at start-up can
   * need more, and a probe that times out looks like a flaky bus.
   */
  readonly probeTimeoutMs: number;
  /** A request without its reply is named by itself in the log after this long, ms. Default 60000; 100..3600000. */
  readonly pairerTimeoutMs: number;
  /** Instruments start polling within this long of being found, at random, so that their polls do not all land in the same instant, ms (at most one poll interval). Default 200; 0..60000. */
  readonly pollStaggerMs: number;
}

/** What `new MasterGateway` takes: the buses, and any other option to change from its default. */
export type MasterOptionsInput = Pick<MasterOptions, 'buses'> & Partial<Omit<MasterOptions, 'buses' | 'poll'>> & { readonly poll?: Partial<PollConfig> };

/** What master mode is given rather than configured. */
export interface MasterDeps {
  readonly logger?: Logger;
  /** Where every transaction goes besides the event hub (the store); `write` is synchronous and must not throw. */
  readonly sink?: TransactionSink;
  /** The event hub to emit on; a new one when absent. */
  readonly events?: GatewayEvents;
  /** Builds the in-process simulator for `sim://` addresses (from the composition root). */
  readonly simulator?: SimulatorFactory;
}

type Tunable = 'recentTransactions' | 'discoveryRetryMs' | 'identityRetryMs' | 'agreeAttempts' | 'probeTimeoutMs' | 'pairerTimeoutMs' | 'pollStaggerMs';

export const DEFAULT_MASTER_OPTIONS: Readonly<Omit<MasterOptions, 'buses'>> = {
  poll: { parameters: DEFAULT_POLL_PARAMETERS, intervalMs: DEFAULT_POLL_INTERVAL_MS },
  instruments: [],
  secured: false,
  reconnect: {},
  recentTransactions: 1000,
  discoveryRetryMs: 10_000,
  identityRetryMs: 30_000,
  agreeAttempts: 4,
  probeTimeoutMs: 150,
  pairerTimeoutMs: 60_000,
  pollStaggerMs: 200,
};

const RANGES: Record<Tunable, [number, number]> = {
  recentTransactions: [0, 1_000_000],
  discoveryRetryMs: [10, 3_600_000],
  identityRetryMs: [10, 86_400_000],
  agreeAttempts: [2, 10],
  probeTimeoutMs: [10, 10_000],
  pairerTimeoutMs: [100, 3_600_000],
  pollStaggerMs: [0, 60_000],
};

/** Fills defaults and checks every tunable against its documented range (GATEWAY_BAD_OPTION names it). */
export function resolveMasterOptions(input: MasterOptionsInput): MasterOptions {
  if (input.buses.length === 0) throw new GatewayError('GATEWAY_NO_BUS', 'master mode needs at least one bus');
  const d = DEFAULT_MASTER_OPTIONS;
  // Only the options' own keys: a whole config file can be handed in without the rest of it (the API token, the store) coming along.
  const o: MasterOptions = {
    buses: input.buses,
    poll: { parameters: input.poll?.parameters ?? d.poll.parameters, intervalMs: input.poll?.intervalMs ?? d.poll.intervalMs },
    instruments: input.instruments ?? d.instruments,
    secured: input.secured ?? d.secured,
    reconnect: input.reconnect ?? d.reconnect,
    recentTransactions: input.recentTransactions ?? d.recentTransactions,
    discoveryRetryMs: input.discoveryRetryMs ?? d.discoveryRetryMs,
    identityRetryMs: input.identityRetryMs ?? d.identityRetryMs,
    agreeAttempts: input.agreeAttempts ?? d.agreeAttempts,
    probeTimeoutMs: input.probeTimeoutMs ?? d.probeTimeoutMs,
    pairerTimeoutMs: input.pairerTimeoutMs ?? d.pairerTimeoutMs,
    pollStaggerMs: input.pollStaggerMs ?? d.pollStaggerMs,
  };
  for (const [key, [min, max]] of Object.entries(RANGES) as [Tunable, [number, number]][]) {
    const v = o[key];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new GatewayError('GATEWAY_BAD_OPTION', `master option ${key} must be an integer ${min}..${max}, got ${String(v)}`, { option: key, min, max, value: v });
    }
  }
  return o;
}

/** A bus's scheduler options: the config file's fields, then the finer `bus` tunables over them. */
export function busOptionsOf(cfg: MasterBusOptions): Partial<BusOptions> {
  return {
    ...(cfg.protocol !== undefined ? { protocol: cfg.protocol } : {}),
    ...(cfg.replyTimeoutMs !== undefined ? { replyTimeoutMs: cfg.replyTimeoutMs } : {}),
    ...(cfg.retries !== undefined ? { retries: cfg.retries } : {}),
    ...(cfg.queueDeadlineMs !== undefined ? { queueDeadlineMs: cfg.queueDeadlineMs } : {}),
    ...(cfg.pipelineDepth !== undefined ? { pipelineDepth: cfg.pipelineDepth } : {}),
    ...(cfg.maxRequestBytes !== undefined ? { maxRequestBytes: cfg.maxRequestBytes } : {}),
    ...(cfg.maxAnswerBytes !== undefined ? { maxAnswerBytes: cfg.maxAnswerBytes } : {}),
    ...(cfg.baud !== undefined ? { baudRate: cfg.baud } : {}),
    ...cfg.bus,
  };
}
