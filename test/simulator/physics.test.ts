import { afterEach, describe, expect, it } from 'vitest';
import { WireType, buildValues, decodeValue, encodeValue, valueParams, type ParamAddress } from '../../src/codec/index.js';
import { FULL_SCALE, VALVE_FULL } from '../../simulator/index.js';
import { harness, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.sim.close();
  h = undefined;
});

const MEASURE: ParamAddress = { process: 1, fbnr: 0, wireType: WireType.Int16 };
const SETPOINT: ParamAddress = { process: 1, fbnr: 1, wireType: WireType.Int16 };
const VALVE: ParamAddress = { process: 114, fbnr: 1, wireType: WireType.Int32 };
const COUNTER: ParamAddress = { process: 104, fbnr: 1, wireType: WireType.Int32 };
const TEMP: ParamAddress = { process: 33, fbnr: 7, wireType: WireType.Int32 };
const ALARM: ParamAddress = { process: 1, fbnr: 20, wireType: WireType.Byte };
const FMEASURE: ParamAddress = { process: 33, fbnr: 0, wireType: WireType.Int32 };
const FSETPOINT: ParamAddress = { process: 33, fbnr: 3, wireType: WireType.Int32 };

/** Reads over the wire and decodes with the given types. */
async function read(hh: Harness, params: [ParamAddress, 'bht16' | 'u16' | 'u32' | 'float' | 'u8'][]): Promise<number[]> {
  const m = await hh.master.read(3, params.map(([p]) => p));
  if (m.kind !== 'send') throw new Error(`expected values, got ${JSON.stringify(m)}`);
  return valueParams(m).map((p, i) => decodeValue(params[i]![1], p.raw) as number);
}

async function write(hh: Harness, p: ParamAddress, type: 'u16' | 'u8' | 'float', v: number): Promise<void> {
  const m = await hh.master.transact(3, buildValues('sendWithStatus', [{ ...p, raw: encodeValue(type, v) }]));
  expect(m.kind).toBe('data');
}

describe('physics with an injected clock', () => {
  it('measure follows the setpoint with a first-order lag of about 300 ms', async () => {
    h = harness({ instruments: [{ node: 3, noise: 0 }] });
    await write(h, SETPOINT, 'u16', 16000);
    h.advance(300);
    const [m1] = await read(h, [[MEASURE, 'bht16']]);
    expect(m1).toBeGreaterThan(16000 * 0.6);
    expect(m1).toBeLessThan(16000 * 0.66);
    h.advance(3000);
    const [m2, sp, valve] = await read(h, [[MEASURE, 'bht16'], [SETPOINT, 'u16'], [VALVE, 'u32']]);
    expect(m2).toBe(16000);
    expect(sp).toBe(16000);
    expect(valve).toBeGreaterThan(0);
    expect(valve).toBeLessThan(VALVE_FULL);
  });

  it('adds a little seeded noise', async () => {
    h = harness({ instruments: [{ node: 3, values: { setpoint: 16000, measure: 16000 } }] });
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      h.advance(100);
      const [m] = await read(h, [[MEASURE, 'bht16']]);
      expect(Math.abs(m! - 16000)).toBeLessThanOrEqual(8);
      seen.add(m!);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  it('control mode 3 closes the valve: flow to ~0 whatever the setpoint; 8 purges: valve fully open', async () => {
    h = harness({ instruments: [{ node: 3, noise: 0, values: { setpoint: 16000, measure: 16000 } }] });
    await write(h, { process: 1, fbnr: 4, wireType: WireType.Byte }, 'u8', 3);
    h.advance(3000);
    const [m, sp, valve, fm] = await read(h, [[MEASURE, 'bht16'], [SETPOINT, 'u16'], [VALVE, 'u32'], [FMEASURE, 'float']]);
    expect(Math.abs(m!)).toBeLessThanOrEqual(1);
    expect(sp).toBe(16000);
    expect(valve).toBe(0);
    expect(Math.abs(fm!)).toBeLessThan(1);
    await write(h, { process: 1, fbnr: 4, wireType: WireType.Byte }, 'u8', 8);
    h.advance(3000);
    const [m8, v8] = await read(h, [[MEASURE, 'bht16'], [VALVE, 'u32']]);
    expect(m8).toBeGreaterThan(FULL_SCALE);
    expect(v8).toBe(VALVE_FULL);
  });

  it('control modes 7 and 12 force the setpoint to 100 % and 0 %', async () => {
    h = harness({ instruments: [{ node: 3, noise: 0, values: { setpoint: 8000 } }] });
    const mode = { process: 1, fbnr: 4, wireType: WireType.Byte };
    await write(h, mode, 'u8', 7);
    h.advance(5000);
    expect(await read(h, [[SETPOINT, 'u16'], [MEASURE, 'bht16']])).toEqual([32000, 32000]);
    await write(h, mode, 'u8', 12);
    h.advance(5000);
    expect(await read(h, [[SETPOINT, 'u16'], [MEASURE, 'bht16']])).toEqual([0, 0]);
    await write(h, mode, 'u8', 0);
    h.advance(5000);
    expect(await read(h, [[SETPOINT, 'u16'], [MEASURE, 'bht16']])).toEqual([8000, 8000]);
  });

  it('keeps fSetpoint and setpoint consistent whichever is written; fMeasure = measure / 32000 x capacity', async () => {
    h = harness({ instruments: [{ node: 3, noise: 0, capacity: 6817 }] });
    await write(h, SETPOINT, 'u16', 16000);
    expect((await read(h, [[FSETPOINT, 'float']]))[0]).toBeCloseTo(3408.5, 2);
    await write(h, FSETPOINT, 'float', 1704.25);
    const [sp, fsp] = await read(h, [[SETPOINT, 'u16'], [FSETPOINT, 'float']]);
    expect(sp).toBe(8000);
    expect(fsp).toBe(1704.25);
    h.advance(4000);
    const [m, fm] = await read(h, [[MEASURE, 'bht16'], [FMEASURE, 'float']]);
    expect(fm).toBeCloseTo((m! / 32000) * 6817, 2);
    // fSetpoint beyond 32767 counts is a value error
    const over = await h.master.transact(3, buildValues('sendWithStatus', [{ ...FSETPOINT, raw: encodeValue('float', 7000) }]));
    expect(over.kind === 'data' && Array.from(over.data)).toEqual([0, 6, 7]);
  });

  it('integrates fMeasure into the counter (mg/min over a minute) and resets it with DDE 114', async () => {
    h = harness({ instruments: [{ node: 3, noise: 0, tauMs: 0, capacity: 6000, values: { setpoint: 32000 } }] });
    h.advance(60_000);
    const [c] = await read(h, [[COUNTER, 'float']]);
    expect(c).toBeCloseTo(6000, 0);
    await write(h, { process: 115, fbnr: 8, wireType: WireType.Byte }, 'u8', 1);
    h.advance(30_000);
    expect((await read(h, [[COUNTER, 'float']]))[0]).toBeCloseTo(3000, 0);
  });

  it('reads temperature near 21 C', async () => {
    h = harness();
    for (let i = 0; i < 5; i++) {
      h.advance(500);
      const [t] = await read(h, [[TEMP, 'float']]);
      expect(Math.abs(t! - 21)).toBeLessThanOrEqual(0.05 + 1e-6);
    }
  });

  it('raises the response alarm (0x20) only when setpoint and measure stay apart for a while', async () => {
    h = harness({ instruments: [{ node: 3, noise: 0 }] });
    await write(h, SETPOINT, 'u16', 32000);
    for (let i = 0; i < 10; i++) {
      h.advance(200);
      expect((await read(h, [[ALARM, 'u8']]))[0]).toBe(0); // a normal step settles in time
    }
    await write(h, { process: 1, fbnr: 4, wireType: WireType.Byte }, 'u8', 3);
    h.advance(500);
    expect((await read(h, [[ALARM, 'u8']]))[0]).toBe(0);
    h.advance(2000);
    expect((await read(h, [[ALARM, 'u8']]))[0]).toBe(0x20);
  });

  it('lets a test read and set values directly through the handle', async () => {
    h = harness({ instruments: [{ node: 3, noise: 0 }] });
    const inst = h.sim.instruments.get(3)!;
    inst.set('setpoint', 32000);
    inst.set('measure', 32000);
    expect(inst.get('fMeasure')).toBeCloseTo(6817, 1);
    expect(inst.get(8)).toBe(32000);
    inst.set('alarmInfo', 0x81);
    expect(await read(h, [[ALARM, 'u8']])).toEqual([0x81]);
  });
});
