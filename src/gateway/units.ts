/**
 * Engineering units and percent of capacity for the flow values: measure and setpoint (raw,
 * 32000 = 100 %) and fMeasure and fSetpoint (in the instrument's capacity unit). The one place
 * where these conversions live: the API's value views and writes, the CLI's `set` and MQTT use it.
 */
import type { ParamDef } from '../params/index.js';
import { GatewayError } from '../shared/index.js';

/** What the conversions need of an instrument's identity (views.ts's InstrumentIdentity has it; a type of its own here keeps the two files free of a cycle). */
export interface CapacityFacts {
  readonly capacity?: number | undefined;
  readonly capacityUnit?: string | undefined;
}

/** Raw counts at 100 % of capacity. */
export const FULL_SCALE = 32000;
/** The unit of a value given in percent of capacity. */
export const PERCENT = '%';
/** A setpoint can go to 32767 raw counts: 102.4 % of capacity. */
export const SETPOINT_MAX_FRACTION = 32767 / FULL_SCALE;

/** The flow values, by key, and how each is scaled: raw counts or the capacity unit. */
const SCALED: ReadonlyMap<string, 'raw' | 'capacity'> = new Map([
  ['measure', 'raw'],
  ['setpoint', 'raw'],
  ['fMeasure', 'capacity'],
  ['fSetpoint', 'capacity'],
]);

/** Whether a parameter's value has a percent and a capacity-unit view (measure, setpoint, fMeasure, fSetpoint). */
export function isScaled(param: ParamDef): boolean {
  return SCALED.has(param.key);
}

/** What a flow value is besides its raw value: in the capacity unit, and in percent of capacity. */
export interface ScaledValues {
  /** The value in the instrument's capacity unit; absent while the capacity (or its unit) is not known. */
  readonly inUnit?: { readonly value: number; readonly unit: string };
  /** Percent of capacity; absent for fMeasure/fSetpoint while the capacity is not known. */
  readonly percent?: number;
}

/** The capacity when it is a usable one (a positive finite number). */
function knownCapacity(identity: CapacityFacts): number | undefined {
  const c = identity.capacity;
  return c !== undefined && Number.isFinite(c) && c > 0 ? c : undefined;
}

function capacityUnit(identity: CapacityFacts): string | undefined {
  const u = identity.capacityUnit?.trim();
  return u ? u : undefined;
}

/** Six significant digits: what a float carries, without float noise in the JSON. */
function round(n: number): number {
  return Number(n.toPrecision(6));
}

/** Percent in a range's words: 102.4, not 102.397. */
function pctRound(n: number): number {
  return Number(n.toPrecision(4));
}

/** The capacity-unit and percent views of a flow value; undefined for other parameters or non-numbers. */
export function scaledValues(param: ParamDef, value: unknown, identity: CapacityFacts): ScaledValues | undefined {
  const scale = SCALED.get(param.key);
  if (!scale || typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const capacity = knownCapacity(identity);
  const unit = capacityUnit(identity);
  const fraction = scale === 'raw' ? value / FULL_SCALE : capacity !== undefined ? value / capacity : undefined;
  const inUnitValue = scale === 'capacity' ? value : capacity !== undefined && fraction !== undefined ? fraction * capacity : undefined;
  return {
    ...(inUnitValue !== undefined && unit !== undefined ? { inUnit: { value: round(inUnitValue), unit } } : {}),
    ...(fraction !== undefined ? { percent: round(fraction * 100) } : {}),
  };
}

/** The range of a flow value the instrument takes, in its native scale (raw counts or capacity unit). */
function nativeRange(param: ParamDef, capacity: number | undefined): { min: number; max: number } | undefined {
  if (SCALED.get(param.key) === 'raw') return { min: param.min ?? 0, max: param.max ?? 32767 };
  // Of the capacity-unit values only the setpoint is written; fMeasure is read-only.
  if (param.key === 'fSetpoint' && capacity !== undefined) return { min: 0, max: round(capacity * SETPOINT_MAX_FRACTION) };
  return undefined;
}

/**
 * A range in words, in the capacity unit and in percent, e.g. "0..6980.61 mg/min (0..102.4 %)";
 * only the percent (or raw) part when the capacity is not known.
 */
export function rangeText(param: ParamDef, identity: CapacityFacts): string | undefined {
  const capacity = knownCapacity(identity);
  const unit = capacityUnit(identity);
  const r = nativeRange(param, capacity);
  if (!r) return undefined;
  const raw = SCALED.get(param.key) === 'raw';
  const toPercent = (v: number) => pctRound(raw ? (v / FULL_SCALE) * 100 : (v / (capacity as number)) * 100);
  const toUnit = (v: number) => round(raw ? (v / FULL_SCALE) * (capacity as number) : v);
  const pct = `${toPercent(r.min)}..${toPercent(r.max)} ${PERCENT}`;
  if (capacity === undefined || unit === undefined) return raw ? `${r.min}..${r.max} raw (${pct})` : pct;
  return `${toUnit(r.min)}..${toUnit(r.max)} ${unit} (${pct})`;
}

/** The units a write of `param` takes besides its own scale. */
export function unitsAccepted(param: ParamDef, identity: CapacityFacts): string[] {
  if (!isScaled(param)) return [];
  const unit = capacityUnit(identity);
  return [PERCENT, ...(unit ? [unit] : []), ...(SCALED.get(param.key) === 'raw' ? ['raw'] : [])];
}

/**
 * Turns a value given with a unit into the parameter's own scale: percent or the capacity unit
 * to raw counts (measure, setpoint) or to the capacity unit (fMeasure, fSetpoint). The value must
 * lie in the instrument's range; the error names the range in both units. Throws PARAM_BAD_UNIT
 * for a unit the parameter does not take (the capacity unit must be the instrument's), and
 * PARAM_CAPACITY_UNKNOWN when the conversion needs a capacity that is not known.
 */
export function fromUnit(param: ParamDef, value: unknown, unit: string, identity: CapacityFacts): number {
  const scale = SCALED.get(param.key);
  const given = unit.trim();
  const instUnit = capacityUnit(identity);
  if (!scale) {
    throw new GatewayError('PARAM_BAD_UNIT', `${param.key} (DDE ${param.dde}) takes no unit; only measure, setpoint, fMeasure and fSetpoint are written in ${PERCENT} or the capacity unit`, {
      param: param.key,
      dde: param.dde,
      unit: given,
    });
  }
  const isPercent = given === PERCENT || given.toLowerCase() === 'percent';
  const isRaw = scale === 'raw' && given === 'raw';
  if (!isPercent && !isRaw && given !== instUnit) {
    const accepted = unitsAccepted(param, identity);
    throw new GatewayError(
      'PARAM_BAD_UNIT',
      `${param.key} (DDE ${param.dde}): unit ${JSON.stringify(given)} is not ${instUnit ? `this instrument's capacity unit (${instUnit})` : 'known here (the capacity unit has not been read)'}; use ${accepted.map((u) => JSON.stringify(u)).join(' or ')}`,
      { param: param.key, dde: param.dde, unit: given, accepted, ...(instUnit ? { capacityUnit: instUnit } : {}) },
    );
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new GatewayError('PARAM_INVALID_VALUE', `${param.key} (DDE ${param.dde}): a value in ${given} must be a number, got ${JSON.stringify(value)}`, {
      param: param.key,
      dde: param.dde,
      expected: 'number',
      unit: given,
    });
  }
  if (isRaw) return value;
  const capacity = knownCapacity(identity);
  const needsCapacity = isPercent ? scale === 'capacity' : scale === 'raw';
  if (needsCapacity && capacity === undefined) {
    throw new GatewayError('PARAM_CAPACITY_UNKNOWN', `${param.key} (DDE ${param.dde}) in ${given} is not written: the conversion needs the instrument's capacity, which is not known; try again when the instrument answers`, {
      param: param.key,
      dde: param.dde,
      capacity: identity.capacity ?? null,
    });
  }
  const fraction = isPercent ? value / 100 : scale === 'raw' ? value / (capacity as number) : undefined;
  const native = scale === 'raw' ? Math.round((fraction as number) * FULL_SCALE) : fraction === undefined ? value : fraction * (capacity as number);
  const range = nativeRange(param, capacity);
  if (range && (native < range.min || native > range.max)) {
    const inGiven = (v: number) => round(isPercent ? (scale === 'raw' ? (v / FULL_SCALE) * 100 : (v / (capacity as number)) * 100) : scale === 'raw' ? (v / FULL_SCALE) * (capacity as number) : v);
    const min = inGiven(range.min);
    const max = inGiven(range.max);
    throw new GatewayError('PARAM_INVALID_VALUE', `${param.key} (DDE ${param.dde}): ${value} ${given} is outside ${rangeText(param, identity) ?? `${min}..${max} ${given}`}`, {
      param: param.key,
      dde: param.dde,
      expected: 'number',
      value,
      unit: given,
      min,
      max,
    });
  }
  return scale === 'raw' ? native : Math.fround(native);
}

/**
 * A value typed with its unit, as on the command line: "50%", "50 %", "3000 mg/min". Undefined
 * for anything that is not a number followed by a unit (a plain number included).
 */
export function parseValueWithUnit(text: string): { value: number; unit: string } | undefined {
  const m = /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*(%|[A-Za-z\u00b5\u00b0][^\s]{0,31})\s*$/i.exec(text.length > 64 ? '' : text);
  if (!m) return undefined;
  return { value: Number(m[1]), unit: m[2] as string };
}

/**
 * The range of a raw flow value (setpoint, measure) as the validation names it: the database's
 * raw range, explained in percent and, with the capacity known, in the capacity unit.
 */
export function rawFlowRange(param: ParamDef, identity: CapacityFacts): { min: number; max: number; why: string } | undefined {
  if (SCALED.get(param.key) !== 'raw' || param.min === null || param.max === null) return undefined;
  const capacity = knownCapacity(identity);
  const unit = capacityUnit(identity);
  const pct = `${pctRound((param.min / FULL_SCALE) * 100)}..${pctRound((param.max / FULL_SCALE) * 100)} ${PERCENT}`;
  const inUnit = capacity !== undefined && unit !== undefined ? `, ${round((param.min / FULL_SCALE) * capacity)}..${round((param.max / FULL_SCALE) * capacity)} ${unit}` : '';
  return { min: param.min, max: param.max, why: `raw counts, 32000 = 100 %: ${pct}${inUnit}` };
}
