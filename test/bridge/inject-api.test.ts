/* eslint-disable @typescript-eslint/no-explicit-any -- the bodies are JSON from the API under test */
/** The HTTP API in bridge mode with injection on, in process: PUT writes (with the token), GET reads what the master never read, GET /bus shows injection. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../simulator/index.js';
import { MemorySink } from '../../src/gateway/index.js';
import { startBridgeApi, type BridgeApi } from './api-rig.js';

const TOKEN = 'inject-api-token';

describe('the API in bridge mode with injection on', () => {
  const sink = new MemorySink(1000);
  let sim: Simulator;
  let rig: BridgeApi | undefined;
  let app: BridgeApi['app'];

  beforeAll(async () => {
    // Node 7 is there; the master never addresses it.
    rig = await startBridgeApi({ token: TOKEN, nodes: [3, 7], read: ['fluidName', 'capacity', 'capacityUnit', 'fMeasure'], bridge: { inject: true, injectIdleMs: 5 }, deps: { sink } });
    ({ sim, app } = rig);
  });

  afterAll(async () => {
    await rig?.close();
  });

  const put = (value: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
    app.inject({ method: 'PUT', url: '/api/v1/instruments/3/parameters/setpoint', headers: { ...headers, 'content-type': 'application/json' }, payload: { value } });

  it('PUT writes through the validated path: the token, the range, then the instrument', async () => {
    expect((await put(100, {})).statusCode).toBe(401);
    const bad = await put(40000);
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'PARAM_INVALID_VALUE']);
    const ok = await put(12345);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ instrument: 'tap:3', written: 12345, readBack: { value: 12345 } });
    expect(sim.instruments.get(3)!.get('setpoint')).toBe(12345);
    // The answer names the write's row in the transaction log.
    const row = sink.list({ limit: 1000 }).find((t) => t.id === ok.json().transactionId);
    expect(row).toMatchObject({ purpose: 'injected', commandName: 'write', outcome: 'ok' });
    const factory = await app.inject({
      method: 'PUT',
      url: '/api/v1/instruments/3/parameters/initReset',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      payload: { value: 64 },
    });
    expect([factory.statusCode, factory.json().code]).toEqual([409, 'PARAM_SECURED']);
  });

  it('GET reads a parameter the master never read, by an injected request, logged apart', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/instruments/3/parameters/serialNumber' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ key: 'serialNumber', value: sim.instruments.get(3)!.get('serialNumber'), cached: false });
    const rows = sink.list({ limit: 1000 });
    expect(rows.filter((t) => t.purpose === 'injected').map((t) => t.commandName)).toEqual(expect.arrayContaining(['read', 'write']));
    expect(rows.some((t) => t.purpose === 'observed')).toBe(true);
  });

  it('GET /bus shows injection', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/bus' });
    const inject = (res.json() as any).buses[0].bridge.inject;
    expect(inject).toMatchObject({ state: 'active', inFlight: false, timedOut: 0 });
    expect(inject.sent).toBeGreaterThanOrEqual(3);
    expect(inject.answered).toBe(inject.sent);
  });

  it('PUT of several parameters writes them in one injected request; a refusal refuses them all; secured ones need "secured: true"', async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const url = '/api/v1/instruments/3/parameters';
    const refused = await app.inject({ method: 'PUT', url, headers, payload: { setpoint: 2000, valveOutput: 'x' } });
    expect([refused.statusCode, refused.json().code]).toEqual([400, 'PARAM_WRITE_REFUSED']);
    expect(sim.instruments.get(3)!.get('setpoint')).not.toBe(2000);
    const ok = await app.inject({ method: 'PUT', url, headers, payload: { setpoint: 2000, fSetpoint: { value: 10, unit: '%' } } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().transactionIds).toHaveLength(1);
    expect(sim.instruments.get(3)!.get('setpoint')).toBe(3200);
    const secured = await app.inject({ method: 'PUT', url: `${url}/polynomialConstantA`, headers, payload: { value: 1 } });
    expect([secured.statusCode, secured.json().code]).toEqual([409, 'PARAM_SECURED']);
    expect(secured.json().message).toMatch(/secured: true/);
  });

  it('GET /snapshot reads every readable parameter by injection (what flowbus backup saves)', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/instruments/3/snapshot' });
    expect(res.statusCode).toBe(200);
    const snap = res.json();
    expect(snap.instrument).toBe('tap:3');
    expect(snap.parameters.serialNumber.value).toBe(sim.instruments.get(3)!.get('serialNumber'));
    expect(snap.identity.serial).toBe(String(sim.instruments.get(3)!.get('serialNumber')).trim());
  });

  it('GET of an instrument the master never addressed identifies it by injection; an absent node is 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/instruments/7/parameters/serialNumber' });
    expect(res.statusCode).toBe(200);
    expect(res.json().value).toBe(sim.instruments.get(7)!.get('serialNumber'));
    const list = (await app.inject({ method: 'GET', url: '/api/v1/instruments' })).json();
    expect(list.instruments.map((i: any) => [i.id, i.knownBy])).toEqual([
      ['tap:3', undefined],
      ['tap:7', 'injection'],
    ]);
    const absent = await app.inject({ method: 'GET', url: '/api/v1/instruments/9/parameters/serialNumber' });
    expect([absent.statusCode, absent.json().code]).toEqual([404, 'GATEWAY_NODE_UNKNOWN']);
    expect(absent.json().message).toMatch(/did not answer an injected identity read/);
  });
});
