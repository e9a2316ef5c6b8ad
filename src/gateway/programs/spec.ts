/**
 * A setpoint program as written (API body, YAML file) and its checks. `parseProgram` checks the
 * shape alone; `checkAgainst` (runner.ts) checks it against the instruments before anything is
 * written. Values are in each instrument's capacity unit (what fSetpoint takes).
 */
import { GatewayError } from '../../shared/index.js';

export const ON_RESTART = ['resume', 'hold', 'safe'] as const;
export type OnRestart = (typeof ON_RESTART)[number];

/** `setpoint-zero`: fSetpoint 0. `valve-closed`: controlMode 3 (the valve closes whatever the setpoint). */
export const SAFE_STATES = ['setpoint-zero', 'valve-closed'] as const;
export type SafeState = (typeof SAFE_STATES)[number];

/** `auto`: the instrument's own setpoint slope (DDE 10) where it gives the ramp asked for, else stepped writes. */
export const RAMP_MODES = ['auto', 'stepped', 'slope'] as const;
export type RampMode = (typeof RAMP_MODES)[number];

export interface ProgramInstrumentSpec {
  /** `bus:node` or a node number. */
  readonly ref: string;
  readonly safe: SafeState;
  /** This instrument's setpoint is always `ratio` times that of `of` (another instrument of the program). */
  readonly follow?: { readonly of: string; readonly ratio: number };
}

export type StepSpec =
  | { readonly type: 'hold'; readonly seconds: number; readonly values: Readonly<Record<string, number>> }
  | { readonly type: 'ramp'; readonly seconds: number; readonly values: Readonly<Record<string, number>> }
  | { readonly type: 'wait'; readonly tolerance: number; readonly seconds: number; readonly timeout: number };

export interface ProgramSpec {
  readonly name: string;
  readonly instruments: readonly ProgramInstrumentSpec[];
  readonly steps: readonly StepSpec[];
  readonly onRestart: OnRestart;
  readonly ramp: RampMode;
  /** Stepped ramps: writes per second. */
  readonly rate: number;
}

export interface ProgramLimits {
  readonly maxSteps: number;
  readonly maxInstruments: number;
  /** Longest hold, ramp or wait timeout, seconds. */
  readonly maxStepSeconds: number;
  readonly maxRate: number;
}

export const DEFAULT_PROGRAM_LIMITS: ProgramLimits = { maxSteps: 1000, maxInstruments: 16, maxStepSeconds: 7 * 24 * 3600, maxRate: 20 };

export interface ProgramDefaults {
  readonly onRestart: OnRestart;
  readonly rate: number;
  readonly ramp: RampMode;
}

export const DEFAULT_PROGRAM_DEFAULTS: ProgramDefaults = { onRestart: 'safe', rate: 10, ramp: 'auto' };

function invalid(field: string, message: string): never {
  throw new GatewayError('GATEWAY_PROGRAM_INVALID', `${field}: ${message}`, { field });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown, field: string, min: number, max: number, opts: { exclusiveMin?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) invalid(field, `must be a number, got ${JSON.stringify(v) ?? String(v)}`);
  if (opts.exclusiveMin ? v <= min : v < min) invalid(field, `must be ${opts.exclusiveMin ? 'above' : 'at least'} ${min}, got ${v}`);
  if (v > max) invalid(field, `must be at most ${max}, got ${v}`);
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) invalid(field, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function refOf(v: unknown, field: string): string {
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (typeof v !== 'string' || !/^([A-Za-z0-9_-]{1,64}:)?\d{1,3}$/.test(v)) invalid(field, `must be an instrument: a node number or bus:node, got ${JSON.stringify(v)}`);
  return v;
}

function onlyKeys(o: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) invalid(`${field}.${k}`, `unknown field; allowed: ${allowed.join(', ')}`);
}

/** Checks a program's shape (not the instruments); throws GATEWAY_PROGRAM_INVALID naming the field. */
export function parseProgram(input: unknown, limits: ProgramLimits = DEFAULT_PROGRAM_LIMITS, defaults: ProgramDefaults = DEFAULT_PROGRAM_DEFAULTS): ProgramSpec {
  if (!isObject(input)) invalid('program', 'must be an object with instruments and steps');
  onlyKeys(input, 'program', ['name', 'instruments', 'steps', 'onRestart', 'ramp', 'rate']);
  const name = input.name === undefined ? 'program' : input.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > 100) invalid('name', 'must be a text of 1..100 characters');
  const rawInstruments = input.instruments;
  if (!Array.isArray(rawInstruments) || rawInstruments.length === 0) invalid('instruments', 'must list at least one instrument');
  if (rawInstruments.length > limits.maxInstruments) invalid('instruments', `lists ${rawInstruments.length}; a program takes at most ${limits.maxInstruments}`);
  const instruments = rawInstruments.map((raw, i): ProgramInstrumentSpec => {
    const f = `instruments[${i}]`;
    const o = typeof raw === 'string' || typeof raw === 'number' ? { ref: raw } : raw;
    if (!isObject(o)) invalid(f, 'must be an instrument reference or {ref, safe, follow}');
    onlyKeys(o, f, ['ref', 'safe', 'follow']);
    const ref = refOf(o.ref, `${f}.ref`);
    const safe = oneOf(o.safe, `${f}.safe`, SAFE_STATES, 'setpoint-zero');
    if (o.follow === undefined) return { ref, safe };
    if (!isObject(o.follow)) invalid(`${f}.follow`, 'must be {of, ratio}');
    onlyKeys(o.follow, `${f}.follow`, ['of', 'ratio']);
    return { ref, safe, follow: { of: refOf(o.follow.of, `${f}.follow.of`), ratio: num(o.follow.ratio, `${f}.follow.ratio`, 0, 1000, { exclusiveMin: true }) } };
  });
  const refs = instruments.map((i) => i.ref);
  refs.forEach((r, i) => {
    if (refs.indexOf(r) !== i) invalid(`instruments[${i}].ref`, `${r} is listed twice`);
  });
  instruments.forEach((inst, i) => {
    if (!inst.follow) return;
    const leader = instruments.find((x) => x.ref === inst.follow?.of);
    if (!leader) invalid(`instruments[${i}].follow.of`, `${inst.follow.of} is not an instrument of this program`);
    if (leader.follow) invalid(`instruments[${i}].follow.of`, `${leader.ref} follows another instrument itself; follow the one it follows`);
  });
  const leaders = new Set(instruments.filter((i) => !i.follow).map((i) => i.ref));

  const rawSteps = input.steps;
  if (!Array.isArray(rawSteps) || rawSteps.length === 0) invalid('steps', 'must list at least one step');
  if (rawSteps.length > limits.maxSteps) invalid('steps', `lists ${rawSteps.length}; a program takes at most ${limits.maxSteps}`);
  const max = limits.maxStepSeconds;
  const steps = rawSteps.map((raw, i): StepSpec => {
    const f = `steps[${i}]`;
    if (!isObject(raw)) invalid(f, 'must be an object with a type (hold, ramp, wait)');
    const type = oneOf(raw.type, `${f}.type`, ['hold', 'ramp', 'wait'] as const, 'hold');
    if (raw.type === undefined) invalid(`${f}.type`, 'is missing: hold, ramp or wait');
    if (type === 'wait') {
      onlyKeys(raw, f, ['type', 'tolerance', 'seconds', 'timeout']);
      const seconds = num(raw.seconds ?? 0, `${f}.seconds`, 0, max);
      const timeout = num(raw.timeout, `${f}.timeout`, 0, max, { exclusiveMin: true });
      if (timeout < seconds) invalid(`${f}.timeout`, `(${timeout} s) is shorter than the time the value must stay within tolerance (${seconds} s)`);
      return { type, tolerance: num(raw.tolerance, `${f}.tolerance`, 0, Number.MAX_VALUE, { exclusiveMin: true }), seconds, timeout };
    }
    onlyKeys(raw, f, ['type', 'seconds', 'values']);
    const seconds = num(raw.seconds, `${f}.seconds`, 0, max, type === 'ramp' ? { exclusiveMin: true } : {});
    const rawValues = raw.values ?? {};
    if (!isObject(rawValues)) invalid(`${f}.values`, 'must map instruments to setpoints');
    const values: Record<string, number> = {};
    for (const [k, v] of Object.entries(rawValues)) {
      if (!refs.includes(k)) invalid(`${f}.values.${k}`, `is not an instrument of this program (${refs.join(', ')})`);
      if (!leaders.has(k)) invalid(`${f}.values.${k}`, `follows another instrument: its setpoint is not given`);
      values[k] = num(v, `${f}.values.${k}`, 0, Number.MAX_VALUE);
    }
    if (type === 'ramp' && Object.keys(values).length === 0) invalid(`${f}.values`, 'a ramp needs the setpoint it ramps to');
    return { type, seconds, values };
  });
  return {
    name,
    instruments,
    steps,
    onRestart: oneOf(input.onRestart, 'onRestart', ON_RESTART, defaults.onRestart),
    ramp: oneOf(input.ramp, 'ramp', RAMP_MODES, defaults.ramp),
    rate: input.rate === undefined ? defaults.rate : num(input.rate, 'rate', 0, limits.maxRate, { exclusiveMin: true }),
  };
}
