/* eslint-disable @typescript-eslint/no-explicit-any -- the bodies are JSON from the API under test */
/** The HTTP API in bridge mode, through buildApp + inject: answers from what was observed, 404 never seen, 409 on PUT. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../simulator/index.js';
import { startBridgeApi, type BridgeApi } from './api-rig.js';

const TOKEN = 'bridge-api-token';

describe('the API in bridge mode', () => {
  let sim: Simulator;
  let rig: BridgeApi | undefined;
  let app: BridgeApi['app'];

  beforeAll(async () => {
    rig = await startBridgeApi({ token: TOKEN, read: ['fluidName', 'capacity', 'capacityUnit', 'serialNumber', 'fMeasure'] });
    ({ sim, app } = rig);
  });

  afterAll(async () => {
    await rig?.close();
  });

  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json() as Record<string, any> };
  };

  it('GET answers from what was observed, with the time it was seen', async () => {
    const one = await get('/api/v1/instruments/3/parameters/fluidName');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ key: 'fluidName', value: sim.instruments.get(3)!.get('fluidName'), cached: true });
    expect(Date.now() - Date.parse(one.body.time)).toBeLessThan(5000);
    const many = await get('/api/v1/instruments/3/parameters?names=capacity,capacityUnit,fMeasure');
    expect(many.status).toBe(200);
    expect(many.body.values.map((v: any) => v.key)).toEqual(['capacity', 'capacityUnit', 'fMeasure']);
    expect(many.body.values[2].unit).toBe(sim.instruments.get(3)!.get('capacityUnit'));
    expect((await get('/api/v1/instruments/3/parameters/fluidName?maxAge=60000')).status).toBe(200);
  });

  it('GET /instruments lists the nodes seen on the wire with the identity observed so far', async () => {
    const list = await get('/api/v1/instruments');
    expect(list.status).toBe(200);
    expect(list.body.instruments).toHaveLength(1);
    expect(list.body.instruments[0]).toMatchObject({ id: 'tap:3', node: 3, online: true });
    expect(list.body.instruments[0].identity).toMatchObject({ serial: sim.instruments.get(3)!.get('serialNumber'), fluidName: sim.instruments.get(3)!.get('fluidName') });
  });

  it('a parameter never observed is 404 BRIDGE_NOT_OBSERVED; one older than maxAge is 404 BRIDGE_STALE; an unseen node 404 GATEWAY_NODE_UNKNOWN', async () => {
    const never = await get('/api/v1/instruments/3/parameters/setpoint');
    expect([never.status, never.body.code]).toEqual([404, 'BRIDGE_NOT_OBSERVED']);
    expect(never.body.message).toMatch(/not been observed/);
    await new Promise((r) => setTimeout(r, 20));
    const stale = await get('/api/v1/instruments/3/parameters/fluidName?maxAge=1');
    expect([stale.status, stale.body.code]).toEqual([404, 'BRIDGE_STALE']);
    const node = await get('/api/v1/instruments/7/parameters/fluidName');
    expect([node.status, node.body.code]).toEqual([404, 'GATEWAY_NODE_UNKNOWN']);
  });

  it('PUT is 409 BRIDGE_READ_ONLY: the bridge does not own the bus', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: '/api/v1/instruments/3/parameters/setpoint',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      payload: { value: 100 },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'BRIDGE_READ_ONLY' });
  });

  it('PUT is 409 BRIDGE_READ_ONLY with no token or a wrong one too: no write is possible in bridge mode', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }]) {
      const res = await app.inject({
        method: 'PUT',
        url: '/api/v1/instruments/3/parameters/setpoint',
        headers: { ...headers, 'content-type': 'application/json' },
        payload: { value: 100 },
      });
      expect([res.statusCode, res.json().code]).toEqual([409, 'BRIDGE_READ_ONLY']);
    }
  });

  it('GET /bus says bridge mode and shows the bridge as a bus', async () => {
    const res = await get('/api/v1/bus');
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('bridge');
    expect(res.body.buses[0]).toMatchObject({ name: 'tap', transport: { state: 'open' } });
    expect(res.body.buses[0].transactions.ok).toBeGreaterThanOrEqual(1);
    // The bridge's own counters, latency histogram and link events survive the response schema.
    const bridge = res.body.buses[0].bridge;
    expect(bridge.directions['>'].bytes).toBeGreaterThan(0);
    expect(bridge.directions['<'].frames).toBeGreaterThan(0);
    expect(bridge.forwardLatency.count).toBeGreaterThan(0);
    expect(bridge.sides.instrument.state).toBe('open');
    expect(bridge.events.length).toBeGreaterThan(0);
  });
});
