/**
 * Fluids, counters and alarms, on one instrument's parameters: listing the fluid sets (which the
 * instrument tells only for the selected one: the listing selects each in turn and restores the
 * one it found), the counter and alarm parameters by name, and the alarm bits (DDE 28) as names.
 * The bus-level parts take a `ParamClient`, for master mode and the one-shot CLI alike.
 */
import { BusError, Priority, type ParamClient, type ParamResult } from '../bus/index.js';
import { resolveParam, type ParamDef } from '../params/index.js';
import { GatewayError, type Logger } from '../shared/index.js';
import { decodeAlarms, type AlarmName } from './alarms.js';
import type { GatewayEvents } from './events.js';
import type { ValueView } from './views.js';

export { ALARM_BITS, ALARM_INFO_DDE, decodeAlarms, type AlarmName } from './alarms.js';

/** Reset [114] values: counter (no mode change), alarm. */
export const RESET_COUNTER = 1;
export const RESET_ALARM = 2;

/** The counter's parameters, in the order the counter view reads them. */
export const COUNTER_PARAMS = ['counterValue', 'counterLimit', 'counterMode', 'counterUnit'] as const;

/** The alarm settings read and written by name. */
export const ALARM_SETTINGS = ['alarmMode', 'alarmLimitMaximum', 'alarmLimitMinimum', 'alarmDelay', 'alarmSetpointMode', 'alarmNewSetpoint', 'alarmOutputMode', 'resetAlarmEnable'] as const;

/** What the instrument tells of each fluid set once selected. */
const FLUID_DETAILS = ['fluidName', 'capacity', 'capacityUnit', 'density'] as const;

/** A value to write, as `WriteInput` of the service (kept here: service.ts imports this file). */
type WriteInput = number | string | { readonly value: number | string; readonly unit?: string };

/** One fluid set as the instrument tells it. */
export interface FluidSet {
  readonly index: number;
  readonly name: string;
  readonly capacity?: number;
  readonly unit?: string;
  /** kg/m3, where the instrument has it. */
  readonly density?: number;
}

export interface FluidList {
  readonly instrument: string;
  /** The fluid set selected before and after the listing. */
  readonly active: number;
  readonly fluids: FluidSet[];
  /** The listing selected each set in turn; the one selected before was selected again. */
  readonly restored: boolean;
  readonly time: string;
}

export interface FluidSwitchResult {
  readonly instrument: string;
  readonly fluid: FluidSet;
  /** The identity read again after the switch: fluid name, capacity and unit of the new set. */
  readonly identity: Readonly<Record<string, unknown>>;
}

export interface CounterView {
  readonly instrument: string;
  readonly value: number;
  readonly limit: number;
  readonly mode: number;
  readonly modeLabel?: string;
  /** Counter unit [128], e.g. ln. */
  readonly unit?: string;
  /** Counting up to the limit and the limit reached. */
  readonly batchReached: boolean;
  readonly time: string;
}

export interface AlarmSettingsView {
  readonly instrument: string;
  /** The alarms active now. */
  readonly alarms: AlarmName[];
  readonly settings: Readonly<Record<string, ValueView>>;
  /** Settings the instrument did not answer, with why. */
  readonly unsupported: { readonly key: string; readonly code: string; readonly message: string }[];
}

export interface AlarmsView {
  readonly instrument: string;
  readonly alarms: AlarmName[];
  readonly value: number;
}

/** The lab side of a mode that writes to instruments (master mode). */
export interface LabService {
  fluids(ref: string, opts: { force?: boolean; source: string }): Promise<FluidList>;
  setFluid(ref: string, fluid: string | number, opts: { force?: boolean; source: string }): Promise<FluidSwitchResult>;
  counter(ref: string): Promise<CounterView>;
  setCounter(ref: string, input: { limit?: number; mode?: number | string }, ctx: { source: string }): Promise<CounterView>;
  resetCounter(ref: string, ctx: { source: string }): Promise<CounterView>;
  alarmSettings(ref: string): Promise<AlarmSettingsView>;
  setAlarmSettings(ref: string, values: Readonly<Record<string, WriteInput>>, ctx: { source: string }): Promise<AlarmSettingsView>;
  resetAlarms(ref: string, ctx: { source: string }): Promise<AlarmsView>;
}

function defs(keys: readonly string[]): ParamDef[] {
  return keys.map((k) => resolveParam(k));
}

/** The value of a result, or its error thrown. */
function valueOf(r: ParamResult | undefined, what: string): number | string {
  if (!r) throw new GatewayError('BUS_BAD_REPLY', `no value for ${what} in the answer`, { param: what });
  if (!r.ok) throw r.error;
  const v = r.reading.value;
  if (v instanceof Uint8Array) throw new GatewayError('BUS_BAD_REPLY', `${what} is not a number or text`, { param: what });
  return v;
}

/** Text parameters come padded with spaces or NUL. */
function trimmed(v: number | string): string {
  return String(v).replace(/[\s\0]+$/, '');
}

/**
 * Lists the fluid sets: selects each (fluidsetIndex 0, 1, ...) until the instrument refuses one,
 * reads what it tells of it, and selects the one found at the start again, also after a failure.
 * Refused with GATEWAY_FLUID_BUSY while the setpoint is not 0, unless `force`: selecting another
 * fluid changes what the valve does with the setpoint.
 */
export async function listFluids(client: ParamClient, node: number, label: string, opts: { force?: boolean; priority?: Priority } = {}): Promise<FluidList> {
  const priority = opts.priority ?? Priority.Interactive;
  const index = resolveParam('fluidsetIndex');
  const [ir, sr] = await client.read(node, [index, resolveParam('setpoint')], { priority, purpose: 'fluids' });
  const active = Number(valueOf(ir, 'fluidsetIndex'));
  const setpoint = Number(valueOf(sr, 'setpoint'));
  if (setpoint !== 0 && !opts.force) {
    throw new GatewayError(
      'GATEWAY_FLUID_BUSY',
      `${label} has setpoint ${setpoint} (raw): listing the fluid sets selects each in turn, which changes the flow; set the setpoint to 0 first, or force it`,
      { instrument: label, setpoint },
    );
  }
  const fluids: FluidSet[] = [];
  const details = defs(FLUID_DETAILS);
  try {
    for (let i = 0; i <= (index.max ?? 8); i++) {
      try {
        await client.write(node, [{ param: index, value: i }], { priority, purpose: 'fluids' });
      } catch (err) {
        // The instrument refuses the first index it does not have: the end of the list.
        if (err instanceof BusError && err.failure.kind === 'status') break;
        throw err;
      }
      const results = await client.read(node, details, { priority, purpose: 'fluids' });
      const [name, capacity, unit, density] = results;
      fluids.push({
        index: i,
        name: trimmed(valueOf(name, 'fluidName')),
        ...(capacity?.ok ? { capacity: Number(capacity.reading.value) } : {}),
        ...(unit?.ok ? { unit: trimmed(unit.reading.value as string) } : {}),
        ...(density?.ok && Number(density.reading.value) > 0 ? { density: Number(density.reading.value) } : {}),
      });
    }
  } finally {
    await client.write(node, [{ param: index, value: active }], { priority: Priority.Write, purpose: 'fluids' });
  }
  return { instrument: label, active, fluids, restored: true, time: new Date().toISOString() };
}

/** The index of a fluid by number or name (case and trailing blanks ignored); GATEWAY_FLUID_UNKNOWN names those there are. */
export function findFluid(list: FluidList, fluid: string | number): FluidSet {
  const wanted = typeof fluid === 'number' ? undefined : fluid.trim().toLowerCase();
  const hit = list.fluids.find((f) => (wanted === undefined ? f.index === fluid : f.name.toLowerCase() === wanted));
  if (hit) return hit;
  throw new GatewayError('GATEWAY_FLUID_UNKNOWN', `${list.instrument} has no fluid set ${JSON.stringify(fluid)}; it has ${list.fluids.map((f) => `${f.index} ${f.name}`).join(', ')}`, {
    instrument: list.instrument,
    fluid,
    fluids: list.fluids.map((f) => ({ index: f.index, name: f.name })),
  });
}

/** Values read by parameter key, or why each could not be. */
export type Got = ReadonlyMap<string, number | string | GatewayError>;

/** A bus read's results as `Got`. */
export function gotFromResults(results: readonly ParamResult[]): Got {
  return new Map<string, number | string | GatewayError>(results.map((r) => (r.ok ? [r.reading.param.key, r.reading.value instanceof Uint8Array ? '' : r.reading.value] : [r.param.key, r.error])));
}

/** A value of `got`, its error thrown. */
export function need(got: Got, key: string): number | string {
  const v = got.get(key);
  if (v instanceof GatewayError) throw v;
  if (v === undefined) throw new GatewayError('BUS_BAD_REPLY', `no value for ${key} in the answer`, { param: key });
  return v;
}

/** The counter view from the counter parameters (COUNTER_PARAMS) and, when read with them, Alarm Info. */
export function counterView(label: string, got: Got): CounterView {
  const mode = Number(need(got, 'counterMode'));
  const modeLabel = resolveParam('counterMode').enumeration?.find((e) => e.value === mode)?.label;
  const value = Number(need(got, 'counterValue'));
  const limit = Number(need(got, 'counterLimit'));
  const u = got.get('counterUnit');
  const unit = typeof u === 'string' ? trimmed(u) : undefined;
  const alarmInfo = got.get('alarmInfo');
  const batchReached = typeof alarmInfo === 'number' ? (alarmInfo & 0x10) !== 0 : mode === 2 && limit > 0 && value >= limit;
  return { instrument: label, value, limit, mode, ...(modeLabel ? { modeLabel } : {}), ...(unit ? { unit } : {}), batchReached, time: new Date().toISOString() };
}

/** Refuses names that are not alarm settings, naming those that are. */
export function checkAlarmSettings(label: string, names: readonly string[]): void {
  const allowed: readonly string[] = ALARM_SETTINGS;
  const wrong = names.filter((n) => {
    try {
      return !allowed.includes(resolveParam(n).key);
    } catch {
      return true; // not a parameter at all: refused here with the list, not as PARAM_UNKNOWN
    }
  });
  if (names.length === 0 || wrong.length > 0) {
    throw new GatewayError('GATEWAY_NOT_ALARM_SETTING', `${names.length === 0 ? 'no alarm setting given' : `not alarm settings: ${wrong.join(', ')}`}; the alarm settings of ${label} are ${ALARM_SETTINGS.join(', ')}`, {
      given: [...names],
      allowed: [...ALARM_SETTINGS],
    });
  }
}

/**
 * Watches polled and read Alarm Info values: a change is an `alarm` event with the alarms before
 * and after (none before on the first value seen with alarms), logged one line per change; the
 * batch alarm appearing is a `counter` event of kind `batch-end`.
 */
export class AlarmWatch {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly events: GatewayEvents,
    private readonly log: Logger,
  ) {}

  observe(inst: { readonly id: string; readonly bus: string; readonly node: number }, value: number, counter?: number): void {
    const before = this.last.get(inst.id);
    this.last.set(inst.id, value);
    if (before === value || (before === undefined && value === 0)) return;
    const after = decodeAlarms(value);
    const was = before === undefined ? undefined : decodeAlarms(before);
    const raised = after.filter((a) => !was?.includes(a));
    const cleared = (was ?? []).filter((a) => !after.includes(a));
    const time = new Date().toISOString();
    this.log.info(
      { instrument: inst.id, alarms: after, raised, cleared, alarmInfo: value },
      `alarms of ${inst.id}: ${[...raised.map((a) => `+${a}`), ...cleared.map((a) => `-${a}`)].join(' ')} (now ${after.join(', ') || 'none'})`,
    );
    this.events.emit('alarm', { instrument: inst.id, bus: inst.bus, node: inst.node, ...(was ? { before: was } : {}), after, raised, cleared, value, time });
    if (raised.includes('batch')) {
      this.events.emit('counter', { instrument: inst.id, bus: inst.bus, node: inst.node, kind: 'batch-end', ...(counter !== undefined ? { value: counter } : {}), time });
    }
  }

  forget(id: string): void {
    this.last.delete(id);
  }
}
