import type { DiscardReason } from '../codec/index.js';
import type { BridgeSide, GatewayEvents, LinkEvent } from './events.js';
import type { LabService } from './lab.js';
import type { LoggedTransaction } from './sink.js';

export type { BridgeSide, LinkEvent } from './events.js';
import type { InstrumentIdentity, ReadResult, ValueView } from './views.js';

export type { ParamErrorView, ReadResult } from './views.js';

/** An instrument as the API shows it. */
export interface InstrumentView {
  /** `bus:node`, unique across buses; `bus:node/channel` for channel 2 and up of a multi-channel instrument. */
  readonly id: string;
  readonly bus: string;
  readonly node: number;
  /** Multi-channel instruments only: which channel this is (1 is the instrument itself). */
  readonly channel?: number;
  readonly name?: string;
  readonly online: boolean;
  readonly lastSeen?: string;
  readonly lastError?: { readonly code: string; readonly message: string };
  readonly identity: InstrumentIdentity;
  /** Latest value of every polled (or observed) parameter, by key. */
  readonly values: Record<string, ValueView>;
  readonly polling: { readonly parameters: readonly string[]; readonly intervalMs: number };
  /** Bridge mode with injection: a node the master never addressed, identified by an injected read. */
  readonly knownBy?: 'injection';
}

export interface WriteResult {
  readonly instrument: string;
  readonly param: { readonly dde: number; readonly key: string; readonly name: string };
  /** The value sent, after validation (enumeration names turned into numbers). */
  readonly written: number | string;
  /** The instrument's status reply. */
  readonly status: { readonly code: number; readonly name: string };
  /** The value read back after the write; absent for write-only parameters. */
  readonly readBack?: ValueView;
  readonly transactionId: string;
}

/** Who asks for a write, and the unit of its value (absent: the parameter's own scale). */
export interface WriteContext {
  /** `ip:port` for HTTP, `mqtt`, `cli`, `program`. */
  readonly source: string;
  /** `%` or the instrument's capacity unit, for measure, setpoint, fMeasure, fSetpoint (see units.ts). */
  readonly unit?: string;
}

/** One value of a multi-parameter write: as it is, or with its unit. */
export type WriteInput = number | string | { readonly value: number | string; readonly unit?: string };

/** The answer of a write of several parameters: each parameter's written value and read-back, and the chained requests it took. */
export interface MultiWriteResult {
  readonly instrument: string;
  readonly parameters: Record<string, Omit<WriteResult, 'instrument' | 'transactionId'> & { readonly transactionId: string }>;
  /** One per chained request; more than one when the values did not fit in one request of `maxRequestBytes`. */
  readonly transactionIds: readonly string[];
}

/** Every readable parameter of an instrument, as a backup holds it. */
export interface Snapshot {
  readonly instrument: string;
  readonly identity: InstrumentIdentity;
  /** When the reading ended (ISO). */
  readonly time: string;
  readonly parameters: Record<string, SnapshotValue>;
  /** Parameters the instrument refused to read (it has no such parameter). */
  readonly unsupported: readonly string[];
  /** Parameters whose read failed otherwise (timeout, bad answer), with the reason. */
  readonly failed?: readonly { readonly key: string; readonly code: string; readonly message: string }[];
}

export interface SnapshotValue {
  readonly dde: number;
  readonly value: number | string;
  /** Wire bytes in hex. */
  readonly raw: string;
  readonly unit?: string;
}

export interface BusView {
  readonly name: string;
  readonly address: string;
  readonly transport: {
    readonly state: string;
    readonly since: string;
    readonly lastError?: string;
    readonly reconnects: number;
    readonly retryAt?: string;
  };
  readonly queue: { readonly waiting: number; readonly inFlight: number };
  readonly transactions: Record<string, number>;
  readonly retries: number;
  readonly lateReplies: number;
  readonly unsolicited: number;
  readonly discards: number;
  readonly latency: { readonly count: number; readonly meanMs: number | null; readonly p99Ms: number | null };
  readonly wireUtilisation: number;
  readonly nodesBackedOff: readonly number[];
  readonly protocol: string;
  readonly pipelineDepth: number;
  /** Bridge mode only: per-direction counters, forward latency, both sides' state and the link events. */
  readonly bridge?: BridgeDetails;
}

export interface TransactionFilter {
  readonly node?: number;
  readonly outcome?: string;
  readonly limit?: number;
}

/** What the API needs from a mode. Master mode implements it now; bridge mode answers from what it observed. */
export interface GatewayService {
  readonly mode: 'master' | 'bridge';
  /** Bridge mode with `bridge.inject` on: it reads and writes in the gaps of the master's traffic. */
  readonly injects?: boolean;
  /** What happens in the gateway, for every consumer (the transaction log, SSE, MQTT, metrics). */
  readonly events: GatewayEvents;
  instruments(): InstrumentView[];
  /** `3`, `128` (the local instrument) or `bus:3`. Throws GATEWAY_NODE_UNKNOWN. */
  instrument(ref: string): InstrumentView;
  readParams(ref: string, params: readonly string[], opts: { maxAge?: number }): Promise<ReadResult>;
  writeParam(ref: string, param: string, value: unknown, ctx: WriteContext): Promise<WriteResult>;
  /** Several parameters, checked together (all or nothing), written chained. Master mode, and bridge mode with injection. */
  writeParams?(ref: string, values: Readonly<Record<string, WriteInput>>, ctx: { source: string }): Promise<MultiWriteResult>;
  /** Every readable parameter, at low priority, one snapshot per instrument at a time. Master mode, and bridge mode with injection. */
  snapshot?(ref: string): Promise<Snapshot>;
  /** Fluids, counter and alarms (master mode). */
  readonly lab?: LabService;
  buses(): BusView[];
  discover(): Promise<InstrumentView[]>;
  recentTransactions(filter: TransactionFilter): LoggedTransaction[];
  /** Whether every bus is open (for /readyz). */
  ready(): boolean;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- bridge mode's views

/** Counters of one direction. `>`: master to instrument; `<`: instrument to master. */
export interface DirectionCounters {
  /** Bytes read from the source side. */
  readonly bytes: number;
  /** Bytes the destination side has taken. */
  readonly forwarded: number;
  /** Bytes dropped because the destination side was down. */
  readonly droppedNoPeer: number;
  /** Bytes dropped because the destination side did not keep up (more than maxUnwrittenBytes waiting). */
  readonly droppedOverflow: number;
  /** Bytes whose write to the destination failed. */
  readonly droppedWriteFailed: number;
  /** Times reading from the source side was held back because the destination had not taken its bytes yet (nothing lost). */
  readonly heldBack: number;
  readonly bursts: number;
  readonly frames: number;
  readonly discards: number;
  readonly discardedBytes: number;
  readonly discardReasons: Partial<Record<DiscardReason, number>>;
  /** Bytes forwarded but not decoded because decoding fell behind. */
  readonly undecodedBytes: number;
  readonly restarts: number;
}

/** What GET /bus shows of injection (bridge mode with bridge.inject). */
export interface InjectView {
  readonly state: 'active' | 'paused';
  readonly pausedUntil?: string;
  readonly lastBackoff?: string;
  readonly queued: number;
  readonly inFlight: boolean;
  readonly sent: number;
  readonly answered: number;
  readonly timedOut: number;
  readonly noGap: number;
  readonly lateReplies: number;
  readonly collisions: number;
  /** Master requests forwarded with their SEQ rewritten (and their replies rewritten back), because an injected request held their SEQ and NODE. */
  readonly remaps: number;
  readonly masterTimeouts: number;
  readonly backoffs: number;
  /** Bytes of injected requests written to the instrument side. */
  readonly requestBytes: number;
}

/** Time a byte spends inside the gateway (read on one side until the other side has taken it), µs. */
export interface ForwardLatencyView {
  readonly count: number;
  readonly meanUs: number | null;
  readonly p50Us: number | null;
  readonly p99Us: number | null;
  readonly maxUs: number | null;
  /** Non-empty buckets: count of chunks with latency <= leUs (and above the previous bucket). */
  readonly buckets: readonly { readonly leUs: number; readonly count: number }[];
}

export interface BridgeDetails {
  readonly sides: Record<BridgeSide, { readonly address: string; readonly state: string; readonly since: string; readonly lastError?: string; readonly reconnects: number }>;
  readonly directions: { readonly '>': DirectionCounters; readonly '<': DirectionCounters };
  readonly forwardLatency: ForwardLatencyView;
  /** `threads`: two threads forward, blocking in read() (both sides serial, no injection); `loop`: the event loop does. */
  readonly forwarding: 'threads' | 'loop';
  readonly masterSilent: boolean;
  readonly lastMasterByte?: string;
  readonly outstandingRequests: number;
  readonly decodeBacklogBytes: number;
  readonly capture?: { readonly path: string; readonly records: number; readonly dropped: number; readonly error?: string };
  /** Newest last. */
  readonly events: readonly LinkEvent[];
  /** With `bridge.inject` on: injection's state and counters. */
  readonly inject?: InjectView;
}
