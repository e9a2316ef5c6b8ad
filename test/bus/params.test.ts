import { afterEach, describe, expect, it } from 'vitest';
import { Bus, type BusError, ParamClient, packReads, type TransactionRecord } from '../../src/bus/index.js';
import { allParams, resolveParam } from '../../src/params/index.js';
import { Transport } from '../../src/transport/index.js';
import { createSimulator, type SimulatorOptions } from '../../simulator/index.js';
import { WireType } from '../../src/codec/index.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function setup(options: SimulatorOptions = { nodes: [3] }) {
  const sim = createSimulator(options);
  const transport = new Transport('sim://', async () => sim.stream);
  await transport.start();
  const bus = new Bus(transport, { replyTimeoutMs: 200 });
  const records: TransactionRecord[] = [];
  bus.on('transaction', (r) => records.push(r));
  cleanup.push(async () => {
    await bus.close();
    await transport.close();
    await sim.close();
  });
  return { sim, bus, client: new ParamClient(bus), records };
}

describe('packing chained reads', () => {
  it('keeps every request and expected answer within the byte budget, and loses no parameter', () => {
    const params = allParams().filter((p) => p.read && p.wireType !== WireType.String).slice(0, 60);
    const chunks = packReads(params, 64, 64);
    expect(chunks.flat().map((p) => p.dde).sort((a, b) => a - b)).toEqual(params.map((p) => p.dde).sort((a, b) => a - b));
    for (const chunk of chunks) {
      let req = 1;
      let ans = 1;
      let last = -1;
      for (const p of chunk) {
        if (p.process !== last) {
          req++;
          ans++;
          last = p.process;
        }
        req += 3;
        ans += 1 + p.length;
      }
      expect(req).toBeLessThanOrEqual(64);
      expect(ans).toBeLessThanOrEqual(64);
    }
    expect(chunks.length).toBeGreaterThan(1);
  });

  it('puts the Bright display adapter poll (8 parameters) in one request', () => {
    const poll = ['measure', 'setpoint', 'analogInput', 'alarmInfo', 'valveOutput', 'counterValue', 'temperature', 'fMeasure'].map((k) => resolveParam(k));
    expect(packReads(poll, 64, 64)).toHaveLength(1);
  });
});

describe('parameter client on the simulator', () => {
  it('falls back to single reads when a chained read answers a status error, so the others still get values', async () => {
    const { client, records } = await setup({ instruments: [{ node: 3, missing: { params: [[33, 7]] } }] });
    const [flow, temperature, fluid] = await client.read(3, [resolveParam('fMeasure'), resolveParam('temperature'), resolveParam('fluidName')]);
    expect(flow?.ok).toBe(true);
    expect(fluid?.ok && fluid.reading.value).toBe('EtOH 15mba');
    expect(temperature?.ok).toBe(false);
    const err = temperature && !temperature.ok ? (temperature.error as BusError) : undefined;
    expect(err?.code).toBe('BUS_STATUS');
    expect(err?.failure).toMatchObject({ kind: 'status', status: 4 });
    // One chained attempt that failed, then one single read per parameter.
    expect(records[0]?.outcome).toBe('status');
    expect(records.slice(1).map((r) => r.outcome).sort()).toEqual(['ok', 'ok', 'status']);
  });

  it('identical concurrent reads share one transaction', async () => {
    const { client, records } = await setup();
    const param = resolveParam('fluidName');
    const results = await Promise.all(Array.from({ length: 100 }, () => client.read(3, [param])));
    expect(results.every(([r]) => r?.ok && r.reading.value === 'EtOH 15mba')).toBe(true);
    expect(records).toHaveLength(1);
  });

  it('a maxAge read takes the cached value only while it is young enough', async () => {
    const { client, records } = await setup();
    const param = resolveParam('capacity');
    await client.read(3, [param]);
    const [cached] = await client.read(3, [param], { maxAge: 10_000 });
    expect(cached?.ok && cached.reading.cached).toBe(true);
    expect(records).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 30));
    const [fresh] = await client.read(3, [param], { maxAge: 10 });
    expect(fresh?.ok && fresh.reading.cached).toBe(false);
    expect(records).toHaveLength(2);
  });

  it('refuses to read a write-only parameter without touching the bus', async () => {
    const { client, records } = await setup();
    const [r] = await client.read(3, [resolveParam('reset')]);
    expect(r?.ok).toBe(false);
    expect(r && !r.ok && r.error.code).toBe('PARAM_WRITE_ONLY');
    expect(records).toHaveLength(0);
  });
});
