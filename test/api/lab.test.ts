/* eslint-disable @typescript-eslint/no-explicit-any -- the bodies are JSON from the API under test */
/** The lab routes (fluids, counter, alarms) through buildApp + inject, on a master gateway against the in-process simulator. */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/index.js';
import { createSimulator } from '../../simulator/index.js';
import { BridgeGateway, MasterGateway } from '../../src/gateway/index.js';
import { simulatorFactory } from '../../src/sim.js';
import { duplexPair } from '../helpers/duplex-pair.js';

const TOKEN = 'correct-horse-battery';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const running: { gw: MasterGateway; app: FastifyInstance; sims: ReturnType<typeof simulatorFactory> }[] = [];

async function start(token: string | null = TOKEN) {
  const sims = simulatorFactory();
  const gw = new MasterGateway({ buses: [{ name: 'main', port: 'sim://?nodes=3', bus: { replyTimeoutMs: 200 } }], poll: { parameters: ['fMeasure'], intervalMs: 200 } }, { simulator: sims });
  await gw.start();
  await gw.discover();
  const app = await buildApp({ service: gw, token, logger: false, version: '9.9.9' });
  running.push({ gw, app, sims });
  const inst = [...sims.simulators.values()][0]!.instruments.get(3)!;
  const send = async (method: 'GET' | 'PUT' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = AUTH) => {
    const res = await app.inject({ method, url: `/api/v1/instruments/3${url}`, ...(payload === undefined ? {} : { payload: payload as object }), headers });
    return { status: res.statusCode, body: res.json() as Record<string, any> };
  };
  return { gw, inst, send };
}

afterEach(async () => {
  for (const { gw, app, sims } of running.splice(0)) {
    await app.close();
    await gw.close();
    for (const s of sims.simulators.values()) await s.close();
  }
});

const JSON_POST = { ...AUTH, 'content-type': 'application/json' };

describe('fluids', () => {
  it('GET /fluids lists the sets and selects the one before again; PUT /fluid switches by name and by number', async () => {
    const { send, inst, gw } = await start();
    const list = await send('GET', '/fluids');
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ instrument: 'main:3', active: 2, restored: true });
    expect(list.body.fluids).toHaveLength(8);
    expect(list.body.fluids[5]).toMatchObject({ index: 5, name: 'He', capacity: 140, unit: 'mln/min' });
    expect(inst.get('fluidsetIndex')).toBe(2);
    const byName = await send('PUT', '/fluid', { fluid: 'he' });
    expect(byName.status).toBe(200);
    expect(byName.body).toMatchObject({ instrument: 'main:3', fluid: { index: 5, name: 'He', capacity: 140, unit: 'mln/min' }, identity: { fluidName: 'He', capacityUnit: 'mln/min' } });
    expect(inst.get('fluidsetIndex')).toBe(5);
    expect(gw.instrument('3').identity).toMatchObject({ fluidName: 'He', capacity: 140 });
    const byNumber = await send('PUT', '/fluid', { fluid: 6 });
    expect(byNumber.body.fluid).toMatchObject({ index: 6, name: 'H2', unit: 'ln/min' });
    expect(inst.get('fluidsetIndex')).toBe(6);
  });

  it('a bad fluid: 404 GATEWAY_FLUID_UNKNOWN naming the sets, by name and by number; 400 outside the index range', async () => {
    const { send, inst } = await start();
    // No listing yet: a number outside fluidsetIndex's range is refused before the write, one the instrument lacks after it.
    const range = await send('PUT', '/fluid', { fluid: 9 });
    expect(range.status).toBe(400);
    expect(range.body).toMatchObject({ code: 'PARAM_INVALID_VALUE', details: { min: 0, max: 8 } });
    const missing = await send('PUT', '/fluid', { fluid: 8 });
    expect(missing.body.code).toBe('GATEWAY_FLUID_UNKNOWN');
    expect(missing.status).toBe(404);
    const name = await send('PUT', '/fluid', { fluid: 'CO3' });
    expect(name.status).toBe(404);
    expect(name.body.code).toBe('GATEWAY_FLUID_UNKNOWN');
    expect(name.body.message).toMatch(/no fluid set "CO3"; it has 0 N2, 1 Air, .*7 CO2$/);
    // With the listing kept, numbers are checked against it.
    const number = await send('PUT', '/fluid', { fluid: 9 });
    expect(number.status).toBe(404);
    expect(number.body.details.fluids).toHaveLength(8);
    expect(inst.get('fluidsetIndex')).toBe(2);
  });

  it('409 GATEWAY_FLUID_BUSY while the setpoint is not 0; force=true needs the token and lists anyway', async () => {
    const { send, inst } = await start();
    expect((await send('PUT', '/parameters/setpoint', { value: 16000 })).status).toBe(200);
    const busy = await send('GET', '/fluids');
    expect(busy.status).toBe(409);
    expect(busy.body).toMatchObject({ code: 'GATEWAY_FLUID_BUSY', details: { setpoint: 16000 } });
    expect((await send('GET', '/fluids?force=true', undefined, {})).status).toBe(401);
    const forced = await send('GET', '/fluids?force=true');
    expect(forced.status).toBe(200);
    expect(forced.body.fluids).toHaveLength(8);
    expect(inst.get('fluidsetIndex')).toBe(2);
  });

  it('PUT /fluid by name without a list kept: 409 with a setpoint, unless force', async () => {
    const { send, inst } = await start();
    await send('PUT', '/parameters/setpoint', { value: 16000 });
    const busy = await send('PUT', '/fluid', { fluid: 'Ar' });
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe('GATEWAY_FLUID_BUSY');
    expect(inst.get('fluidsetIndex')).toBe(2);
    const forced = await send('PUT', '/fluid', { fluid: 'Ar', force: true });
    expect(forced.status).toBe(200);
    expect(inst.get('fluidsetIndex')).toBe(4);
  });
});

describe('counter', () => {
  it('GET, PUT and POST reset: the values reach the instrument and the counter is read again', async () => {
    const { send, inst } = await start();
    const got = await send('GET', '/counter');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ instrument: 'main:3', value: 0, limit: 0, mode: 1, unit: 'mg', batchReached: false });
    const set = await send('PUT', '/counter', { limit: 500, mode: 'counting up to limit (batchcounter)' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ limit: 500, mode: 2, modeLabel: 'counting up to limit (batchcounter)' });
    expect(inst.get('counterLimit')).toBe(500);
    expect(inst.get('counterMode')).toBe(2);
    const reset = await send('POST', '/counter/reset', undefined, JSON_POST);
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ instrument: 'main:3', limit: 500, mode: 2 });
    expect(inst.get('reset')).toBe(1);
  });

  it('a limit out of range is a 400 naming the range; nothing written', async () => {
    const { send, inst } = await start();
    const big = await send('PUT', '/counter', { limit: 1e39, mode: 2 });
    expect(big.status).toBe(400);
    expect(big.body.code).toBe('PARAM_WRITE_REFUSED');
    expect(big.body.message).toContain('outside 0..3.40282e+38');
    const negative = await send('PUT', '/counter', { limit: -1 });
    expect(negative.status).toBe(400);
    expect(negative.body.message).toMatch(/>= 0/);
    expect((await send('PUT', '/counter', {})).status).toBe(400);
    expect(inst.get('counterLimit')).toBe(0);
    expect(inst.get('counterMode')).toBe(1);
  });
});

describe('alarms', () => {
  it('GET and PUT alarm-settings by name, POST alarms/reset writes reset 2', async () => {
    const { send, inst } = await start();
    const got = await send('GET', '/alarm-settings');
    expect(got.status).toBe(200);
    expect(Object.keys(got.body.settings)).toHaveLength(8);
    expect(got.body).toMatchObject({ instrument: 'main:3', alarms: [], unsupported: [], settings: { alarmMode: { value: 0, label: 'off' } } });
    // alarmMode stays off: with the limits on, the simulator's noise may raise a min alarm.
    const set = await send('PUT', '/alarm-settings', { alarmDelay: 5, alarmLimitMaximum: 16000 });
    expect(set.status).toBe(200);
    expect(set.body.settings).toMatchObject({ alarmDelay: { value: 5 }, alarmLimitMaximum: { value: 16000 } });
    expect(inst.get('alarmDelay')).toBe(5);
    expect(inst.get('alarmLimitMaximum')).toBe(16000);
    const reset = await send('POST', '/alarms/reset', {}, JSON_POST);
    expect(reset.status).toBe(200);
    expect(reset.body).toEqual({ instrument: 'main:3', alarms: [], value: 0 });
    expect(inst.get('reset')).toBe(2);
  });

  it('400 GATEWAY_NOT_ALARM_SETTING for another parameter; nothing written', async () => {
    const { send, inst } = await start();
    const before = inst.get('setpoint');
    const res = await send('PUT', '/alarm-settings', { setpoint: 100, alarmMode: 1 });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('GATEWAY_NOT_ALARM_SETTING');
    expect(res.body.details.given).toEqual(['setpoint', 'alarmMode']);
    expect(inst.get('setpoint')).toBe(before);
    expect(inst.get('alarmMode')).toBe(0);
  });
});

const WRITES: [string, 'PUT' | 'POST', string, unknown][] = [
  ['select a fluid', 'PUT', '/fluid', { fluid: 'He' }],
  ['set the counter', 'PUT', '/counter', { limit: 5 }],
  ['reset the counter', 'POST', '/counter/reset', {}],
  ['write alarm settings', 'PUT', '/alarm-settings', { alarmMode: 1 }],
  ['reset the alarms', 'POST', '/alarms/reset', {}],
];

describe('the token', () => {
  it.each(WRITES)('%s: 401 without or with a wrong token, 403 without a configured token; nothing written', async (_what, method, url, payload) => {
    const { send, inst } = await start();
    const json = { 'content-type': 'application/json' };
    expect((await send(method, url, payload, json)).body.code).toBe('API_UNAUTHORIZED');
    expect((await send(method, url, payload, { ...json, authorization: 'Bearer wrong' })).status).toBe(401);
    const off = await start(null);
    const res = await off.send(method, url, payload, { ...json, ...AUTH });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('API_WRITES_DISABLED');
    for (const s of [inst, off.inst]) {
      expect(s.get('fluidsetIndex')).toBe(2);
      expect(s.get('counterLimit')).toBe(0);
      expect(s.get('reset')).toBe(0);
      expect(s.get('alarmMode')).toBe(0);
    }
  });

  it('the reads need none; GET /fluids?force=true without a configured token is 403', async () => {
    const { send } = await start(null);
    for (const url of ['/fluids', '/counter', '/alarm-settings']) expect((await send('GET', url, undefined, {})).status, url).toBe(200);
    expect((await send('GET', '/fluids?force=true')).status).toBe(403);
  });
});

describe('bridge mode', () => {
  it('every lab route is 409 BRIDGE_READ_ONLY', async () => {
    const sim = createSimulator({ nodes: [3] });
    const [bridgeEnd] = duplexPair();
    const bridge = new BridgeGateway({ instrumentPort: 'sim://', masterPort: 'in-process', name: 'tap' }, { openers: { instrument: async () => sim.connect(), master: async () => bridgeEnd } });
    await bridge.start();
    const app = await buildApp({ service: bridge, token: TOKEN, logger: false, version: 'test' });
    try {
      const reads: [string, 'GET' | 'PUT' | 'POST', string, unknown][] = [['list', 'GET', '/fluids', undefined], ['counter', 'GET', '/counter', undefined], ['alarms', 'GET', '/alarm-settings', undefined]];
      for (const [what, method, url, payload] of [...reads, ...WRITES]) {
        const res = await app.inject({ method, url: `/api/v1/instruments/3${url}`, ...(payload === undefined ? {} : { payload: payload as object }), headers: { ...AUTH, 'content-type': 'application/json' } });
        expect(res.statusCode, what).toBe(409);
        expect(res.json<{ code: string }>().code, what).toBe('BRIDGE_READ_ONLY');
      }
    } finally {
      await app.close();
      await bridge.close();
      await sim.close();
    }
  });
});
