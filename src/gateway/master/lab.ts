/**
 * Fluids, counter and alarms in master mode: the listing of fluid sets (writes refused meanwhile,
 * the identity read again after), switching fluid through the one write path, the counter and
 * the alarm settings by name, and the alarm watch on every fresh Alarm Info reading.
 */
import { GatewayError, type Logger } from '../../shared/index.js';
import type { GatewayEvents } from '../events.js';
import {
  ALARM_INFO_DDE,
  ALARM_SETTINGS,
  AlarmWatch,
  checkAlarmSettings,
  COUNTER_PARAMS,
  counterView,
  decodeAlarms,
  findFluid,
  listFluids,
  need,
  RESET_ALARM,
  RESET_COUNTER,
  type AlarmSettingsView,
  type AlarmsView,
  type CounterView,
  type FluidList,
  type FluidSwitchResult,
  type Got,
  type LabService,
} from '../lab.js';
import { resolveParam } from '../../params/index.js';
import type { GatewayService, ReadResult, WriteInput } from '../service.js';
import { FLUID_FIELDS, type ValueView } from '../views.js';
import type { IdentityReader } from './identity.js';
import type { Registry } from './registry.js';

type Io = Pick<GatewayService, 'readParams' | 'writeParam'> & Required<Pick<GatewayService, 'writeParams'>>;

function gotFromRead(result: ReadResult): Got {
  return new Map(result.values.map((v) => ['error' in v ? v.key : v.key, 'error' in v ? new GatewayError(v.error.code, v.error.message, v.error.details) : v.value]));
}

export class MasterLab implements LabService {
  /** The last fluid list of each instrument, for switching by name. */
  private readonly lists = new Map<string, FluidList>();
  private readonly watch: AlarmWatch;

  constructor(
    private readonly io: Io,
    private readonly registry: Registry,
    private readonly identity: IdentityReader,
    events: GatewayEvents,
    private readonly log: Logger,
  ) {
    this.watch = new AlarmWatch(events, log);
    registry.observer = (inst, fresh) => {
      const alarm = fresh.find((r) => r.param.dde === ALARM_INFO_DDE);
      if (!alarm || typeof alarm.value !== 'number') return;
      const counter = fresh.find((r) => r.param.key === 'counterValue');
      this.watch.observe({ id: inst.id, bus: inst.handle.name, node: inst.node }, alarm.value, typeof counter?.value === 'number' ? counter.value : undefined);
    };
  }

  async fluids(ref: string, opts: { force?: boolean; source: string }): Promise<FluidList> {
    const inst = this.registry.find(ref);
    if (inst.busy) throw new GatewayError('GATEWAY_FLUID_BUSY', `${inst.id} is busy ${inst.busy}`, { instrument: inst.id });
    inst.busy = 'listing its fluid sets';
    let list: FluidList;
    try {
      list = await listFluids(inst.handle.client, inst.node, inst.id, opts.force ? { force: true } : {});
    } finally {
      inst.busy = undefined;
      // The listing selected other fluids: what the identity says is confirmed again.
      await this.identity.read(inst, [...FLUID_FIELDS]).catch((err: unknown) => this.log.debug({ err, instrument: inst.id }, 'identity re-read after listing the fluids failed; the poll loop reads it again'));
    }
    this.lists.set(inst.id, list);
    this.log.info({ instrument: inst.id, fluids: list.fluids.length, active: list.active, source: opts.source }, `fluid sets of ${inst.id} listed (${list.fluids.length}), set ${list.active} selected again, from ${opts.source}`);
    return list;
  }

  async setFluid(ref: string, fluid: string | number, opts: { force?: boolean; source: string }): Promise<FluidSwitchResult> {
    const inst = this.registry.find(ref);
    let index: number;
    if (typeof fluid === 'number') {
      const cached = this.lists.get(inst.id);
      index = cached ? findFluid(cached, fluid).index : fluid;
    } else {
      const cached = this.lists.get(inst.id);
      // A name not in the list kept may be a fluid set changed since: list again once.
      const hit = cached?.fluids.find((f) => f.name.toLowerCase() === fluid.trim().toLowerCase());
      index = hit ? hit.index : findFluid(await this.fluids(ref, opts), fluid).index;
    }
    try {
      await this.io.writeParam(inst.id, 'fluidsetIndex', index, { source: opts.source });
    } catch (err) {
      // A number without a list kept: the instrument refusing it means it has no such set.
      if (err instanceof GatewayError && err.code === 'BUS_STATUS' && !this.lists.has(inst.id)) {
        throw new GatewayError('GATEWAY_FLUID_UNKNOWN', `${inst.id} has no fluid set ${index} (the instrument refused it); GET .../fluids lists those there are`, { instrument: inst.id, fluid: index, status: err.details });
      }
      throw err;
    }
    const id = inst.identity;
    return {
      instrument: inst.id,
      fluid: { index, name: id.fluidName ?? '', ...(id.capacity !== undefined ? { capacity: id.capacity } : {}), ...(id.capacityUnit !== undefined ? { unit: id.capacityUnit } : {}) },
      identity: { ...inst.identity },
    };
  }

  async counter(ref: string): Promise<CounterView> {
    const inst = this.registry.find(ref);
    const got = gotFromRead(await this.io.readParams(inst.id, [...COUNTER_PARAMS, 'alarmInfo'], {}));
    return counterView(inst.id, got);
  }

  async setCounter(ref: string, input: { limit?: number; mode?: number | string }, ctx: { source: string }): Promise<CounterView> {
    const values: Record<string, WriteInput> = {};
    if (input.limit !== undefined) values.counterLimit = input.limit;
    if (input.mode !== undefined) values.counterMode = input.mode;
    if (Object.keys(values).length === 0) throw new GatewayError('API_BAD_REQUEST', 'give the counter limit, the mode, or both', { allowed: ['limit', 'mode'] });
    await this.io.writeParams(ref, values, ctx);
    return this.counter(ref);
  }

  async resetCounter(ref: string, ctx: { source: string }): Promise<CounterView> {
    await this.io.writeParam(ref, 'reset', RESET_COUNTER, ctx);
    return this.counter(ref);
  }

  async alarmSettings(ref: string): Promise<AlarmSettingsView> {
    const inst = this.registry.find(ref);
    const result = await this.io.readParams(inst.id, [...ALARM_SETTINGS, 'alarmInfo'], {});
    const settings: Record<string, ValueView> = {};
    const unsupported: { key: string; code: string; message: string }[] = [];
    let alarmInfo: number | undefined;
    for (const v of result.values) {
      if ('error' in v) {
        if (v.key !== 'alarmInfo') unsupported.push({ key: v.key, code: v.error.code, message: v.error.message });
      } else if (v.key === 'alarmInfo') alarmInfo = Number(v.value);
      else settings[v.key] = v;
    }
    return { instrument: inst.id, alarms: alarmInfo === undefined ? [] : decodeAlarms(alarmInfo), settings, unsupported };
  }

  async setAlarmSettings(ref: string, values: Readonly<Record<string, WriteInput>>, ctx: { source: string }): Promise<AlarmSettingsView> {
    const inst = this.registry.find(ref);
    checkAlarmSettings(inst.id, Object.keys(values));
    const byKey: Record<string, WriteInput> = {};
    for (const [name, v] of Object.entries(values)) byKey[resolveParam(name).key] = v;
    await this.io.writeParams(inst.id, byKey, ctx);
    return this.alarmSettings(inst.id);
  }

  async resetAlarms(ref: string, ctx: { source: string }): Promise<AlarmsView> {
    const inst = this.registry.find(ref);
    await this.io.writeParam(inst.id, 'reset', RESET_ALARM, ctx);
    const value = Number(need(gotFromRead(await this.io.readParams(inst.id, ['alarmInfo'], {})), 'alarmInfo'));
    return { instrument: inst.id, alarms: decodeAlarms(value), value };
  }
}
