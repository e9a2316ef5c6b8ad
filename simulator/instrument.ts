import { GatewayError } from '../src/shared/index.js';
import type { Value } from '../src/codec/index.js';
import { CHANNEL_PROCESSES, findParam, validateValue, type ParamDef } from '../src/params/index.js';
import type { Behaviour, InstrumentState } from './behaviour.js';
import { IDENTIFICATION_NUMBERS, defaultSerial, type InstrumentConfig } from './options.js';
import { FlowModel } from './physics.js';
import { Random } from './random.js';
import { FULL_SCALE, INIT_RESET_LOCKED, INIT_RESET_UNLOCKED, PURGE_FLOW, RESPONSE_ALARM_COUNTS, RESPONSE_ALARM_MS, VALVE_FULL } from './constants.js';


export type { InstrumentHandle } from './behaviour.js';

/** A fluidset: what selecting it with DDE 24 loads into fluid name and capacity. */
export interface Fluidset {
  name: string;
  capacity: number;
  /** Absent: the instrument's unit as last written (`baseUnit`). */
  unit?: string;
  density?: number;
}

/** The default fluid sets, 0..7; Air, He and H2 have a unit of their own. */
const DEFAULT_FLUIDSETS: readonly Fluidset[] = [
  { name: 'N2', capacity: 100, density: 1.251 },
  { name: 'Air', capacity: 100, unit: 'ln/min', density: 1.293 },
  { name: 'EtOH 15mba', capacity: 6817, density: 789 },
  { name: 'EtOH facto', capacity: 6817, density: 789 },
  { name: 'Ar', capacity: 140, density: 1.784 },
  { name: 'He', capacity: 140, unit: 'mln/min', density: 0.1786 },
  { name: 'H2', capacity: 100, unit: 'ln/min', density: 0.0899 },
  { name: 'CO2', capacity: 74, density: 1.977 },
];

/** Parameters the physics owns; a master's write is checked and acknowledged, then becomes the new state. */
const DDE = {
  idString: 1,
  pna: 2,
  initReset: 7,
  measure: 8,
  setpoint: 9,
  setpointSlope: 10,
  analogInput: 11,
  controlMode: 12,
  capacity: 21,
  fluidsetIndex: 24,
  fluidName: 25,
  alarmInfo: 28,
  valveOutput: 55,
  deviceType: 90,
  firmware: 105,
  reset: 114,
  alarmLimitMax: 116,
  alarmLimitMin: 117,
  alarmMode: 118,
  counterValue: 122,
  counterLimit: 124,
  capacityUnit: 129,
  counterMode: 130,
  temperature: 142,
  density: 170,
  identificationNumber: 175,
  fMeasure: 205,
  fSetpoint: 206,
} as const;

/** Strings a real instrument pads with NUL when a fixed length is asked (the captures show `DMFC\0`, `V7.25\0`). */
const NUL_PADDED = new Set<number>([DDE.deviceType, DDE.firmware]);

function defaultValue(def: ParamDef): Value {
  switch (def.valueType) {
    case 'string':
      return '';
    case 'bytes':
      return new Uint8Array(0);
    default: {
      let v = 0;
      if (def.min !== null && v < def.min) v = def.min;
      if (def.max !== null && v > def.max) v = def.max;
      return v;
    }
  }
}

/** Time unit of a capacity unit string ('mg/min' -> 60000 ms), for the counter. */
function unitTimeMs(unit: string): number {
  const u = unit.trim().toLowerCase();
  if (/\/(s|sec)$/.test(u)) return 1000;
  if (/\/(h|hr)$/.test(u)) return 3_600_000;
  return 60_000;
}

export class Instrument implements InstrumentState {
  readonly config: InstrumentConfig;
  private readonly values = new Map<number, Value>();
  private readonly pins = new Map<number, Value>();
  private list: Behaviour[];
  private readonly flow: FlowModel;
  private readonly tauMs: number;
  private readonly noise: number;
  private readonly temperatureNoise: number;
  private readonly random: Random;
  private noiseMemo: { t: number; measure: number; temperature: number } | undefined;
  /** Setpoint as last written by the bus (raw counts) and fSetpoint as written (float, capacity units). */
  private busSetpoint = 0;
  private busFSetpoint = 0;
  /** A setpoint change under a setpoint slope (DDE 10): the bus setpoint moves linearly from `from` to the new one. */
  private slope: { from: number; t0: number; ms: number } | undefined;
  private counterBase = 0;
  private temperatureBase = 21;
  private winkUntil = -Infinity;
  /** The capacity unit of fluid sets that have none of their own. */
  private baseUnit: string;
  /** Alarm bits a reset alarm (reset 2) cleared; they show again once they clear and return. */
  private acknowledged = 0;
  readonly fluidsets: Fluidset[];
  readonly missingProcesses: ReadonlySet<number>;
  readonly missingParams: ReadonlySet<string>;
  /** Channels 2.. of a multi-channel instrument, each an instrument of its own at the same node. */
  private readonly channelUnits: Instrument[];
  /** Channel 1, for a channel 2..: Init Reset (process 0) is the instrument's, so its secured lock is too. */
  private owner: Instrument | undefined;

  constructor(
    config: InstrumentConfig,
    private readonly clock: () => number,
    seed: number,
    ring: { next: number; last: number; busName: string },
    behaviours: readonly Behaviour[],
  ) {
    this.config = config;
    this.tauMs = config.tauMs ?? 300;
    this.noise = config.noise ?? 8;
    this.temperatureNoise = config.temperatureNoise ?? 0.05;
    this.random = new Random(seed);
    this.list = [...behaviours];
    this.missingProcesses = new Set(config.missing?.processes ?? []);
    this.missingParams = new Set((config.missing?.params ?? []).map(([p, f]) => `${p}/${f}`));
    const now = clock();
    this.flow = new FlowModel(this.tauMs, now, 0, 0, 0);

    const deviceType = config.deviceType ?? 'DMFC';
    const fluidsetIndex = config.fluidsetIndex ?? 2;
    this.fluidsets = (config.fluidsets ?? DEFAULT_FLUIDSETS).map((f) => ({ ...f }));
    const chosen = this.fluidsets[fluidsetIndex] ?? { name: '', capacity: 1 };
    if (config.fluid !== undefined) chosen.name = config.fluid;
    if (config.capacity !== undefined) chosen.capacity = config.capacity;
    this.fluidsets[fluidsetIndex] = chosen;
    const serial = config.serial ?? defaultSerial(config.node);
    this.baseUnit = config.unit ?? 'mg/min';
    if (config.unit !== undefined && chosen.unit !== undefined) chosen.unit = config.unit;
    const unit = chosen.unit ?? this.baseUnit;

    const initial: [number, Value][] = [
      [DDE.pna, config.node],
      [4, ring.next],
      [5, ring.last],
      [DDE.initReset, INIT_RESET_LOCKED],
      [DDE.fluidsetIndex, fluidsetIndex],
      [DDE.fluidName, chosen.name],
      [DDE.capacity, chosen.capacity],
      [DDE.capacityUnit, unit],
      [DDE.density, chosen.density ?? 0],
      [128, unit.split('/')[0]?.slice(0, 4) ?? ''],
      [DDE.deviceType, deviceType],
      [DDE.identificationNumber, config.identificationNumber ?? IDENTIFICATION_NUMBERS[deviceType.toUpperCase()] ?? 7],
      [91, config.model ?? 'F-201EV-ABD'],
      [92, serial],
      [93, 'STANDARD'],
      [DDE.firmware, config.firmware ?? 'V7.25'],
      [115, config.userTag ?? 'USERTAG'],
      [171, `${serial}-CAL1`],
      [172, '20111209'],
      [29, 1],
      [184, 1 + (config.channels?.length ?? 0)],
      [182, 3],
      [DDE.counterMode, 1],
      [204, ring.busName],
    ];
    for (const [dde, v] of initial) if (findParam(dde)) this.values.set(dde, v);
    for (const [ref, v] of Object.entries(config.values ?? {})) this.set(/^\d+$/.test(ref) ? Number(ref) : ref, v);
    this.channelUnits = (config.channels ?? []).map((c, i) => {
      const { channels: _own, values: _values, fluid: _fluid, capacity: _capacity, unit: _unit, fluidsetIndex: _index, ...shared } = config;
      const unit = new Instrument({ ...shared, ...c }, clock, seed + 7919 * (i + 1), ring, behaviours);
      unit.owner = this;
      return unit;
    });
  }

  channel(n: number): Instrument | undefined {
    if (n === 1) return this;
    return this.channelUnits[n - 2];
  }

  channelAt(process: number): { state: Instrument; process: number } {
    for (const base of CHANNEL_PROCESSES) {
      const unit = process > base ? this.channelUnits[process - base - 1] : undefined;
      if (unit) return { state: unit, process: base };
    }
    return { state: this, process };
  }

  // ------------------------------------------------------------------ handle

  get node(): number {
    return this.stored(DDE.pna) as number;
  }

  get behaviours(): readonly Behaviour[] {
    return this.list;
  }

  defineBehavior(...behaviours: Behaviour[]): void {
    this.list = [...behaviours.slice().reverse(), ...this.list];
  }

  removeBehavior(name: string): boolean {
    const before = this.list.length;
    this.list = this.list.filter((b) => b.name !== name);
    return this.list.length !== before;
  }

  param(ref: string | number): ParamDef {
    const def = findParam(ref);
    if (!def) throw new GatewayError('SIM_UNKNOWN_PARAM', `unknown parameter ${JSON.stringify(ref)}`, { param: ref });
    return def;
  }

  get(ref: string | number): Value {
    return this.read(this.param(ref), this.clock());
  }

  set(ref: string | number, value: Value): void {
    const def = this.param(ref);
    if (def.dde === DDE.alarmInfo || def.dde === DDE.valveOutput) {
      this.pins.set(def.dde, value);
      return;
    }
    if (def.dde === DDE.idString && !(typeof value === 'string' && /^\d$/.test(value))) {
      this.pins.set(def.dde, value);
      return;
    }
    this.apply(def, value, this.clock());
  }

  pin(ref: string | number, value: Value): void {
    this.pins.set(this.param(ref).dde, value);
  }

  unpin(ref: string | number): void {
    this.pins.delete(this.param(ref).dde);
  }

  winking(): boolean {
    return this.clock() < this.winkUntil;
  }

  get locked(): boolean {
    return this.stored(DDE.initReset) !== INIT_RESET_UNLOCKED;
  }

  now(): number {
    return this.clock();
  }

  // ------------------------------------------------------------------ values

  /** The stored value (no physics). */
  stored(dde: number): Value {
    if (this.owner && dde === DDE.initReset) return this.owner.stored(dde);
    const v = this.values.get(dde);
    if (v !== undefined) return v;
    const def = findParam(dde);
    return def ? defaultValue(def) : 0;
  }

  /** The value a master reads at time t. */
  read(def: ParamDef, t: number): Value {
    const pinned = this.pins.get(def.dde);
    if (pinned !== undefined) return pinned;
    switch (def.dde) {
      case DDE.idString:
        return String.fromCharCode(this.stored(DDE.identificationNumber) as number) + 'SN' + String(this.stored(92));
      case DDE.measure:
        this.followSlope(t);
        return this.measureAt(t);
      case DDE.setpoint:
        return Math.round(this.effectiveSetpoint());
      case DDE.fSetpoint: {
        const sp = this.effectiveSetpoint();
        return sp === this.busSetpoint ? this.busFSetpoint : (sp / FULL_SCALE) * this.capacity();
      }
      case DDE.fMeasure:
        this.followSlope(t);
        return Math.fround((this.measureAt(t) / FULL_SCALE) * this.capacity());
      case DDE.valveOutput:
        return this.valveAt(t);
      case DDE.counterValue:
        return Math.fround(this.counterAt(t));
      case DDE.temperature:
        return Math.fround(this.temperatureBase + this.noiseAt(t).temperature);
      case DDE.alarmInfo:
        return this.alarmInfoAt(t);
      default:
        return this.stored(def.dde);
    }
  }

  /**
   * Checks a master's write beyond the database range; returns a status (0 = fine).
   * The instrument has 8 fluidsets (0..7): index 8 is refused, as in the captures.
   */
  checkWrite(def: ParamDef, value: Value): number {
    switch (def.dde) {
      case DDE.fluidsetIndex:
        return typeof value === 'number' && value < this.fluidsets.length ? 0 : 6;
      case DDE.fSetpoint: {
        const cap = this.capacity();
        if (typeof value !== 'number' || !(cap > 0)) return 6;
        const sp = Math.round((value / cap) * FULL_SCALE);
        return sp >= 0 && sp <= 32767 ? 0 : 6;
      }
      case DDE.capacity:
        return typeof value === 'number' && value > 0 ? 0 : 6;
      default:
        return 0;
    }
  }

  /** Starts a wink of `seconds` (0 stops it). */
  wink(seconds: number, t: number): void {
    this.winkUntil = t + seconds * 1000;
  }

  /** Stores a value with its side effects; no checks. */
  apply(def: ParamDef, value: Value, t: number): void {
    this.pins.delete(def.dde);
    switch (def.dde) {
      case DDE.idString:
        if (typeof value === 'string' && /^\d$/.test(value)) this.wink(Number(value), t);
        return;
      case DDE.setpoint:
        this.startSlope(t);
        this.busSetpoint = Number(value);
        this.busFSetpoint = Math.fround((this.busSetpoint / FULL_SCALE) * this.capacity());
        this.sizeSlope();
        this.retarget(t);
        return;
      case DDE.fSetpoint:
        this.startSlope(t);
        this.busFSetpoint = Math.fround(Number(value));
        this.busSetpoint = Math.min(32767, Math.max(0, Math.round((Number(value) / this.capacity()) * FULL_SCALE)));
        this.sizeSlope();
        this.retarget(t);
        return;
      case DDE.measure:
        this.retarget(t, Number(value));
        return;
      case DDE.fMeasure:
        this.retarget(t, (Number(value) / this.capacity()) * FULL_SCALE);
        return;
      case DDE.counterValue:
        this.counterBase = Number(value);
        this.flow.resetIntegral(t);
        return;
      case DDE.temperature:
        this.temperatureBase = Number(value);
        return;
      case DDE.reset:
        // Kept (write-only on the bus) so a test can see which reset arrived.
        this.values.set(def.dde, value);
        this.reset(Number(value), t);
        return;
      case DDE.fluidsetIndex: {
        const fs = this.fluidsets[Number(value)];
        this.values.set(def.dde, value);
        if (fs) {
          this.apply(this.param(DDE.fluidName), fs.name, t);
          this.apply(this.param(DDE.capacity), fs.capacity, t);
          this.apply(this.param(DDE.capacityUnit), fs.unit ?? this.baseUnit, t);
          this.values.set(DDE.density, fs.density ?? 0);
        }
        return;
      }
      case DDE.fluidName: {
        this.values.set(def.dde, value);
        const fs = this.fluidsets[this.stored(DDE.fluidsetIndex) as number];
        if (fs) fs.name = String(value);
        return;
      }
      case DDE.capacity:
      case DDE.capacityUnit:
      case DDE.counterMode: {
        // The counter's scale changes: bank what was counted so far at the old scale.
        this.counterBase = this.counterAt(t);
        this.flow.resetIntegral(t);
        this.values.set(def.dde, value);
        const fs = this.fluidsets[this.stored(DDE.fluidsetIndex) as number];
        if (def.dde === DDE.capacity) {
          if (fs) fs.capacity = Number(value);
          this.busFSetpoint = Math.fround((this.busSetpoint / FULL_SCALE) * this.capacity());
        }
        if (def.dde === DDE.capacityUnit) {
          if (fs?.unit !== undefined) fs.unit = String(value);
          else this.baseUnit = String(value);
        }
        return;
      }
      case DDE.controlMode:
      case DDE.analogInput:
        this.values.set(def.dde, value);
        this.retarget(t);
        return;
      default:
        this.values.set(def.dde, value);
    }
  }

  // ------------------------------------------------------------------ physics

  private capacity(): number {
    return this.stored(DDE.capacity) as number;
  }

  private controlMode(): number {
    return this.stored(DDE.controlMode) as number;
  }

  /** The setpoint the controller works to (what DDE 9 reads): bus setpoint, or what the control mode imposes. */
  effectiveSetpoint(): number {
    switch (this.controlMode()) {
      case 7:
        return FULL_SCALE;
      case 12:
        return 0;
      case 1:
      case 10:
        return Math.max(0, this.stored(DDE.analogInput) as number);
      default:
        return this.busSetpointAt(this.clock());
    }
  }

  /** The bus setpoint at time t: under a setpoint slope, the point the ramp has reached (not rounded). */
  private busSetpointAt(t: number): number {
    const r = this.slope;
    if (!r || t >= r.t0 + r.ms) return this.busSetpoint;
    return r.from + (this.busSetpoint - r.from) * (Math.max(0, t - r.t0) / r.ms);
  }

  /** Before a new bus setpoint: with a slope (0.1 s for 0..100 %), the change ramps from where the setpoint is now. */
  private startSlope(t: number): void {
    const from = this.busSetpointAt(t);
    const slope = Number(this.stored(DDE.setpointSlope));
    this.slope = slope > 0 ? { from, t0: t, ms: 0 } : undefined;
  }

  private sizeSlope(): void {
    if (this.slope) this.slope.ms = (Math.abs(this.busSetpoint - this.slope.from) / FULL_SCALE) * Number(this.stored(DDE.setpointSlope)) * 100;
  }

  /** During a slope ramp the flow heads for where the ramp is: a new segment at each read. */
  private followSlope(t: number): void {
    if (this.slope && t < this.slope.t0 + this.slope.ms + 1) this.retarget(t);
  }

  /** Where the flow is heading: the setpoint, or 0 with the valve closed, or purge flow. */
  private targetFlow(): number {
    switch (this.controlMode()) {
      case 3:
        return 0;
      case 8:
        return PURGE_FLOW;
      default:
        return this.effectiveSetpoint();
    }
  }

  private retarget(t: number, m0?: number): void {
    // Bank the counter at the current segment before the flow changes course.
    this.flow.rebase(t, this.targetFlow(), this.effectiveSetpoint(), m0);
  }

  private noiseAt(t: number): { measure: number; temperature: number } {
    // One noise sample per instant, so measure and fMeasure read together agree.
    if (this.noiseMemo?.t !== t) {
      this.noiseMemo = { t, measure: this.random.symmetric(this.noise), temperature: this.random.symmetric(this.temperatureNoise) };
    }
    return this.noiseMemo;
  }

  measureAt(t: number): number {
    const clean = this.flow.measureAt(t);
    const m = Math.round(clean + (this.noise > 0 ? this.noiseAt(t).measure : 0));
    return Math.min(41942, Math.max(-23593, m));
  }

  private valveAt(t: number): number {
    const mode = this.controlMode();
    if (mode === 3) return 0;
    if (mode === 8) return VALVE_FULL;
    const m = this.flow.measureAt(t);
    return Math.min(VALVE_FULL, Math.max(0, Math.round(VALVE_FULL * 0.7 * (m / FULL_SCALE))));
  }

  private counterAt(t: number): number {
    const mode = this.stored(DDE.counterMode) as number;
    if (mode === 0) return this.counterBase;
    const scale = this.capacity() / FULL_SCALE / unitTimeMs(String(this.stored(DDE.capacityUnit)));
    const v = this.counterBase + Math.max(0, this.flow.integralAt(t)) * scale;
    const limit = this.stored(DDE.counterLimit) as number;
    return mode === 2 && limit > 0 ? Math.min(v, limit) : v;
  }

  private alarmInfoAt(t: number): number {
    const bits = this.activeAlarms(t);
    // A reset alarm hides what was active then, until that alarm has gone.
    this.acknowledged &= bits;
    return bits & ~this.acknowledged;
  }

  /** The alarm conditions now: response, min/max against the limits (alarm mode 1), batch limit reached. */
  private activeAlarms(t: number): number {
    let bits = 0;
    if (this.flow.minErrorOver(t - RESPONSE_ALARM_MS, t) > RESPONSE_ALARM_COUNTS) bits |= 0x20;
    if (this.stored(DDE.alarmMode) === 1) {
      const m = this.measureAt(t);
      if (m > (this.stored(DDE.alarmLimitMax) as number)) bits |= 0x08;
      if (m < (this.stored(DDE.alarmLimitMin) as number)) bits |= 0x04;
    }
    const limit = this.stored(DDE.counterLimit) as number;
    if (this.stored(DDE.counterMode) === 2 && limit > 0 && this.counterAt(t) >= limit) bits |= 0x10;
    return bits;
  }

  private reset(kind: number, t: number): void {
    switch (kind) {
      case 1: // counter / common reset
      case 4: // reset counter
        this.counterBase = 0;
        this.flow.resetIntegral(t);
        return;
      case 2: // reset alarm
        this.acknowledged = this.activeAlarms(t);
        return;
      case 3: // restart batch counter
        this.counterBase = 0;
        this.flow.resetIntegral(t);
        return;
      case 5: // soft reset: the module locks its secured parameters again
        this.values.set(DDE.initReset, INIT_RESET_LOCKED);
        return;
      default:
        return;
    }
  }

  // ------------------------------------------------------------------ wire helpers

  /** How a fixed-length answer of this string parameter is padded. */
  padByte(def: ParamDef): number {
    if (def.valueType === 'bytes' || NUL_PADDED.has(def.dde) || def.length === 0) return 0x00;
    return 0x20;
  }

  /** Validates a value against the database (range, length), as a master's write is. Returns status 0 or 6. */
  validate(def: ParamDef, value: Value): number {
    try {
      validateValue(def, value, { allowReadOnly: true });
      return 0;
    } catch {
      return 6;
    }
  }
}
