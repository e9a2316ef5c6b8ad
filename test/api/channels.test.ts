/** Multi-channel instruments: each channel its own instrument (`main:5/2`), read and written per channel, on the in-process simulator. */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/index.js';
import { parseFilter } from '../../src/api/events.js';
import { decodeMessage as decode, requestParams } from '../../src/codec/index.js';
import { MasterGateway, MemorySink, parseInstrumentRef, type InstrumentView } from '../../src/gateway/index.js';
import { simulatorFactory } from '../../src/sim.js';
import type { GatewayError } from '../../src/shared/index.js';
import type { Simulator } from '../../simulator/index.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'correct-horse-battery';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const running: { gw: MasterGateway; app: FastifyInstance; sims: ReturnType<typeof simulatorFactory> }[] = [];

async function start() {
  const sims = simulatorFactory();
  const sink = new MemorySink(10_000);
  const gw = new MasterGateway(
    { buses: [{ name: 'main', port: 'sim://?nodes=3,5&channels=5:3', bus: { replyTimeoutMs: 200 } }], poll: { parameters: ['fMeasure', 'fSetpoint'], intervalMs: 100 } },
    { simulator: sims, sink },
  );
  await gw.start();
  await gw.discover();
  const app = await buildApp({ service: gw, token: TOKEN, logger: false, version: '9.9.9' });
  running.push({ gw, app, sims });
  const sim: Simulator = [...sims.simulators.values()][0]!;
  const five = sim.instruments.get(5)!;
  const channel = (n: number) => five.channel(n)!;
  const url = (id: string, rest: string) => `/api/v1/instruments/${encodeURIComponent(id)}${rest}`;
  const put = (id: string, rest: string, payload: unknown) => app.inject({ method: 'PUT', url: url(id, rest), payload: payload as object, headers: AUTH });
  const get = (id: string, rest = '') => app.inject(url(id, rest));
  return { gw, app, sim, sink, channel, put, get };
}

afterEach(async () => {
  for (const { gw, app, sims } of running.splice(0)) {
    await app.close();
    await gw.close();
    for (const s of sims.simulators.values()) await s.close();
  }
});

describe('instrument references with a channel', () => {
  it('parses bus:node/channel and node/channel; channel 1 is the instrument itself', () => {
    expect(parseInstrumentRef('main:5/2')).toEqual({ bus: 'main', node: 5, channel: 2 });
    expect(parseInstrumentRef('5/3')).toEqual({ node: 5, channel: 3 });
    expect(parseInstrumentRef('main:5/1')).toEqual({ bus: 'main', node: 5 });
    expect(parseInstrumentRef('main:5')).toEqual({ bus: 'main', node: 5 });
    for (const bad of ['main:5/0', 'main:5/17', '5/', '5/x', '/2']) {
      expect(() => parseInstrumentRef(bad), bad).toThrow(expect.objectContaining({ code: 'GATEWAY_BAD_NODE' }) as Error);
    }
  });

  it('the event stream filter tells channels apart', () => {
    const f = parseFilter(undefined, 'main:5/2');
    expect(f.instruments).toEqual([{ bus: 'main', node: 5, channel: 2 }]);
  });
});

describe('multi-channel instruments in master mode', () => {
  it('discovery lists each channel as its own instrument with its own fluid and capacity; serial and model are the instrument\'s', async () => {
    const { app } = await start();
    const res = await app.inject('/api/v1/instruments');
    expect(res.statusCode).toBe(200);
    const list = res.json<{ instruments: InstrumentView[] }>().instruments;
    expect(list.map((i) => i.id)).toEqual(['main:3', 'main:5', 'main:5/2', 'main:5/3']);
    const byId = new Map(list.map((i) => [i.id, i]));
    expect(byId.get('main:3')).not.toHaveProperty('channel');
    expect(byId.get('main:5')).toMatchObject({ node: 5, channel: 1, identity: { channels: 3, capacity: 6817, capacityUnit: 'mg/min', fluidName: 'EtOH 15mba' } });
    expect(byId.get('main:5/2')).toMatchObject({ node: 5, channel: 2, online: true, identity: { channels: 3, capacity: 140, capacityUnit: 'mln/min', fluidName: 'Ar' } });
    expect(byId.get('main:5/3')).toMatchObject({ node: 5, channel: 3, online: true, identity: { channels: 3, capacity: 100, capacityUnit: 'mln/min', fluidName: 'H2' } });
    const serial = byId.get('main:5')?.identity.serial;
    expect(serial).toBeDefined();
    expect(byId.get('main:5/2')?.identity.serial).toBe(serial);
    expect(byId.get('main:5/3')?.identity.model).toBe(byId.get('main:5')?.identity.model);
  });

  it('reading fMeasure of channel 2 reads process 33 + 1 and gets channel 2\'s value', async () => {
    const { sim, channel, get } = await start();
    channel(2).pin('fMeasure', 70);
    channel(1).pin('fMeasure', 3000);
    const processes: number[] = [];
    sim.on('transaction', (t) => {
      if (t.request.kind === 'data' && t.request.node === 5) processes.push(...requestParamsOf(t.request.data));
    });
    const res = await get('main:5/2', '/parameters/fMeasure');
    expect(res.statusCode).toBe(200);
    const v = res.json<{ value: number; unit: string; percent: number }>();
    expect(v.unit).toBe('mln/min');
    expect(v.value).toBe(70);
    expect(v.percent).toBe(50);
    expect(processes).toContain(34);
    expect(processes).not.toContain(33);
  });

  it('a setpoint written to channel 3 reaches channel 3 only, checked against channel 3\'s capacity', async () => {
    const { channel, put, gw } = await start();
    const writes: string[] = [];
    gw.events.on('write', (e) => {
      writes.push(e.instrument);
    });
    // 120 fits channel 2 (140 mln/min) and channel 1, but not channel 3 (100 mln/min).
    const refused = await put('main:5/3', '/parameters/fSetpoint', { value: 120 });
    expect(refused.statusCode).toBe(400);
    expect(refused.json<GatewayError>().message).toMatch(/100/);
    expect(channel(3).get('fSetpoint')).toBe(0);
    const ok = await put('main:5/3', '/parameters/fSetpoint', { value: 40 });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ instrument: 'main:5/3', readBack: { value: 40, unit: 'mln/min', percent: 40 } });
    expect(channel(3).get('fSetpoint')).toBe(40);
    expect(channel(2).get('fSetpoint')).toBe(0);
    expect(channel(1).get('fSetpoint')).toBe(0);
    // A percent is of the channel's own capacity.
    const pct = await put('main:5/2', '/parameters/fSetpoint', { value: 50, unit: '%' });
    expect(pct.statusCode).toBe(200);
    expect(channel(2).get('fSetpoint')).toBe(70);
    expect(channel(3).get('fSetpoint')).toBe(40);
    // Write events name the channel.
    await waitUntil(() => writes.includes('main:5/2'));
    expect(writes).toContain('main:5/3');
  });

  it('each channel is polled at its own process numbers; its values events name the channel', async () => {
    const { gw, channel, sink } = await start();
    const seen = new Set<string>();
    gw.events.on('values', (e) => {
      seen.add(e.instrument);
    });
    channel(2).set('fSetpoint', 35);
    channel(3).set('fSetpoint', 10);
    const two = await waitUntil(() => {
      const v = gw.instrument('main:5/2').values.fSetpoint;
      return v && v.value === 35 ? v : undefined;
    });
    expect(two.unit).toBe('mln/min');
    await waitUntil(() => gw.instrument('main:5/3').values.fSetpoint?.value === 10);
    // Channel 1 keeps its own setpoint (its poll may have timed out once on a loaded machine: wait for one).
    const one = await waitUntil(() => gw.instrument('main:5').values.fSetpoint);
    expect(one.value).toBe(0);
    await waitUntil(() => seen.has('main:5/2') && seen.has('main:5/3'));
    // Transactions are logged per node; the channel shows in the process number.
    const logged = sink.list({ node: 5 }).flatMap((t) => t.params.map((p) => p.process));
    expect(logged).toEqual(expect.arrayContaining([33, 34, 35]));
  });

  it('a snapshot of a channel has the channel\'s own values and the instrument\'s serial', async () => {
    const { get } = await start();
    const res = await get('main:5/2', '/snapshot');
    expect(res.statusCode).toBe(200);
    const snap = res.json<{ instrument: string; parameters: Record<string, { value: unknown }> }>();
    expect(snap.instrument).toBe('main:5/2');
    expect(snap.parameters.capacity?.value).toBe(140);
    expect(snap.parameters.fluidName?.value).toBe('Ar');
    expect(snap.parameters.serialNumber?.value).toBe((await get('main:5')).json<InstrumentView>().identity.serial);
  });

  it('a channel the instrument lacks is a 404 naming its channels; a channel outside 1..16 a 400', async () => {
    const { get } = await start();
    const four = await get('main:5/4', '/parameters/fMeasure');
    expect(four.statusCode).toBe(404);
    expect(four.json()).toMatchObject({ code: 'GATEWAY_NODE_UNKNOWN', details: { channels: 3, known: ['main:5', 'main:5/2', 'main:5/3'] } });
    expect(four.json<GatewayError>().message).toContain('main:5 has 3 channels');
    const single = await get('main:3/2');
    expect(single.statusCode).toBe(404);
    expect(single.json<GatewayError>().message).toContain('main:3 has one channel');
    const zero = await get('main:5/0');
    expect(zero.statusCode).toBe(400);
    expect(zero.json()).toMatchObject({ code: 'GATEWAY_BAD_NODE' });
    // Transactions are per node: a channel's reference filters by its node.
    const { app } = running[0]!;
    const tx = await app.inject('/api/v1/transactions?node=main:5/2&limit=50');
    expect(tx.statusCode).toBe(200);
    const nodes = tx.json<{ transactions: { node: number }[] }>().transactions.map((t) => t.node);
    expect(nodes.length).toBeGreaterThan(0);
    expect(new Set(nodes)).toEqual(new Set([5]));
    // Channel 1 is the instrument itself.
    const one = await get('main:5/1');
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: 'main:5' });
  });
});

/** The process numbers a request frame's DATA asks for (reads and writes). */
function requestParamsOf(data: Uint8Array): number[] {
  const out: number[] = [];
  try {
    const msg = decode(data);
    if (msg.kind === 'request') for (const p of requestParams(msg)) out.push(p.process);
    else if (msg.kind === 'sendWithStatus' || msg.kind === 'send') for (const b of msg.blocks) out.push(b.process);
  } catch {
    // Not a message this test looks at.
  }
  return out;
}
