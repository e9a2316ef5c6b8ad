/**
 * Every tunable of bridge mode, in one place: the `bridge:` section of the config file. The type
 * is the config schema's (`BridgeSchema`), so the defaults and ranges below are the schema's too;
 * tests and benchmarks shrink them. Injected dependencies (logger, sink, events, openers,
 * simulator) are apart, in `BridgeDeps`.
 *
 * | option                 | default   | range             | what                                                                 |
 * |------------------------|-----------|-------------------|----------------------------------------------------------------------|
 * | instrumentPort         | (needed)  |                   | the instrument side: a serial path, serial://... or tcp://host:port  |
 * | masterPort             | (needed)  |                   | the master side (Bright display adapter, PLC, vendor software)       |
 * | name                   | bridge    | [a-z0-9_-]+       | bus name in the log and the API                                      |
 * | baud                   | 38400     | 300..4000000      | line speed of both serial ports                                      |
 * | protocol               | binary    | binary, ascii     | framing on the line                                                  |
 * | burstGapMs             | 2         | 1..1000           | silence that ends a burst (one capture record), ms                   |
 * | replyTimeoutMs         | 1000      | 10..60000         | the pairer's timeout: a request without a reply after this long is logged as unanswered, ms |
 * | masterSilenceMs        | 10000     | 100..3600000      | report when the master, which used to poll, has been silent this long, ms |
 * | capture                | null      | a path or null    | append every burst to this file in socat -x -v format                |
 * | maxUnwrittenBytes      | 65536     | 1024..16 MiB      | bytes handed to one side and not yet taken by it, beyond which bytes to it are dropped (counted) |
 * | maxDecodeBacklogBytes  | 1 MiB     | 4096..64 MiB      | bytes per direction waiting to be decoded, beyond which bytes are forwarded but not decoded (counted) |
 * | maxBurstBytes          | 4096      | 64..65536         | longest burst; a longer run without silence is cut here (socat reads up to 8192) |
 * | maxEvents              | 200       | 1..10000          | link events kept for GET /bus                                        |
 * | recentTransactions     | 1000      | 0..100000         | kept in memory for GET /transactions without a log (serve: none)     |
 * | reconnectInitialMs     | 250       | 10..60000         | first wait before reopening a lost side, ms; doubles per failure     |
 * | reconnectMaxMs         | 10000     | 100..600000       | longest wait between attempts to reopen a lost side, ms              |
 * | captureFlushMs         | 250       | 10..10000         | how often the capture file is written, ms                            |
 * | captureMaxPendingBytes | 8 MiB     | 64 KiB..256 MiB   | capture text waiting for the disk beyond which records are dropped (counted) |
 * | forwardThreads         | true      | boolean           | both sides serial and inject off: forward in two threads blocking in read(), as socat does |
 * | inject                 | false     | boolean           | send the API's reads and writes in the gaps of the master's traffic (binary only) |
 * | injectIdleMs           | 20        | 1..1000           | quiet line (and no master request outstanding) before an injected request, ms |
 * | injectTimeoutMs        | 500       | 10..60000         | an injected request without a reply after this long fails BUS_TIMEOUT, ms |
 * | injectWaitMs           | 2000      | 10..60000         | longest an injected request waits for a gap, ms                      |
 * | injectMaxMasterLatencyMs | 200     | 1..60000          | a slower master transaction (or a master timeout) pauses injection, ms |
 * | injectBackoffMs        | 5000      | 10..600000        | how long injection pauses then, ms                                   |
 *
 * An instrument counts as online while the instrument side is open and it was seen within
 * max(masterSilenceMs, 3 x replyTimeoutMs): derived, not a tunable of its own.
 */
import type { Static } from 'typebox';
import { Value } from 'typebox/value';
import { BridgeSchema } from '../../config/index.js';
import type { Logger } from '../../shared/index.js';
import { GatewayError } from '../../shared/index.js';
import type { LinkOpener, SimulatorFactory } from '../../transport/index.js';
import type { GatewayEvents } from '../events.js';
import type { TransactionSink } from '../sink.js';

/** The `bridge:` section of the config file, every default filled in. */
export type BridgeOptions = Static<typeof BridgeSchema>;

/** What a caller must give: both ports; everything else has its default. */
export type BridgeOptionsInput = Pick<BridgeOptions, 'instrumentPort' | 'masterPort'> & Partial<BridgeOptions>;

/** What bridge mode is given rather than configured. */
export interface BridgeDeps {
  /** Gets every transaction at once, synchronously (the transaction log); it must not block or throw. */
  readonly sink?: TransactionSink;
  readonly logger?: Logger;
  /** The event hub to emit on; a new one when absent. */
  readonly events?: GatewayEvents;
  /** Replace the openers the addresses would pick (tests, benchmarks). */
  readonly openers?: { readonly instrument?: LinkOpener; readonly master?: LinkOpener };
  /** For a `sim://` instrument side (composition root only). */
  readonly simulator?: SimulatorFactory;
  /**
   * The config's top-level `secured: true` (the same option as in master mode): with injection,
   * secured parameters are written, each inside Init Reset 64 ... 82 in one injected request.
   */
  readonly secured?: boolean;
}

/**
 * Fills the defaults and checks every option against its range (the schema's). Throws
 * BRIDGE_BAD_OPTION naming the first option out of range, with what it allows.
 */
export function resolveBridgeOptions(input: BridgeOptionsInput): BridgeOptions {
  const options = Value.Default(BridgeSchema, structuredClone(input)) as BridgeOptions;
  const first = [...Value.Errors(BridgeSchema, options)][0];
  if (!first) {
    if (options.inject && options.protocol === 'ascii') {
      throw new GatewayError(
        'BRIDGE_BAD_OPTION',
        "bridge option inject cannot be true with protocol ascii: ASCII frames carry no sequence number, so the instrument's reply to an injected request could not be told from its reply to the master",
        { option: 'inject', protocol: 'ascii', value: true },
      );
    }
    return options;
  }
  const option = first.instancePath.replace(/^\//, '').split('/')[0] ?? '';
  const properties = BridgeSchema.properties as Record<string, { minimum?: number; maximum?: number; enum?: readonly unknown[]; description?: string } | undefined>;
  const schema = properties[option];
  const value = (options as Record<string, unknown>)[option];
  if (!schema) {
    throw new GatewayError('BRIDGE_BAD_OPTION', `${JSON.stringify(option)} is not an option of bridge mode; known: ${Object.keys(properties).join(', ')}`, { option, known: Object.keys(properties) });
  }
  const range = schema.minimum !== undefined && schema.maximum !== undefined ? { min: schema.minimum, max: schema.maximum } : {};
  const allowed = schema.enum ? { allowed: [...schema.enum] } : {};
  const what = 'min' in range ? ` (${range.min}..${range.max})` : schema.enum ? ` (${schema.enum.join(' or ')})` : '';
  throw new GatewayError(
    'BRIDGE_BAD_OPTION',
    `bridge option ${option} ${first.message}${what}, got ${JSON.stringify(value) ?? 'nothing'}${schema.description ? `: ${schema.description}` : ''}`,
    { option, ...range, ...allowed, value },
  );
}
