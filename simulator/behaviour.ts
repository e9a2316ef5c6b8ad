/**
 * The contract between the simulated instrument and its behaviours (behaviours.ts): what a
 * behaviour is asked, what it answers, and what it may use of the instrument. A file of its
 * own, so that the instrument and the behaviours depend on it and not on each other.
 */
import type { LocatedRequestParam, Message, Value, ValueParam, ValueType } from '../src/codec/index.js';
import type { ParamDef } from '../src/params/index.js';
import type { InstrumentConfig } from './options.js';

/** The outcome of a whole message: a reply message, an error frame, or silence. */
export type MessageOutcome = { readonly reply: Message } | { readonly errorFrame: number } | { readonly silent: true };

export interface MessageContext {
  readonly instrument: InstrumentState;
  /** Simulator clock, ms. */
  readonly now: number;
  /** The request's DATA field (command byte first). */
  readonly data: Uint8Array;
  /** The decoded message; undefined when the DATA is malformed. */
  readonly message: Message | undefined;
  /** Largest DATA field the instrument builds or accepts (status 0x23 beyond). */
  readonly answerLimit: number;
}

/** One requested parameter of a read (command 4). */
export interface ReadContext {
  readonly instrument: InstrumentState;
  readonly now: number;
  readonly request: LocatedRequestParam;
  /** Every database entry at (process, FB), lowest DDE first. */
  readonly candidates: readonly ParamDef[];
  /** The entry the request resolves to: one the requested wire type can carry, else the lowest DDE. */
  readonly param: ParamDef | undefined;
  /** How to encode the value in the requested wire type; undefined when the types disagree. */
  readonly valueType: ValueType | undefined;
}

/** A status refuses the whole read; `raw` (plus a string's length byte) answers this parameter. */
export type ReadOutcome = { readonly status: number } | { readonly raw: Uint8Array; readonly stringLength?: number };

/** One parameter of a write (command 1 with status, 2 without). */
export interface WriteContext {
  readonly instrument: InstrumentState;
  readonly now: number;
  readonly acknowledged: boolean;
  /** The real process and the parameter as sent. */
  readonly process: number;
  readonly entry: ValueParam;
  /** DATA offset just past this parameter's value: the INDEX of a status about it. */
  readonly end: number;
  readonly candidates: readonly ParamDef[];
  readonly param: ParamDef | undefined;
  readonly valueType: ValueType | undefined;
  /** The decoded value, when the parameter and its type are known. */
  readonly value: Value | undefined;
}

/** Status 0 means this behaviour handled the write successfully. */
export interface WriteOutcome {
  readonly status: number;
}

export interface Behaviour {
  readonly name: string;
  onMessage?(ctx: MessageContext): MessageOutcome | undefined;
  onRead?(ctx: ReadContext): ReadOutcome | undefined;
  onWrite?(ctx: WriteContext): WriteOutcome | undefined;
}

/** What a test (or the CLI) can do with one simulated instrument. */
export interface InstrumentHandle {
  /** The instrument's current bus address (Primary Node Address, DDE 2). */
  readonly node: number;
  readonly config: InstrumentConfig;
  /** The value a master would read now (physics evaluated at the simulator clock), by key or DDE. */
  get(ref: string | number): Value;
  /**
   * Sets a value directly, bypassing access rights, ranges and Init Reset, with the same
   * side effects as a master's write (setpoint moves the physics, fluidset selects a fluid,
   * measure/fMeasure restart the lag from that value, counterValue restarts the counter).
   * Parameters that the physics computes (valve output, alarm info) are pinned instead.
   */
  set(ref: string | number, value: Value): void;
  /** Makes every read of the parameter return `value` until `unpin`. */
  pin(ref: string | number, value: Value): void;
  unpin(ref: string | number): void;
  /** Adds behaviours ahead of all existing ones (the last defined is asked first). */
  defineBehavior(...behaviours: Behaviour[]): void;
  /** Removes every behaviour with this name (defaults included); true if any was removed. */
  removeBehavior(name: string): boolean;
  /** Behaviours in the order they are asked. */
  readonly behaviours: readonly Behaviour[];
  /** True while a wink (a digit written to the ID string) is running. */
  winking(): boolean;
  /** The database entry for a key or DDE number (throws SIM_UNKNOWN_PARAM). */
  param(ref: string | number): ParamDef;
  /** Channel `n` (1 = this instrument) of a multi-channel instrument, if it has one. */
  channel(n: number): InstrumentHandle | undefined;
}


/** What the behaviours use of an instrument, beyond what a test can do with it. */
export interface InstrumentState extends InstrumentHandle {
  /** Who answers a parameter of `process`: a channel 2.. for its offset channel process (with the process as channel 1 has it), else this instrument. */
  channelAt(process: number): { readonly state: InstrumentState; readonly process: number };
  readonly missingProcesses: ReadonlySet<number>;
  readonly missingParams: ReadonlySet<string>;
  /** The stored value (no physics). */
  stored(dde: number): Value;
  /** The value a read at time t returns (physics evaluated). */
  read(def: ParamDef, t: number): Value;
  /** Status 0, or the status a write of this value gets from the instrument's own rules. */
  checkWrite(def: ParamDef, value: Value): number;
  /** Status 0, or 6 when the value is outside what the database allows. */
  validate(def: ParamDef, value: Value): number;
  /** Makes a master's write the new state, with its side effects. */
  apply(def: ParamDef, value: Value, t: number): void;
  /** Starts a wink of this many seconds. */
  wink(seconds: number, t: number): void;
  /** How a fixed-length answer of this string parameter is padded. */
  padByte(def: ParamDef): number;
}
