import type { Protocol, Value } from '../src/codec/index.js';

/** One simulated instrument. Everything but `node` has a default resembling the DMFC in the captures. */
export interface InstrumentConfig {
  /** Bus address (Primary Node Address, DDE 2), 1..127. */
  readonly node: number;
  /** Device type (DDE 90), e.g. 'DMFC', 'DMFM', 'DLFC'. Default 'DMFC'. */
  readonly deviceType?: string;
  /** Identification number (DDE 175, byte 0 of the ID string). Default from `deviceType` (DMFC 7, DMFM 8, ...). */
  readonly identificationNumber?: number;
  /** BHT model number (DDE 91). Default 'F-201EV-ABD'. */
  readonly model?: string;
  /** Serial number (DDE 92). Default 'M11209321A' for node 3, varied per node ('M11209323A' for node 5). */
  readonly serial?: string;
  /** Firmware version (DDE 105). Default 'V7.25'. */
  readonly firmware?: string;
  /** Fluid name (DDE 25, 10 chars). Default 'EtOH 15mba'. */
  readonly fluid?: string;
  /** Fluidset index (DDE 24). Default 2. */
  readonly fluidsetIndex?: number;
  /** Capacity 100 % (DDE 21) in `unit`. Default 6817. */
  readonly capacity?: number;
  /** Capacity unit (DDE 129, 7 chars). Default 'mg/min'. */
  readonly unit?: string;
  /**
   * The fluid sets (DDE 24 selects one; it loads fluid name 25, capacity 21, capacity unit 129 and
   * density 170). Default: eight sets, 0..7 (N2, Air, EtOH 15mba, ...); a set without `unit` keeps
   * the instrument's unit. `fluid`, `capacity` and `unit` above override the selected one.
   */
  readonly fluidsets?: readonly SimFluidset[];
  /** User tag (DDE 115). Default 'USERTAG'. */
  readonly userTag?: string;
  /** Any other initial values, by key ('setpoint', 'controlMode') or DDE number. Applied last. */
  readonly values?: Readonly<Record<string, Value>>;
  /** First-order lag time constant of the flow, ms. Default 300. */
  readonly tauMs?: number;
  /** Peak noise on measure, in raw counts (32000 = 100 %). Default 8; 0 for exact physics. */
  readonly noise?: number;
  /** Peak noise on temperature, degrees C. Default 0.05. */
  readonly temperatureNoise?: number;
  /**
   * Parts of the database this instrument does not have: a read or write there gets status 3
   * (process) or 4 (parameter), as a real instrument's firmware does for options it lacks.
   * `CAPTURED_DMFC_MISSING` lists what the captured DMFC refused.
   */
  readonly missing?: MissingParams;
  /**
   * Channels 2 and up of a multi-channel instrument (PROTOCOL.md 7): each has its own setpoint,
   * measure, fluid and capacity at the channel processes (1, 33, 65, 97, 104, offset by channel - 1);
   * everything else (serial, model, node address) is the instrument's. Number Of Channels (DDE 184)
   * answers 1 + this many.
   */
  readonly channels?: readonly ChannelConfig[];
}

/** What a channel of a multi-channel instrument has of its own. */
export type ChannelConfig = Pick<InstrumentConfig, 'fluid' | 'fluidsetIndex' | 'capacity' | 'unit' | 'values' | 'tauMs' | 'noise'>;

/** Fluidsets the channels 2, 3, ... of `sim://?channels=5:3` take (Ar 140, H2 100, CO2 74, N2 100, ...). */
const CHANNEL_FLUIDSETS = [4, 6, 7, 0, 1, 5, 3];

/**
 * `5:3,7:2` (node 5 has 3 channels, node 7 has 2) as a map node -> channel count; items that are
 * not `node:count` with a count of 1..16 are returned in `bad`.
 */
export function parseChannelSpec(text: string): { channels: Map<number, number>; bad: string[] } {
  const channels = new Map<number, number>();
  const bad: string[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const m = /^(\d{1,3}):(\d{1,2})$/.exec(item);
    if (m && Number(m[2]) >= 1 && Number(m[2]) <= 16) channels.set(Number(m[1]), Number(m[2]));
    else bad.push(item);
  }
  return { channels, bad };
}

/** Default channels 2..count of a `count`-channel instrument: each its own fluid and capacity, in mln/min. */
export function defaultChannels(count: number): ChannelConfig[] {
  return Array.from({ length: Math.max(0, count - 1) }, (_, i) => ({ fluidsetIndex: CHANNEL_FLUIDSETS[i % CHANNEL_FLUIDSETS.length] as number, unit: 'mln/min' }));
}

/** One fluid set of a simulated instrument. */
export interface SimFluidset {
  readonly name: string;
  readonly capacity: number;
  /** Capacity unit; absent: the instrument's unit as last written. */
  readonly unit?: string;
  /** kg/m3. */
  readonly density?: number;
}

export interface MissingParams {
  readonly processes?: readonly number[];
  /** [process, fbnr] pairs. */
  readonly params?: readonly (readonly [number, number])[];
}

/** Fault injection. Each probability is 0..1 and is drawn once per reply from a PRNG seeded with `seed`. */
export interface FaultOptions {
  /** The reply is never sent. */
  readonly dropReply?: number;
  /** The reply is sent `delayMs` late. */
  readonly delay?: number;
  /** Extra delay for `delay`, ms. Default 600 (past a 500 ms master timeout). */
  readonly delayMs?: number;
  /** One byte of the reply (after framing) is XORed with a random non-zero value. */
  readonly garble?: number;
  /** The reply is written in two chunks `splitGapMs` apart. */
  readonly split?: number;
  /** Gap between the halves of a split reply, ms. Default 2. */
  readonly splitGapMs?: number;
  /** The real answer is replaced by status `statusErrorCode` (INDEX 0). */
  readonly statusError?: number;
  /** Status used by `statusError`. Default 0x0C (general communication error). */
  readonly statusErrorCode?: number;
  /** PRNG seed for faults. Default: the simulator seed. */
  readonly seed?: number;
}

export interface SimulatorOptions {
  /** Bus addresses of default instruments, ascending ring order. Ignored when `instruments` is given. Default [3]. */
  readonly nodes?: readonly number[];
  readonly instruments?: readonly InstrumentConfig[];
  /** Framing. Default 'binary'. */
  readonly protocol?: Protocol;
  /** Line speed for pacing (10 bits per byte, each direction paced on its own). Absent: no pacing. */
  readonly baud?: number;
  /** Time from a request's last byte to the reply's first byte, ms. Default 0. */
  readonly turnaroundMs?: number;
  /** Message buffers of the interface: requests received and not yet answered. Default 5. */
  readonly bufferSize?: number;
  /** Largest DATA field the instrument will build or accept; larger gets status 0x23. Default 80. */
  readonly answerLimit?: number;
  readonly faults?: FaultOptions;
  /** Seed for noise (and faults unless `faults.seed`). Default 1. */
  readonly seed?: number;
  /** Keep paced timing exact to a fraction of a millisecond by waiting out the last 2 ms of each step (costs CPU; for benchmarks). Default false. */
  readonly precisePacing?: boolean;
  /** Clock for physics, ms. Default `performance.now()`. Pacing always uses real timers. */
  readonly now?: () => number;
}

/** Identification numbers (DDE 175) by device type, PROTOCOL.md 8.3. */
export const IDENTIFICATION_NUMBERS: Readonly<Record<string, number>> = {
  DMFC: 7,
  DMFM: 8,
  DEPC: 9,
  DEPM: 10,
  DLFC: 12,
  DLFM: 13,
  CORIFC: 27,
  CORIFM: 28,
  DC: 41,
  DM: 42,
};

/** The processes and process/FB pairs the captured DMFC (firmware V7.25) answered with status 3 or 4. */
export const CAPTURED_DMFC_MISSING: MissingParams = {
  processes: [65, 120, 121, 124],
  params: [
    [0, 6], [0, 7], [0, 8], [1, 27], [1, 28], [1, 29],
    [33, 10], [33, 11], [33, 12], [33, 16], [33, 26], [33, 27], [33, 28], [33, 29], [33, 30], [33, 31],
    [104, 10], [104, 11], [104, 12], [104, 14],
    [113, 17], [113, 18], [113, 20], [113, 21], [113, 22], [113, 23], [113, 24], [113, 25], [113, 26], [113, 27],
    [113, 29], [113, 30], [113, 31], [114, 13], [114, 14], [114, 30], [114, 31], [115, 23], [115, 24], [115, 31],
    [116, 6], [116, 8], [116, 9], [116, 10], [116, 11], [116, 12], [116, 13], [116, 14], [116, 15], [116, 16],
    [116, 17], [116, 18], [116, 20], [116, 29], [116, 30], [116, 31], [118, 12], [125, 8], [125, 11], [125, 12],
  ],
};

/** The default serial for a node: the captured 'M11209321A' at node 3, the digits shifted for other nodes. */
export function defaultSerial(node: number): string {
  return `M11209${String(321 + node - 3).padStart(3, '0')}A`;
}
