/** Master mode's events, each with its payload, on the in-process simulator; and a listener that throws changes nothing. */
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import {
  GatewayEvents,
  MasterGateway,
  MemorySink,
  type GatewayEventMap,
  type GatewayEventName,
  type LoggedTransaction,
  type MasterOptionsInput,
} from '../../src/gateway/index.js';
import type { Logger } from '../../src/shared/index.js';
import { recordingLogger, type Line } from '../helpers/logger.js';


const NAMES: GatewayEventName[] = ['transaction', 'values', 'instrument', 'bus', 'store', 'bridge', 'write'];

type Seen = { [K in GatewayEventName]: GatewayEventMap[K][] };

const running: { gw: MasterGateway; sim: Simulator }[] = [];

afterEach(async () => {
  for (const { gw, sim } of running.splice(0)) {
    await gw.close();
    await sim.close();
  }
});

async function until<T>(fn: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A gateway on its own simulator; every event recorded from before start. */
async function start(nodes: number[], extra: Partial<MasterOptionsInput> = {}, opts: { throwing?: boolean; logger?: Logger } = {}) {
  const sim = createSimulator({ nodes });
  const links: Duplex[] = [];
  const events = new GatewayEvents(opts.logger);
  const seen = Object.fromEntries(NAMES.map((n) => [n, []])) as unknown as Seen;
  for (const name of NAMES) {
    events.on(name, (e) => void (seen[name] as unknown[]).push(e), { name: `record-${name}` });
    if (opts.throwing) {
      events.on(
        name,
        () => {
          throw new Error(`listener of ${name} broke`);
        },
        { name: `throwing-${name}` },
      );
    }
  }
  const sink = new MemorySink(100_000);
  const gw = new MasterGateway(
    {
      buses: [{ name: 'main', port: 'sim://', bus: { replyTimeoutMs: 200 } }],
      poll: { parameters: ['fMeasure', 'fSetpoint'], intervalMs: 100 },
      reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
      ...extra,
    },
    {
      simulator: () => {
        const link = sim.connect();
        links.push(link);
        return link;
      },
      sink,
      events,
      ...(opts.logger ? { logger: opts.logger } : {}),
    },
  );
  running.push({ gw, sim });
  await gw.start();
  await gw.discover();
  return { gw, sim, sink, events, seen, links };
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('master mode events', () => {
  it('instrument: found once by discovery, online once (not per poll); values after each poll with their own times', async () => {
    const t0 = Date.now();
    const { gw, events, seen } = await start([3, 5]);
    await until(() => seen.values.filter((v) => v.instrument === 'main:5').length >= 5);
    await events.settled();
    const found = seen.instrument.filter((e) => e.kind === 'found');
    expect(found.map((e) => [e.instrument, e.bus, e.node, e.online])).toEqual([
      ['main:3', 'main', 3, false],
      ['main:5', 'main', 5, false],
    ]);
    const online = seen.instrument.filter((e) => e.kind === 'online');
    expect(online.map((e) => e.instrument).sort()).toEqual(['main:3', 'main:5']);
    expect(online.every((e) => e.online)).toBe(true);
    expect(seen.instrument.filter((e) => e.kind === 'offline')).toEqual([]);

    const polls = seen.values.filter((v) => v.instrument === 'main:3');
    expect(polls.every((v) => v.source === 'poll' && v.bus === 'main' && v.node === 3)).toBe(true);
    for (const p of polls) {
      expect(p.values.map((v) => v.key)).toEqual(['fMeasure', 'fSetpoint']);
      for (const v of p.values) {
        expect(v.time).toMatch(ISO);
        expect(Date.parse(v.time)).toBeGreaterThanOrEqual(t0);
        expect(v.cached).toBe(false);
        expect(typeof v.value).toBe('number');
      }
    }
    // Each poll's values carry that poll's time: later polls, later times.
    const times = polls.map((p) => Date.parse(p.values[0]!.time));
    expect(new Set(times).size).toBe(times.length);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // The view shows the latest poll; by then the identity (the capacity unit) is known.
    const last = seen.values.filter((v) => v.instrument === 'main:3').at(-1)!;
    expect(last.values.map((v) => v.unit)).toEqual(['mg/min', 'mg/min']);
    expect(gw.instrument('3').values.fMeasure!.time >= last.values[0]!.time).toBe(true);
  });

  it('values: a client read says "read" with what it returned; a read served from the cache says nothing', async () => {
    const { gw, events, seen } = await start([3], { poll: { parameters: [], intervalMs: 1000 } });
    const r = await gw.readParams('3', ['fMeasure', 'capacity'], {});
    await events.settled();
    const reads = seen.values.filter((v) => v.source === 'read');
    expect(reads).toEqual([{ instrument: 'main:3', bus: 'main', node: 3, source: 'read', values: r.values }]);
    const cached = await gw.readParams('3', ['fMeasure'], { maxAge: 60_000 });
    expect(cached.values[0]).toMatchObject({ cached: true });
    await events.settled();
    expect(seen.values.filter((v) => v.source === 'read')).toHaveLength(1);
  });

  it('write: accepted with its transaction and read-back (and a read-back values event); refused with the code and message it answered', async () => {
    const { gw, events, seen } = await start([3], { poll: { parameters: [], intervalMs: 1000 } });
    const ok = await gw.writeParam('3', 'fSetpoint', 50, { source: '10.0.0.7:5000' });
    const refused = (await gw.writeParam('3', 'setpoint', 40000, { source: '10.0.0.7:5001' }).catch((e: unknown) => e)) as { code: string; message: string };
    const unknown = (await gw.writeParam('99', 'setpoint', 1, { source: 'mqtt' }).catch((e: unknown) => e)) as { code: string; message: string };
    await events.settled();
    expect(seen.write).toEqual([
      { instrument: 'main:3', param: 'fSetpoint', dde: 206, value: 50, source: '10.0.0.7:5000', result: 'accepted', transactionId: ok.transactionId, readBack: ok.readBack?.value },
      { instrument: 'main:3', param: 'setpoint', dde: 9, value: 40000, source: '10.0.0.7:5001', result: 'refused', code: 'PARAM_INVALID_VALUE', message: refused.message },
      { instrument: '99', param: 'setpoint', value: 1, source: 'mqtt', result: 'refused', code: 'GATEWAY_NODE_UNKNOWN', message: unknown.message },
    ]);
    expect(ok.readBack?.value).toBe(50);
    expect(seen.values.filter((v) => v.source === 'read-back')).toEqual([{ instrument: 'main:3', bus: 'main', node: 3, source: 'read-back', values: [ok.readBack] }]);
    // The accepted write's transaction is among the transaction events.
    expect(seen.transaction.some((t) => t.id === ok.transactionId && t.purpose === 'write' && t.outcome === 'ok')).toBe(true);
  });

  it('instrument identity: a fluidset write names fluidName, capacity and capacityUnit with what they were', async () => {
    const { gw, sim, events, seen } = await start([3], { poll: { parameters: [], intervalMs: 1000 } });
    const before = gw.instrument('3').identity;
    expect([before.fluidName, before.capacity, before.capacityUnit]).toEqual(['EtOH 15mba', 6817, 'mg/min']);
    // The other fluid is calibrated in another unit.
    sim.instruments.get(3)!.set('capacityUnit', 'ln/min');
    await gw.writeParam('3', 'fluidsetIndex', 4, { source: 'test' });
    await events.settled();
    const identity = seen.instrument.filter((e) => e.kind === 'identity');
    const last = identity.at(-1)!;
    expect(last).toMatchObject({ instrument: 'main:3', bus: 'main', node: 3, online: true });
    expect([...(last.changed ?? [])].sort()).toEqual(['capacity', 'capacityUnit', 'fluidName']);
    expect(last.previous).toEqual(before);
    expect(last.identity).toEqual({ ...before, fluidName: 'Ar', capacity: 140, capacityUnit: 'ln/min' });
    expect(gw.instrument('3').identity).toEqual(last.identity);
  });

  it('transaction: each as the sink gets it, the same objects in the same order', async () => {
    const { gw, sink, events, seen } = await start([3, 5]);
    await until(() => seen.values.length >= 6);
    await gw.readParams('5', ['capacity'], {});
    await events.settled();
    const logged = sink.list({ limit: 100_000 }).reverse();
    expect(seen.transaction.length).toBeGreaterThan(10);
    // Everything the sink had when the events settled, as events, in order (the sink may have got more meanwhile).
    expect(logged.slice(0, seen.transaction.length)).toEqual(seen.transaction);
    expect(new Set(seen.transaction.map((t) => t.purpose))).toEqual(new Set(['scan', 'poll', 'read']));
  });

  it('bus and instrument: a link that goes away and comes back gives state events, offline with the reason, and online again', async () => {
    const { gw, events, seen, links } = await start([3]);
    await until(() => seen.instrument.some((e) => e.kind === 'online'));
    await events.settled();
    const stateBefore = seen.bus.length;
    links.at(-1)!.destroy();
    await until(() => gw.buses()[0]!.transport.reconnects >= 1 && seen.instrument.filter((e) => e.kind === 'online').length >= 2, 10_000);
    await events.settled();
    const states = seen.bus.slice(stateBefore);
    expect(states.every((e) => e.bus === 'main' && e.kind === 'state')).toBe(true);
    const waiting = states.find((e) => e.state === 'waiting')!;
    expect(waiting).toMatchObject({ bus: 'main', kind: 'state', state: 'waiting', reconnects: 0 });
    expect(waiting.reason).toEqual(expect.any(String));
    expect(waiting.retryAt).toMatch(ISO);
    expect(states.at(-1)).toEqual({ bus: 'main', kind: 'state', state: 'open', reconnects: 1 });
    const transitions = seen.instrument.filter((e) => e.kind === 'online' || e.kind === 'offline').map((e) => e.kind);
    expect(transitions).toEqual(['online', 'offline', 'online']);
    const offline = seen.instrument.find((e) => e.kind === 'offline')!;
    expect(offline).toMatchObject({ instrument: 'main:3', online: false, reason: { code: 'BUS_UNAVAILABLE', message: `bus unavailable: ${waiting.reason}` } });
  });

  it('bus node-backoff: a configured node that never answers is backed off (said once) and offline (said once) with the reason', async () => {
    const { events, seen } = await start([3], { instruments: [{ node: 9 }], poll: { parameters: ['fMeasure'], intervalMs: 50 } });
    await until(() => seen.bus.some((e) => e.kind === 'node-backoff'), 5000);
    await new Promise((r) => setTimeout(r, 300));
    await events.settled();
    const backoff = seen.bus.filter((e) => e.kind === 'node-backoff');
    expect(backoff).toHaveLength(1);
    expect(backoff[0]).toEqual({ bus: 'main', kind: 'node-backoff', node: 9, until: expect.stringMatching(ISO) });
    expect(Date.parse(backoff[0]!.until!)).toBeGreaterThan(Date.now() - 1000);
    const nine = seen.instrument.filter((e) => e.instrument === 'main:9');
    expect(nine.map((e) => e.kind)).toEqual(['found', 'offline']);
    expect(nine[1]!.reason).toMatchObject({ code: 'BUS_ERROR_FRAME' });
  });

  it('a listener that throws on every event changes nothing: polls at the same rate, writes succeed, the sink gets every transaction, the error logged once', async () => {
    const lines: Line[] = [];
    const plain = await start([3, 5]);
    const broken = await start([3, 5], {}, { throwing: true, logger: recordingLogger(lines) });
    const t0 = Date.now();
    const polls = (seen: Seen) => seen.transaction.filter((t) => t.purpose === 'poll' && t.startedAt >= t0).length;
    await new Promise((r) => setTimeout(r, 1500));
    await Promise.all([plain.events.settled(), broken.events.settled()]);
    const [a, b] = [polls(plain.seen), polls(broken.seen)];
    expect(a).toBeGreaterThan(10);
    expect(b / a).toBeGreaterThan(0.75);
    expect(b / a).toBeLessThan(1.33);
    for (const run of [plain, broken]) {
      const w = await run.gw.writeParam('3', 'fSetpoint', 25, { source: 'test' });
      expect(w.readBack?.value).toBe(25);
      await run.gw.writeParam('3', 'setpoint', -1, { source: 'test' }).catch(() => undefined);
    }
    await broken.events.settled();
    // Every transaction reached the sink, and the recording listener on the same hub got each one.
    const logged = broken.sink.list({ limit: 100_000 }).reverse();
    const ids = (ts: readonly LoggedTransaction[]) => ts.map((t) => t.id);
    expect(ids(logged).slice(0, broken.seen.transaction.length)).toEqual(ids(broken.seen.transaction));
    expect(broken.seen.write.map((w) => w.result)).toEqual(['accepted', 'refused']);
    // Each throwing subscriber that got an event is logged once, with the total; the rest are counted.
    const errors = lines.filter((l) => l.level === 'error');
    const failing = broken.events.stats().filter((s) => s.name.startsWith('throwing-') && s.failed > 0);
    expect(failing.map((s) => s.event).sort()).toEqual(['bus', 'instrument', 'transaction', 'values', 'write']);
    expect(errors.map((l) => l.obj.subscriber).sort()).toEqual(failing.map((s) => s.name).sort());
    expect(errors.every((l) => l.obj.total === 1)).toBe(true);
    expect(failing.find((s) => s.event === 'transaction')!.failed).toBeGreaterThan(10);
    expect(broken.events.stats().filter((s) => s.name.startsWith('record-')).every((s) => s.failed === 0)).toBe(true);
  });
});
