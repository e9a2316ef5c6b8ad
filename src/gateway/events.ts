/**
 * The gateway's events: what every consumer (the transaction log, and the SSE stream, MQTT and
 * metrics) listens to, the same in master and bridge mode (the idea of Zigbee2MQTT's event bus and
 * Z-Wave JS's "value updated"). A consumer subscribes here and never reaches into a mode.
 * Delivery is `EventHub`'s: after the emitter has returned, isolated per subscriber.
 */
import { EventHub, type ErrorCode, type Logger } from '../shared/index.js';
import type { ProgramEvent } from './programs/view.js';
import type { AlarmName } from './alarms.js';
import type { LoggedTransaction } from './sink.js';
import type { InstrumentIdentity, ValueView } from './views.js';

export type { AlarmName } from './alarms.js';

export type BridgeSide = 'instrument' | 'master';

/** Something that happened to the link, kept for GET /bus and logged. */
export interface LinkEvent {
  /** ISO time. */
  readonly time: string;
  readonly side: BridgeSide | 'capture' | 'decoder' | 'inject' | 'forwarding';
  readonly kind: 'open' | 'reopened' | 'down' | 'master-silent' | 'master-resumed' | 'capture-failed' | 'decode-error' | 'inject-backoff' | 'inject-resumed' | 'threads-failed';
  readonly reason: string;
}

/** Where a value came from. */
export type ValueSource = 'poll' | 'read' | 'read-back' | 'observed';

export interface ValuesEvent {
  /** `bus:node`. */
  readonly instrument: string;
  readonly bus: string;
  readonly node: number;
  readonly source: ValueSource;
  /** Each with its own read time. */
  readonly values: readonly ValueView[];
}

export type InstrumentEventKind = 'found' | 'online' | 'offline' | 'identity';

export interface InstrumentEvent {
  readonly instrument: string;
  readonly bus: string;
  readonly node: number;
  readonly kind: InstrumentEventKind;
  readonly online: boolean;
  /** The identity as it is now (for `identity`: the new one). */
  readonly identity: InstrumentIdentity;
  /** `identity` only: the fields that changed, and what they were. */
  readonly changed?: readonly (keyof InstrumentIdentity)[];
  readonly previous?: InstrumentIdentity;
  /** `offline`: why (the error code and message). */
  readonly reason?: { readonly code: ErrorCode; readonly message: string };
}

export type BusEventKind = 'state' | 'node-backoff' | 'node-recovered';

export interface BusEvent {
  readonly bus: string;
  readonly kind: BusEventKind;
  /** Bridge mode: which side's transport (a bridge's bus has two). Absent in master mode. */
  readonly side?: BridgeSide;
  /** `state`: the transport's state (opening, open, waiting, closed) and how often it reconnected. */
  readonly state?: string;
  readonly reconnects?: number;
  readonly reason?: string;
  /** `state` while waiting: when the next attempt is due (ISO time). */
  readonly retryAt?: string;
  /** `node-backoff`, `node-recovered`: the node, and until when it is left alone (ISO time). */
  readonly node?: number;
  readonly until?: string;
}

export interface StoreEvent {
  readonly state: 'healthy' | 'spooling' | 'recovering' | 'closed';
  readonly previous: 'healthy' | 'spooling' | 'recovering' | 'closed';
  readonly reason?: string;
  readonly rowsWaiting: number;
}

export interface BridgeEvent extends LinkEvent {
  readonly bus: string;
  /** Present for events of one side. */
  readonly sideState?: { readonly side: BridgeSide; readonly state: string };
}

export interface WriteEvent {
  readonly instrument: string;
  readonly param: string;
  readonly dde?: number;
  /** The value as asked (a refusal) or as written (validated). */
  readonly value: unknown;
  /** Who asked: `ip:port` for HTTP, `mqtt`, `cli`, `program`. */
  readonly source: string;
  readonly result: 'accepted' | 'refused';
  /** Refused: the error code and message. */
  readonly code?: ErrorCode;
  readonly message?: string;
  /** Accepted: the transaction and the value read back. */
  readonly transactionId?: string;
  readonly readBack?: unknown;
}

/** The alarms of an instrument changed (seen in a polled or read Alarm Info). */
export interface AlarmEvent {
  readonly instrument: string;
  readonly bus: string;
  readonly node: number;
  /** Absent for the first value seen (with alarms). */
  readonly before?: readonly AlarmName[];
  readonly after: readonly AlarmName[];
  readonly raised: readonly AlarmName[];
  readonly cleared: readonly AlarmName[];
  /** Alarm Info as read. */
  readonly value: number;
  readonly time: string;
}

/** Something of the counter: `batch-end`, the batch limit reached (the batch alarm raised). */
export interface CounterEvent {
  readonly instrument: string;
  readonly bus: string;
  readonly node: number;
  readonly kind: 'batch-end';
  /** The counter value, when it was read with the alarm. */
  readonly value?: number;
  readonly time: string;
}

/** Every event of the gateway, by name. */
export type GatewayEventMap = {
  /** Each transaction, as the transaction log stores it. */
  readonly transaction: LoggedTransaction;
  readonly values: ValuesEvent;
  readonly instrument: InstrumentEvent;
  readonly bus: BusEvent;
  readonly store: StoreEvent;
  readonly bridge: BridgeEvent;
  readonly write: WriteEvent;
  /** A setpoint program started, changed step, paused, resumed, ended, or was acted on after a restart. */
  readonly program: ProgramEvent;
  readonly alarm: AlarmEvent;
  readonly counter: CounterEvent;
};

export type { ProgramEvent } from './programs/view.js';

export type GatewayEventName = keyof GatewayEventMap & string;

/** The hub both modes emit on. */
export class GatewayEvents extends EventHub<GatewayEventMap> {
  constructor(logger?: Logger) {
    super(logger);
  }
}
