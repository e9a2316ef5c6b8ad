/** Units and percent in value views and writes, writes of several parameters, snapshots: the API on master mode against the in-process simulator. */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/index.js';
import { BusError } from '../../src/bus/index.js';
import { buildSnapshot, MasterGateway, type MasterOptionsInput } from '../../src/gateway/index.js';
import { resolveParam } from '../../src/params/index.js';
import { simulatorFactory } from '../../src/sim.js';

const TOKEN = 'correct-horse-battery';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const running: { gw: MasterGateway; app: FastifyInstance; sims: ReturnType<typeof simulatorFactory> }[] = [];

async function start(extra: Partial<MasterOptionsInput> = {}) {
  const sims = simulatorFactory();
  const gw = new MasterGateway(
    { buses: [{ name: 'main', port: 'sim://?nodes=3', bus: { replyTimeoutMs: 200 } }], poll: { parameters: ['fMeasure'], intervalMs: 200 }, ...extra },
    { simulator: sims },
  );
  await gw.start();
  await gw.discover();
  const app = await buildApp({ service: gw, token: TOKEN, logger: false, version: '9.9.9' });
  running.push({ gw, app, sims });
  const inst = [...sims.simulators.values()][0]!.instruments.get(3)!;
  const put = (url: string, payload: unknown) => app.inject({ method: 'PUT', url: `/api/v1/instruments/3${url}`, payload: payload as object, headers: AUTH });
  const get = (url: string) => app.inject(`/api/v1/instruments/3${url}`);
  return { gw, app, inst, put, get };
}

afterEach(async () => {
  for (const { gw, app, sims } of running.splice(0)) {
    await app.close();
    await gw.close();
    for (const s of sims.simulators.values()) await s.close();
  }
});

// The simulated instrument: 6817 mg/min at 100 %; a setpoint goes to 102.4 % (6980.39 mg/min).
describe('units and percent', () => {
  it('value views of measure, setpoint, fMeasure and fSetpoint carry the capacity unit and percent beside the raw value', async () => {
    const { put, get } = await start();
    expect((await put('/parameters/setpoint', { value: 16000 })).statusCode).toBe(200);
    const res = await get('/parameters?names=setpoint,fSetpoint,measure,fMeasure,fluidName');
    expect(res.statusCode).toBe(200);
    const [sp, fsp, m, fm, fluid] = res.json<{ values: Record<string, unknown>[] }>().values;
    expect(sp).toMatchObject({ value: 16000, unit: 'raw', percent: 50, inUnit: { value: 3408.5, unit: 'mg/min' } });
    expect(fsp).toMatchObject({ value: 3408.5, unit: 'mg/min', percent: 50, inUnit: { value: 3408.5, unit: 'mg/min' } });
    expect(m).toHaveProperty('percent');
    expect((m as { inUnit: { unit: string } }).inUnit.unit).toBe('mg/min');
    expect(fm).toHaveProperty('percent');
    expect(fluid).not.toHaveProperty('percent');
    expect(fluid).not.toHaveProperty('inUnit');
  });

  it('a write in % or in the capacity unit reaches the instrument as the right raw or float value, on setpoint and fSetpoint', async () => {
    const { put, inst } = await start();
    let res = await put('/parameters/setpoint', { value: 25, unit: '%' });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ written: number }>().written).toBe(8000);
    expect(inst.get('setpoint')).toBe(8000);
    res = await put('/parameters/fSetpoint', { value: 50, unit: '%' });
    expect(res.json<{ written: number }>().written).toBe(3408.5);
    expect(inst.get('fSetpoint')).toBe(3408.5);
    res = await put('/parameters/setpoint', { value: 6817, unit: 'mg/min' });
    expect(inst.get('setpoint')).toBe(32000);
    res = await put('/parameters/fSetpoint', { value: 1000, unit: 'mg/min' });
    expect(res.json<{ readBack: { value: number; percent: number } }>().readBack).toMatchObject({ value: 1000, percent: 14.6692 });
    expect(inst.get('fSetpoint')).toBe(1000);
  });

  it('errors name the range in the capacity unit and in percent; an unknown unit is refused', async () => {
    const { put, inst } = await start();
    const before = inst.get('setpoint');
    let res = await put('/parameters/fSetpoint', { value: 110, unit: '%' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'PARAM_INVALID_VALUE' });
    expect(res.json<{ message: string }>().message).toContain('0..6980.39 mg/min (0..102.4 %)');
    res = await put('/parameters/setpoint', { value: 7000, unit: 'mg/min' });
    expect(res.json<{ message: string }>().message).toContain('0..6980.39 mg/min (0..102.4 %)');
    // Without a unit too: the instrument's range in both.
    res = await put('/parameters/fSetpoint', { value: 7000 });
    expect(res.json<{ message: string }>().message).toMatch(/0\.\.6980\.39 mg\/min \(0\.\.102\.4 %/);
    res = await put('/parameters/setpoint', { value: 40000 });
    expect(res.json<{ message: string }>().message).toMatch(/0\.\.102\.4 %, 0\.\.6980\.39 mg\/min/);
    res = await put('/parameters/fSetpoint', { value: 10, unit: 'ln/min' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'PARAM_BAD_UNIT', details: { accepted: ['%', 'mg/min'], capacityUnit: 'mg/min' } });
    res = await put('/parameters/controlMode', { value: 10, unit: '%' });
    expect(res.json()).toMatchObject({ code: 'PARAM_BAD_UNIT' });
    expect(inst.get('setpoint')).toBe(before);
  });
});

describe('PUT /instruments/{node}/parameters', () => {
  it('writes several parameters in one chained request and answers each with its read-back', async () => {
    const { gw, put, inst } = await start();
    const res = await put('/parameters', { fSetpoint: 100, controlMode: 'valve closed', setpoint: { value: 10, unit: '%' } });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ parameters: Record<string, { written: number; readBack?: { value: number }; transactionId: string }>; transactionIds: string[] }>();
    expect(body.transactionIds).toHaveLength(1);
    expect(Object.keys(body.parameters)).toEqual(['fSetpoint', 'controlMode', 'setpoint']);
    expect(body.parameters.setpoint?.written).toBe(3200);
    expect(body.parameters.controlMode?.readBack?.value).toBe(3);
    expect(inst.get('controlMode')).toBe(3);
    expect(inst.get('setpoint')).toBe(3200);
    const writes = gw.recentTransactions({ limit: 100 }).filter((t) => t.purpose === 'write');
    expect(writes).toHaveLength(1);
    expect(writes[0]?.params.map((p) => p.key)).toEqual(['fSetpoint', 'controlMode', 'setpoint']);
  });

  it('splits into several requests when the values do not fit in maxRequestBytes', async () => {
    const { put, inst } = await start({ buses: [{ name: 'main', port: 'sim://?nodes=3', bus: { replyTimeoutMs: 200, maxRequestBytes: 12 } }] });
    const res = await put('/parameters', { userTag: 'line A', controlMode: 0, setpoint: 1000, alarmMode: 0 });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ transactionIds: string[] }>().transactionIds.length).toBeGreaterThan(1);
    expect(inst.get('userTag')).toBe('line A');
    expect(inst.get('setpoint')).toBe(1000);
  });

  it('all or nothing: any invalid value is a 400 listing each problem, and nothing is written', async () => {
    const { put, inst, gw } = await start();
    const res = await put('/parameters', { setpoint: 1000, controlMode: 99, fSetpoint: { value: 200, unit: '%' }, capacity: 10, nonsenseParam: 1 });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ code: string; details: { problems: { param: string; code: string }[] } }>();
    expect(body.code).toBe('PARAM_WRITE_REFUSED');
    expect(body.details.problems.map((p) => [p.param, p.code])).toEqual([
      ['controlMode', 'PARAM_BAD_ENUM'],
      ['fSetpoint', 'PARAM_INVALID_VALUE'],
      ['capacity', 'PARAM_SECURED'],
      ['nonsenseParam', 'PARAM_UNKNOWN'],
    ]);
    expect(inst.get('setpoint')).not.toBe(1000);
    expect(gw.recentTransactions({ limit: 100 }).filter((t) => t.purpose === 'write')).toHaveLength(0);
    expect((await put('/parameters', {})).statusCode).toBe(400);
  });

  it('needs the token', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'PUT', url: '/api/v1/instruments/3/parameters', payload: { setpoint: 1 } });
    expect(res.statusCode).toBe(401);
  });

  it('secured parameters (with secured: true) go inside Init Reset 64 ... 82 in the same chained request', async () => {
    const { put, inst, gw } = await start({ secured: true });
    const res = await put('/parameters', { controlMode: 0, polynomialConstantA: 3 });
    expect(res.statusCode).toBe(200);
    expect(inst.get('polynomialConstantA')).toBe(3);
    const [w] = gw.recentTransactions({ limit: 100 }).filter((t) => t.purpose === 'write');
    expect(w?.params.map((p) => p.key)).toEqual(['initReset', 'controlMode', 'polynomialConstantA', 'initReset']);
    expect(inst.get('initReset')).toBe(82);
  });
});

describe('GET /instruments/{node}/snapshot', () => {
  it('reads every readable parameter in chained requests at scan priority, listing the refused ones as unsupported', async () => {
    const { get, gw, inst } = await start();
    const res = await get('/snapshot');
    expect(res.statusCode).toBe(200);
    const snap = res.json<{ instrument: string; identity: { serial: string }; parameters: Record<string, { dde: number; value: unknown; raw: string; unit?: string }>; unsupported: string[] }>();
    expect(snap.instrument).toBe('main:3');
    expect(snap.identity.serial).toBe(inst.get('serialNumber'));
    expect(snap.parameters.capacity).toMatchObject({ dde: 21, value: 6817, unit: 'mg/min' });
    expect(snap.parameters.fluidName?.value).toBe('EtOH 15mba');
    expect(Object.keys(snap.parameters).length + snap.unsupported.length).toBeGreaterThan(400);
    const reads = gw.recentTransactions({ limit: 1000 }).filter((t) => t.purpose === 'snapshot');
    expect(reads.length).toBeGreaterThan(10);
  });

  it('polling goes on while a snapshot is read: polls come between its chained reads', async () => {
    const { gw } = await start({ poll: { parameters: ['fMeasure'], intervalMs: 20 } });
    await gw.snapshot('3');
    const log = gw.recentTransactions({ limit: 5000 }).slice().reverse();
    const snapshotAt = log.map((t, i) => (t.purpose === 'snapshot' ? i : -1)).filter((i) => i >= 0);
    const first = snapshotAt[0]!;
    const last = snapshotAt[snapshotAt.length - 1]!;
    expect(snapshotAt.length).toBeGreaterThan(10);
    expect(log.slice(first, last).some((t) => t.purpose === 'poll')).toBe(true);
  });

  it('one snapshot per instrument at a time: a second request meanwhile shares the first', async () => {
    const { gw } = await start();
    const a = gw.snapshot('3');
    const b = gw.snapshot('3');
    expect(b).toBe(a);
    await a;
    const c = gw.snapshot('3');
    expect(c).not.toBe(a);
    await c;
  });
});

describe('buildSnapshot', () => {
  it('lists parameters the instrument refuses (a status answer) as unsupported, and other failures as failed', () => {
    const cap = resolveParam('capacity');
    const snap = buildSnapshot('main:3', { capacity: 100, capacityUnit: 'ln/min' }, [
      { ok: true, reading: { param: cap, node: 3, raw: new Uint8Array([0x42, 0xc8, 0, 0]), value: 100, at: 0, cached: false, transactionId: 't' } },
      { ok: false, param: resolveParam('userTag'), error: new BusError({ kind: 'status', status: 4, index: 0 }, 3) },
      { ok: false, param: resolveParam('fluidName'), error: new BusError({ kind: 'timeout', attempts: 2, timeoutMs: 200 }, 3) },
    ]);
    expect(snap.parameters).toEqual({ capacity: { dde: 21, value: 100, raw: '42c80000', unit: 'ln/min' } });
    expect(snap.unsupported).toEqual(['userTag']);
    expect(snap.failed?.map((f) => f.key)).toEqual(['fluidName']);
  });
});
