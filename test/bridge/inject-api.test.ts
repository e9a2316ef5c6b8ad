/* eslint-disable @typescript-eslint/no-explicit-any -- the bodies are JSON from the API under test */
/** The HTTP API in bridge mode with injection on, in process: PUT writes (with the token), GET reads what the master never read, GET /bus shows injection. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import { buildApp } from '../../src/api/index.js';
import { Bus, ParamClient } from '../../src/bus/index.js';
import { BridgeGateway, MemorySink } from '../../src/gateway/index.js';
import { resolveParam } from '../../src/params/index.js';
import { Transport } from '../../src/transport/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'inject-api-token';

describe('the API in bridge mode with injection on', () => {
  let sim: Simulator;
  let bridge: BridgeGateway;
  let transport: Transport;
  let bus: Bus;
  let app: Awaited<ReturnType<typeof buildApp>>;
  const sink = new MemorySink(1000);

  beforeAll(async () => {
    sim = createSimulator({ nodes: [3] });
    const [bridgeEnd, masterEnd] = duplexPair();
    bridge = new BridgeGateway(
      { instrumentPort: 'sim://', masterPort: 'in-process', name: 'tap', inject: true, injectIdleMs: 5 },
      { sink, openers: { instrument: async () => sim.connect(), master: async () => bridgeEnd } },
    );
    await bridge.start();
    transport = new Transport('in-process', async () => masterEnd);
    await transport.start();
    bus = new Bus(transport, { replyTimeoutMs: 300 });
    const client = new ParamClient(bus);
    const r = await client.read(3, ['fluidName', 'capacity', 'capacityUnit', 'fMeasure'].map((k) => resolveParam(k)));
    expect(r.every((x) => x.ok)).toBe(true);
    await waitUntil(() => bridge.instruments().length === 1 || undefined, { timeoutMs: 3000, what: 'the read observed' });
    app = await buildApp({ service: bridge, token: TOKEN, version: 'test' });
  });

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await transport?.close();
    await bridge?.close();
    await sim?.close();
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
});
