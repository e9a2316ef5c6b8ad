import { LOCAL_NODE, type Value } from '../codec/index.js';
import { MAX_CHANNELS, type ParamDef } from '../params/index.js';
import { GatewayError, toHex, type ErrorCode } from '../shared/index.js';
import { ALARM_INFO_DDE, decodeAlarms } from './alarms.js';
import { scaledValues } from './units.js';

/** Who an instrument says it is (DDE numbers in brackets). Fields it does not answer stay undefined. */
export interface InstrumentIdentity {
  /**
   * Identification string [1] without its first byte: the 2-character version and the serial
   * number. The first byte is a device type code, not text; it is `identificationNumber`.
   */
  idString?: string;
  /** Device type code: byte 0 of the identification string [1], as identification number [175] gives it (7 = DMFC, 8 = DMFM, ...). */
  identificationNumber?: number;
  /** Device type [90], e.g. DMFC. */
  deviceType?: string;
  /** BHT model number [91]. */
  model?: string;
  /** Serial number [92]. */
  serial?: string;
  /** Firmware version [105]. */
  firmware?: string;
  /** User tag [115]. */
  userTag?: string;
  /** Fluid name [25]. */
  fluidName?: string;
  /** Capacity 100% [21], in capacityUnit. */
  capacity?: number;
  /** Capacity unit [129]. */
  capacityUnit?: string;
  /** Number of channels [184]. */
  channels?: number;
}

/** The parameters discovery reads, by identity field. */
export const IDENTITY_PARAMS: readonly [keyof InstrumentIdentity, number][] = [
  ['idString', 1],
  ['deviceType', 90],
  ['model', 91],
  ['serial', 92],
  ['firmware', 105],
  ['userTag', 115],
  ['fluidName', 25],
  ['capacity', 21],
  ['capacityUnit', 129],
  ['channels', 184],
];

/** The identity field each identity parameter fills, by DDE number. */
export const IDENTITY_FIELD_BY_DDE: ReadonlyMap<number, keyof InstrumentIdentity> = new Map(IDENTITY_PARAMS.map(([field, dde]) => [dde, field]));

/** What the selected fluid decides: selecting another fluidset changes all three together. */
export const FLUID_FIELDS: readonly (keyof InstrumentIdentity)[] = ['fluidName', 'capacity', 'capacityUnit'];

/** Fluidset Index [24]: writing it loads another fluid, with its own name, capacity and unit. */
const FLUIDSET_INDEX = 24;

/** The identity fields an accepted write of a parameter may change (none for most parameters). */
export function identityAfterWrite(dde: number): (keyof InstrumentIdentity)[] {
  if (dde === FLUIDSET_INDEX) return [...FLUID_FIELDS];
  const field = IDENTITY_FIELD_BY_DDE.get(dde);
  return field ? [field] : [];
}

/**
 * Sets one identity field from the value of its parameter. The identification string [1] starts
 * with a device type code byte (7 for a DMFC, a control character, which would show as `\u0007`):
 * it goes to `identificationNumber`, and `idString` keeps the printable rest.
 */
export function setIdentityField(identity: InstrumentIdentity, field: keyof InstrumentIdentity, value: number | string): void {
  if (field === 'idString' && typeof value === 'string') {
    if (value.length === 0) return;
    identity.identificationNumber = value.charCodeAt(0);
    identity.idString = value.slice(1);
    return;
  }
  (identity as Record<string, unknown>)[field] = value;
}

/** A parameter value as the API shows it. */
export interface ValueView {
  readonly dde: number;
  readonly key: string;
  readonly name: string;
  readonly unit?: string;
  /** Wire bytes in hex (strings without length byte or terminator). */
  readonly raw: string;
  readonly value: number | string;
  /** Enumeration label of the value, where the database has one. */
  readonly label?: string;
  /** Flow values (measure, setpoint, fMeasure, fSetpoint): the value in the capacity unit, once the capacity is known. */
  readonly inUnit?: { readonly value: number; readonly unit: string };
  /** Flow values: percent of capacity. */
  readonly percent?: number;
  /** Alarm Info [28]: the active alarms by name. */
  readonly alarms?: string[];
  /** ISO time the value was read (or written, or observed). */
  readonly time: string;
  /** Served from the cache (no bus transaction). */
  readonly cached: boolean;
}

/** Resolves the database's unit placeholders with what the instrument told us. */
export function unitFor(param: ParamDef, identity: InstrumentIdentity): string | undefined {
  if (param.unit === 'capacity') return identity.capacityUnit;
  if (param.unit === 'counter') return undefined;
  return param.unit;
}

export function jsonValue(v: Value): number | string {
  return v instanceof Uint8Array ? toHex(v, '') : v;
}

/**
 * A reference to an instrument as people write it: `3`, `128` (the local one), or `main:3` (bus
 * name, colon, node); a channel of a multi-channel instrument after a slash: `main:3/2`, `3/2`.
 * Channel 1 is the instrument itself (`main:3`).
 */
export interface InstrumentRef {
  readonly bus?: string;
  readonly node: number;
  /** 2 and up; absent for channel 1 (`main:3/1` is `main:3`). */
  readonly channel?: number;
}

/** The id of an instrument, or of one of its channels: `main:3`, `main:3/2`. */
export function instrumentId(bus: string, node: number, channel = 1): string {
  return channel > 1 ? `${bus}:${node}/${channel}` : `${bus}:${node}`;
}

/**
 * Parses an instrument reference; throws GATEWAY_BAD_NODE for anything else, a node outside
 * 1..128 included (128 is the instrument at the end of a local RS232 line), in either form, and a
 * channel outside 1..MAX_CHANNELS.
 */
export function parseInstrumentRef(ref: string): InstrumentRef {
  const text = String(ref).trim();
  const shown = JSON.stringify(text.length > 70 ? `${text.slice(0, 70)}...` : text);
  const m = /^(?:([A-Za-z0-9_-]{1,64}):)?(\d{1,3})(?:\/(\d{1,3}))?$/.exec(text);
  if (!m) {
    throw new GatewayError('GATEWAY_BAD_NODE', `not an instrument reference: ${shown} (use a node number, e.g. 3, or bus:node, and /channel for a channel: main:3/2)`, { node: text });
  }
  const node = Number(m[2]);
  if (node < 1 || node > LOCAL_NODE) {
    throw new GatewayError('GATEWAY_BAD_NODE', `node ${node}${m[1] ? ` in ${shown}` : ''} is outside 1..${LOCAL_NODE} (1..127 on the bus, ${LOCAL_NODE} for the instrument on the local RS232 port)`, {
      node: text,
      min: 1,
      max: LOCAL_NODE,
    });
  }
  const channel = m[3] === undefined ? 1 : Number(m[3]);
  if (channel < 1 || channel > MAX_CHANNELS) {
    throw new GatewayError('GATEWAY_BAD_NODE', `channel ${channel} in ${shown} is outside 1..${MAX_CHANNELS} (channel 1 is the instrument itself: ${m[1] ? `${m[1]}:` : ''}${node})`, {
      node: text,
      channel,
      min: 1,
      max: MAX_CHANNELS,
    });
  }
  return { ...(m[1] ? { bus: m[1] } : {}), node, ...(channel > 1 ? { channel } : {}) };
}

// ---------------------------------------------------------------- shared by both modes

/** One parameter that could not be read, inside an otherwise successful chained read. */
export interface ParamErrorView {
  readonly dde: number;
  readonly key: string;
  readonly name: string;
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details: Record<string, unknown> };
}

export interface ReadResult {
  readonly instrument: string;
  readonly values: readonly (ValueView | ParamErrorView)[];
}

/** The enumeration label of a value (not of bit fields, whose value is a combination), if the database has one. */
export function labelOf(param: ParamDef, value: unknown): string | undefined {
  if (typeof value !== 'number' || !param.enumeration || param.bits) return undefined;
  return param.enumeration.find((e) => e.value === value)?.label;
}

/** A value as the API shows it, in either mode: unit from the instrument's identity, label from the database. */
export function buildValueView(
  param: ParamDef,
  v: { readonly raw: string; readonly value: number | string; readonly time: number; readonly cached: boolean; readonly label?: string },
  identity: InstrumentIdentity,
): ValueView {
  const unit = unitFor(param, identity);
  const label = v.label ?? labelOf(param, v.value);
  const scaled = scaledValues(param, v.value, identity);
  return {
    dde: param.dde,
    key: param.key,
    name: param.name,
    ...(unit ? { unit } : {}),
    raw: v.raw,
    value: v.value,
    ...(label ? { label } : {}),
    ...(scaled?.inUnit ? { inUnit: scaled.inUnit } : {}),
    ...(scaled?.percent !== undefined ? { percent: scaled.percent } : {}),
    ...(param.dde === ALARM_INFO_DDE && typeof v.value === 'number' ? { alarms: decodeAlarms(v.value) } : {}),
    time: new Date(v.time).toISOString(),
    cached: v.cached,
  };
}

/** One parameter's failure inside a chained read, as the API shows it. */
export function errorView(param: ParamDef, err: GatewayError): ParamErrorView {
  return { dde: param.dde, key: param.key, name: param.name, error: { code: err.code, message: err.message, details: err.details } };
}

/**
 * The rule of a chained read, in both modes: when every parameter failed, and for the same
 * reason (a timeout, the bus down, nothing observed), that reason is the answer, not a list of
 * the same error. Otherwise each failure stays inline.
 */
export function readResult(instrument: string, values: readonly (ValueView | ParamErrorView)[]): ReadResult {
  const failures = values.filter((v): v is ParamErrorView => 'error' in v);
  const first = failures[0];
  if (first && failures.length === values.length && failures.every((f) => f.error.code === first.error.code)) {
    throw new GatewayError(first.error.code, first.error.message, first.error.details);
  }
  return { instrument, values };
}

/** What `findInstrument` needs to know of each instrument a mode has. */
export interface Locatable {
  /** `bus:node`, or `bus:node/channel` for channel 2 and up. */
  readonly id: string;
  readonly bus: string;
  readonly node: number;
  /** 1 unless the instrument has several channels. */
  readonly channel: number;
  /** How many channels the instrument says it has (1 when it does not say). */
  readonly channels: number;
  /** This one answers at node 128 (it is the instrument on the local RS232 port of its bus). */
  readonly local: boolean;
}

/**
 * An instrument by reference, the same in both modes: `3`, `main:3`, or `128` (the local
 * instrument of a bus). Several matches: GATEWAY_NODE_AMBIGUOUS naming each; none: what
 * `none()` throws (each mode says why it does not know the node).
 */
export function findInstrument<T extends Locatable>(ref: string, items: Iterable<T>, none: (ref: InstrumentRef, text: string) => never): T {
  const text = String(ref).trim();
  const parsed = parseInstrumentRef(text);
  const channel = parsed.channel ?? 1;
  const atNode = [...items].filter((i) => (parsed.bus === undefined || i.bus === parsed.bus) && (i.node === parsed.node || (parsed.node === LOCAL_NODE && i.local)));
  const candidates = atNode.filter((i) => i.channel === channel);
  if (candidates.length === 1) return candidates[0] as T;
  if (candidates.length > 1) {
    throw new GatewayError('GATEWAY_NODE_AMBIGUOUS', `node ${parsed.node} exists on several buses; say which: ${candidates.map((c) => c.id).join(', ')}`, {
      node: parsed.node,
      candidates: candidates.map((c) => c.id),
    });
  }
  // The instrument is there, the channel is not: say which channels it has.
  const first = atNode.find((i) => i.channel === 1);
  if (first && atNode.every((i) => i.bus === first.bus)) {
    const ids = atNode.map((i) => i.id);
    throw new GatewayError(
      'GATEWAY_NODE_UNKNOWN',
      first.channels > 1
        ? `${first.id} has ${first.channels} channels (${ids.join(', ')}); there is no channel ${channel}`
        : `${first.id} has one channel; there is no channel ${channel} (address it as ${first.id})`,
      { node: text, instrument: first.id, channel, channels: first.channels, known: ids },
    );
  }
  return none(parsed, text);
}
