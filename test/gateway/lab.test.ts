import { afterEach, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import { MasterGateway, type AlarmEvent, type CounterEvent, type InstrumentEvent } from '../../src/gateway/index.js';
import type { GatewayError } from '../../src/shared/index.js';
import { waitUntil } from '../helpers/wait.js';

const FLUIDS = [
  { name: 'N2', capacity: 10, unit: 'ln/min', density: 1.251 },
  { name: 'Ar', capacity: 14, unit: 'ln/min', density: 1.784 },
  { name: 'H2', capacity: 500, unit: 'mln/min', density: 0.0899 },
  { name: 'EtOH', capacity: 6817, unit: 'mg/min' },
];

const running: { gw: MasterGateway; sim: Simulator }[] = [];

async function start() {
  const sim = createSimulator({ instruments: [{ node: 3, fluidsets: FLUIDS, fluidsetIndex: 0, noise: 0, tauMs: 0 }] });
  const gw = new MasterGateway(
    { buses: [{ name: 'main', port: 'sim://', bus: { replyTimeoutMs: 200 } }], poll: { parameters: ['measure', 'setpoint', 'alarmInfo', 'counterValue'], intervalMs: 50 } },
    { simulator: () => sim.stream },
  );
  running.push({ gw, sim });
  await gw.start();
  await gw.discover();
  return { gw, inst: sim.instruments.get(3)! };
}

afterEach(async () => {
  for (const { gw, sim } of running.splice(0)) {
    await gw.close();
    await sim.close();
  }
});

const ctx = { source: 'test' };

describe('fluids', () => {
  it('lists the four fluid sets with capacity, unit and density, and selects the first one again', async () => {
    const { gw, inst } = await start();
    const list = await gw.lab.fluids('3', ctx);
    expect(list.fluids).toEqual([
      { index: 0, name: 'N2', capacity: 10, unit: 'ln/min', density: expect.closeTo(1.251, 5) as number },
      { index: 1, name: 'Ar', capacity: 14, unit: 'ln/min', density: expect.closeTo(1.784, 5) as number },
      { index: 2, name: 'H2', capacity: 500, unit: 'mln/min', density: expect.closeTo(0.0899, 5) as number },
      { index: 3, name: 'EtOH', capacity: 6817, unit: 'mg/min' },
    ]);
    expect(list.active).toBe(0);
    expect(inst.get('fluidsetIndex')).toBe(0);
    expect(gw.instrument('3').identity).toMatchObject({ fluidName: 'N2', capacity: 10, capacityUnit: 'ln/min' });
  });

  it('refuses to list while the setpoint is not 0, unless forced, and restores the fluid then too', async () => {
    const { gw, inst } = await start();
    await gw.writeParam('3', 'setpoint', 16000, ctx);
    const e = (await gw.lab.fluids('3', ctx).catch((x: unknown) => x)) as GatewayError;
    expect(e.code).toBe('GATEWAY_FLUID_BUSY');
    expect(e.message).toMatch(/setpoint 16000/);
    const forced = await gw.lab.fluids('3', { ...ctx, force: true });
    expect(forced.fluids).toHaveLength(4);
    expect(inst.get('fluidsetIndex')).toBe(0);
  });

  it('refuses writes while the fluid sets are being listed', async () => {
    const { gw } = await start();
    const listing = gw.lab.fluids('3', ctx);
    const e = (await gw.writeParam('3', 'setpoint', 100, ctx).catch((x: unknown) => x)) as GatewayError;
    await listing;
    expect(e.code).toBe('GATEWAY_FLUID_BUSY');
  });

  it('switches by name: the new identity is read again and the views use its capacity and unit', async () => {
    const { gw, inst } = await start();
    const changes: InstrumentEvent[] = [];
    gw.events.on('instrument', (ev) => {
      if (ev.kind === 'identity') changes.push(ev);
    });
    const r = await gw.lab.setFluid('3', 'h2', ctx);
    expect(r.fluid).toEqual({ index: 2, name: 'H2', capacity: 500, unit: 'mln/min' });
    expect(inst.get('fluidsetIndex')).toBe(2);
    expect(gw.instrument('3').identity).toMatchObject({ fluidName: 'H2', capacity: 500, capacityUnit: 'mln/min' });
    await gw.writeParam('3', 'setpoint', 16000, ctx);
    const [fsp] = (await gw.readParams('3', ['fSetpoint'])).values;
    expect(fsp).toMatchObject({ unit: 'mln/min', value: 250 });
    await waitUntil(() => changes.some((c) => c.identity.fluidName === 'H2'));
    // By number, with the list kept.
    expect((await gw.lab.setFluid('3', 3, ctx)).fluid).toMatchObject({ name: 'EtOH', unit: 'mg/min' });
  });

  it('an unknown fluid names those there are', async () => {
    const { gw } = await start();
    const e = (await gw.lab.setFluid('3', 'CO2', ctx).catch((x: unknown) => x)) as GatewayError;
    expect(e.code).toBe('GATEWAY_FLUID_UNKNOWN');
    expect(e.message).toBe('main:3 has no fluid set "CO2"; it has 0 N2, 1 Ar, 2 H2, 3 EtOH');
  });
});

describe('counter', () => {
  it('counts the flow, stops at the batch limit with a batch-end event, and resets', async () => {
    const { gw, inst } = await start();
    const ends: CounterEvent[] = [];
    gw.events.on('counter', (e) => {
      ends.push(e);
    });
    const set = await gw.lab.setCounter('3', { limit: 0.05, mode: 2 }, ctx);
    expect(set).toMatchObject({ limit: expect.closeTo(0.05, 6) as number, mode: 2, modeLabel: 'counting up to limit (batchcounter)', batchReached: false });
    expect(inst.get('counterMode')).toBe(2);
    await gw.writeParam('3', 'setpoint', 32000, ctx); // 10 ln/min: 0.05 ln in 0.3 s
    await waitUntil(() => ends.length > 0, { timeoutMs: 5000 });
    expect(ends[0]).toMatchObject({ instrument: 'main:3', kind: 'batch-end' });
    const c = await gw.lab.counter('3');
    expect(c.batchReached).toBe(true);
    expect(c.value).toBeCloseTo(0.05, 6);
    await gw.writeParam('3', 'setpoint', 0, ctx);
    const reset = await gw.lab.resetCounter('3', ctx);
    expect(inst.get('reset')).toBe(1);
    expect(reset.value).toBeLessThan(0.05);
    expect(reset.batchReached).toBe(false);
  });

  it('a mode outside the enumeration is refused before anything is written', async () => {
    const { gw, inst } = await start();
    const e = (await gw.lab.setCounter('3', { limit: 7, mode: 'sideways' }, ctx).catch((x: unknown) => x)) as GatewayError;
    expect(e.code).toBe('PARAM_WRITE_REFUSED');
    expect(inst.get('counterLimit')).toBe(0);
  });
});

describe('alarms', () => {
  it('a max alarm shows in the view by name, is an alarm event with before and after, and resets', async () => {
    const { gw, inst } = await start();
    const seen: AlarmEvent[] = [];
    gw.events.on('alarm', (e) => {
      seen.push(e);
    });
    const set = await gw.lab.setAlarmSettings('3', { alarmMode: 1, alarmLimitMaximum: 16000, alarmLimitMinimum: 0 }, ctx);
    expect(set.settings.alarmLimitMaximum?.value).toBe(16000);
    expect(inst.get('alarmMode')).toBe(1);
    await gw.writeParam('3', 'setpoint', 24000, ctx);
    await waitUntil(() => seen.some((e) => e.raised.includes('max')), { timeoutMs: 5000 });
    const raised = seen.find((e) => e.raised.includes('max'))!;
    expect(raised.after).toContain('max');
    const [info] = (await gw.readParams('3', ['alarmInfo'])).values;
    expect(info).toMatchObject({ key: 'alarmInfo', alarms: ['max'] });
    expect(gw.instrument('3').values.alarmInfo?.alarms).toEqual(['max']);
    const after = await gw.lab.resetAlarms('3', ctx);
    expect(inst.get('reset')).toBe(2);
    expect(after.alarms).toEqual([]);
    // Below the limit (read, so the instrument sees the alarm gone), then above it again: a new max alarm.
    await gw.writeParam('3', 'setpoint', 8000, ctx);
    await waitUntil(async () => inst.get('alarmInfo') === 0 && (await gw.readParams('3', ['alarmInfo'])).values.length > 0);
    await gw.writeParam('3', 'setpoint', 24000, ctx);
    await waitUntil(() => seen.filter((e) => e.raised.includes('max')).length >= 2, { timeoutMs: 5000 });
    expect(seen.some((e) => e.before?.includes('max') === false && e.after.includes('max'))).toBe(true);
  });

  it('alarm settings by name; anything else is refused naming the settings', async () => {
    const { gw } = await start();
    const got = await gw.lab.alarmSettings('3');
    expect(Object.keys(got.settings).sort()).toEqual(['alarmDelay', 'alarmLimitMaximum', 'alarmLimitMinimum', 'alarmMode', 'alarmNewSetpoint', 'alarmOutputMode', 'alarmSetpointMode', 'resetAlarmEnable']);
    expect(got.alarms).toEqual([]);
    const e = (await gw.lab.setAlarmSettings('3', { setpoint: 5, alarmDelay: 3 }, ctx).catch((x: unknown) => x)) as GatewayError;
    expect(e.code).toBe('GATEWAY_NOT_ALARM_SETTING');
    expect(e.message).toMatch(/^not alarm settings: setpoint; the alarm settings of main:3 are alarmMode, /);
  });
});
